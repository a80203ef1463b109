//! `polis import clerk` and `polis export clerk`: the CLI face of the import. The
//! report goes out org by org (`--report FILE`, JSON Lines) so a million memberships
//! never collect in memory; stdout gets the summary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::clerk_api::ClerkClient;
use super::report::{OrgReport, ReportSink};
use super::{kratos_client, ImportOptions, Progress};
use crate::config::Settings;

#[derive(Debug, Args)]
pub struct ClerkImportArgs {
    /// A Clerk export document; read as a stream.
    #[arg(
        long,
        required_unless_present = "from_api",
        conflicts_with = "from_api"
    )]
    pub file: Option<PathBuf>,
    /// Page Clerk's Backend API instead (needs CLERK_SECRET_KEY).
    #[arg(long)]
    pub from_api: bool,
    /// Report what would happen; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write each org's report to this file, one JSON object per line.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub clerk: ClerkApiArgs,
}

#[derive(Args)]
pub struct ClerkApiArgs {
    /// Clerk secret key (`sk_…`); never printed or logged.
    #[arg(long, env = "CLERK_SECRET_KEY", hide_env_values = true)]
    pub clerk_secret_key: Option<String>,
    #[arg(
        long,
        env = "CLERK_API_URL",
        default_value = "https://api.clerk.com/v1"
    )]
    pub clerk_api_url: url::Url,
}

/// Keeps the secret key out of any debug output.
impl std::fmt::Debug for ClerkApiArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClerkApiArgs")
            .field(
                "clerk_secret_key",
                &self.clerk_secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("clerk_api_url", &self.clerk_api_url.as_str())
            .finish()
    }
}

impl ClerkApiArgs {
    fn client(&self) -> anyhow::Result<ClerkClient> {
        let key = self
            .clerk_secret_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| anyhow::anyhow!("set CLERK_SECRET_KEY (or --clerk-secret-key)"))?;
        ClerkClient::new(&self.clerk_api_url, key)
    }
}

/// Writes each org's report as one JSON line, or drops it when no file was asked for
/// (the totals are kept either way).
struct LinesSink(Option<BufWriter<File>>);

impl ReportSink for LinesSink {
    fn org(&mut self, _seq: usize, report: OrgReport) {
        if let Some(out) = &mut self.0 {
            if let Ok(line) = serde_json::to_string(&report) {
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

pub async fn import_clerk(settings: &Settings, args: ClerkImportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let store = crate::cli::open_store(settings).await?;
    // From the API: save the pages to a scratch file, then import it like --file.
    let scratch = if args.from_api {
        let path = std::env::temp_dir().join(format!("polis-clerk-{}.json", uuid::Uuid::new_v4()));
        let out = BufWriter::new(File::create(&path)?);
        args.clerk
            .client()?
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
    };
    let summary = super::run(reader, store, kratos, options, &mut sink, &progress)
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
    args.client()?
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
