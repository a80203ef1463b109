//! `polis import clerk` and `polis export clerk`: the CLI face of the import. The
//! report goes out org by org (`--report FILE`, JSON Lines) so a million memberships
//! never collect in memory; stdout gets the summary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::clerk_api::ClerkClient;
use super::report::{OrgReport, ReportSink};
use super::{kratos_client, ImportOptions, Progress};
use crate::clock::{Clock, SystemClock};
use crate::config::{ClerkApiArgs, ClerkImportArgs, Settings};
use crate::store::Store;

fn clerk_client(args: &ClerkApiArgs) -> anyhow::Result<ClerkClient> {
    let key = args
        .clerk_secret_key
        .as_deref()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| anyhow::anyhow!("set CLERK_SECRET_KEY (or --clerk-secret-key)"))?;
    ClerkClient::new(&args.clerk_api_url, key)
}

/// Writes each org's report as one JSON line, or drops it when no file was asked for
/// (the totals are kept either way).
struct LinesSink(Option<BufWriter<File>>);

#[async_trait::async_trait]
impl ReportSink for LinesSink {
    async fn org(&mut self, _seq: usize, report: OrgReport) {
        if let Some(out) = &mut self.0 {
            if let Ok(line) = serde_json::to_string(&report) {
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

/// Imports into `store`, which the caller has opened and migrated.
pub async fn import_clerk(
    store: Arc<dyn Store>,
    settings: &Settings,
    args: ClerkImportArgs,
) -> anyhow::Result<()> {
    let started = Instant::now();
    // From the API: save the pages to a scratch file, then import it like --file.
    let scratch = if args.from_api {
        let path = std::env::temp_dir().join(format!("polis-clerk-{}.json", uuid::Uuid::new_v4()));
        let out = BufWriter::new(File::create(&path)?);
        clerk_client(&args.clerk)?
            .export(out, &|line| eprintln!("{line}"))
            .await?;
        Some(ScratchFile(path))
    } else {
        None
    };
    let path = match (&scratch, &args.file) {
        (Some(scratch), _) => scratch.0.clone(),
        (None, Some(file)) => file.clone(),
        (None, None) => anyhow::bail!("give --file or --from-api"),
    };
    let reader = File::open(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let report_file = args.report.as_ref().map(File::create).transpose()?;
    let mut sink = LinesSink(report_file.map(BufWriter::new));
    let kratos = kratos_client(settings)?;
    let progress = |p: Progress| {
        eprintln!(
            "polis: {}/{} orgs, {} memberships ({:.0}/s)",
            p.orgs_done,
            p.orgs_total,
            p.memberships_done,
            p.memberships_done as f64 / started.elapsed().as_secs_f64()
        );
    };
    let options = ImportOptions {
        dry_run: args.dry_run,
        now: SystemClock.now(),
        blocked_domains: settings.domains.block_list(),
    };
    let overrides = args.slug_overrides.into_iter().collect();
    let summary = super::run_with_overrides(
        reader, store, kratos, options, overrides, &mut sink, &progress,
    )
    .await
    .map_err(|e| anyhow::anyhow!("import failed: {e}"))?;
    if let Some(out) = &mut sink.0 {
        out.flush()?;
    }
    let memberships = summary.tally.summary.memberships;
    let total =
        memberships.created + memberships.updated + memberships.unchanged + memberships.skipped;
    let report = summary.into_report(Vec::new());
    println!("{}", serde_json::to_string_pretty(&report)?);
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "polis: {} {total} memberships in {elapsed:.1} s ({:.0}/s), peak RSS {} MB{}",
        if args.dry_run { "dry-ran" } else { "imported" },
        total as f64 / elapsed.max(1e-9),
        peak_rss_kb().map_or_else(|| "?".to_owned(), |kb| (kb / 1024).to_string()),
        if report.changed {
            ""
        } else {
            "; nothing changed"
        },
    );
    Ok(())
}

pub async fn export_clerk(args: ClerkApiArgs) -> anyhow::Result<()> {
    let out = BufWriter::new(std::io::stdout().lock());
    clerk_client(&args)?
        .export(out, &|line| eprintln!("{line}"))
        .await
}

/// Peak resident set size of this process (Linux `VmHWM`), in kB.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Deleted when the run ends, however it ends.
struct ScratchFile(PathBuf);

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
