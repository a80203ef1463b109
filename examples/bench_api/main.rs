//! Benchmark of the API on the reference workload of `docs/design.md` §8, against its
//! raw-SQL floor measured in the same run (issue 10).
//!
//! ```text
//! cargo build --release --bin polis --example bench_api
//! cargo run --release --example bench_api                  # 2 s warm-up + 10 s per workload
//! cargo run --release --example bench_api -- --polis-log warn    # the cost of request logging
//! cargo run --release --example bench_api -- --only R3,W1 --no-sqlite
//! cargo run --example bench_api -- --quick --seed-via import      # CI: 1 s each, same data
//! ```
//!
//! What it does: recreates the PostgreSQL database `polis_bench` (`--database`) on
//! `POLIS_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432`), starts the
//! Kratos double in-process and `polis serve` (the binary next to this example, as a
//! separate process, logging to a file at its default level), seeds 1,000 identities,
//! 200 orgs × 50 members and a caller in 20 of them through the API, then for each
//! workload of `workloads.rs` drives 32 keep-alive connections through a warm-up and a
//! measured window, and runs its pgbench floor (`examples/bench/*.sql`) right after.
//! Then R1 and R3 again on an SQLite Polis. Prints a Markdown table and notes; never
//! fails on speed (`--fail-on-errors` fails on broken requests or floors).
//!
//! Other `POLIS_*` variables in the environment reach the Polis processes, so e.g.
//! `POLIS_SESSION_CACHE_TTL=0` measures without the session cache.

#[path = "../../tests/support/kratos_double.rs"]
mod kratos_double;

mod cpu;
mod database;
mod floor;
mod load;
mod polis;
mod report;
mod seed;
mod workloads;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use kratos_double::KratosDouble;
use load::Plan;
use polis::{LogVolume, Polis};
use report::{Conditions, Row, SqliteRow};
use seed::People;
use workloads::Workload;

#[derive(Debug, Parser)]
#[command(about = "Benchmark Polis's API against its raw-SQL floor")]
struct Args {
    /// PostgreSQL server; the benchmark database is dropped and recreated on it.
    #[arg(
        long,
        env = "POLIS_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    server: String,
    #[arg(long, default_value = "polis_bench")]
    database: String,
    /// Seconds each workload (and its floor) is measured.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of unmeasured load before each workload's window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// 1 s per workload after a 0.5 s warm-up, to keep the benchmark working (CI);
    /// the seeded data keeps its full shape.
    #[arg(long)]
    quick: bool,
    /// Concurrent connections of the load generator and of pgbench.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// RUST_LOG for the Polis processes (e.g. `warn`); unset: Polis's default level.
    #[arg(long)]
    polis_log: Option<String>,
    /// Only these workloads (comma-separated names, e.g. `R3,W1`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Skip the SQLite Polis.
    #[arg(long)]
    no_sqlite: bool,
    /// How the orgs and memberships are created through the API.
    #[arg(long, value_enum, default_value = "api")]
    seed_via: seed::SeedVia,
    /// Exit non-zero when a request answered an unexpected status or a floor failed
    /// (for CI; speed never fails the run).
    #[arg(long)]
    fail_on_errors: bool,
}

impl Args {
    fn plan(&self) -> Plan {
        let (warmup, measure) = if self.quick {
            (0.5, 1.0)
        } else {
            (self.warmup, self.seconds)
        };
        Plan {
            connections: self.connections,
            warmup: Duration::from_secs_f64(warmup),
            measure: Duration::from_secs_f64(measure),
        }
    }
}

/// Where Polis logs, pgbench scripts and the SQLite file go; kept after the run. Named
/// after the database, so runs that may run side by side (`--database`) do not share it.
fn work_dir(database: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("polis-bench-api-{database}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn machine() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<_> = load.split_whitespace().take(3).collect();
    format!(
        "{} ({cpu}, {cores} cores, load average {} at the start)",
        host.trim(),
        load.join(" ")
    )
}

struct PostgresRun {
    rows: Vec<Row>,
    log: LogVolume,
    server_version: String,
}

async fn run_postgres(
    args: &Args,
    binary: &Path,
    kratos: &KratosDouble,
    people: &People,
    workloads: &[&'static Workload],
    dir: &Path,
) -> anyhow::Result<PostgresRun> {
    let plan = args.plan();
    let url = database::recreate(&args.server, &args.database).await?;
    let polis = Polis::start(
        binary,
        &url,
        kratos,
        args.polis_log.as_deref(),
        dir.join("polis-postgres.log"),
    )
    .await?;
    let fixture = Arc::new(seed::seed(&polis, people, args.seed_via, args.connections).await?);
    database::write_bench_ids(&url, &fixture).await?;
    let mut monitor = database::Monitor::connect(&url).await?;
    let mut rows = Vec::new();
    for &workload in workloads {
        eprintln!("bench_api: PostgreSQL {} …", workload.name);
        let probes = load::Probes {
            polis_pid: polis.pid(),
            monitor: Some(&mut monitor),
        };
        let measured = load::run(polis.addr, workload, &fixture, plan, probes).await?;
        let floor = match &workload.floor {
            Some(script) => Some(
                floor::run(&url, script, plan, fixture.me, dir)
                    .await
                    .map_err(|err| format!("{err:#}")),
            ),
            None => None,
        };
        rows.push(Row {
            workload,
            polis: measured,
            floor,
        });
    }
    let server_version = monitor.server_version().await?;
    Ok(PostgresRun {
        rows,
        log: polis.stop()?,
        server_version,
    })
}

async fn run_sqlite(
    args: &Args,
    binary: &Path,
    kratos: &KratosDouble,
    people: &People,
    workloads: &[&'static Workload],
    dir: &Path,
) -> anyhow::Result<(Vec<SqliteRow>, LogVolume)> {
    let url = format!("sqlite://{}", dir.join("polis-bench.db").display());
    let polis = Polis::start(
        binary,
        &url,
        kratos,
        args.polis_log.as_deref(),
        dir.join("polis-sqlite.log"),
    )
    .await?;
    let fixture = Arc::new(seed::seed(&polis, people, args.seed_via, args.connections).await?);
    let mut rows = Vec::new();
    for &workload in workloads.iter().filter(|w| w.on_sqlite) {
        eprintln!("bench_api: SQLite {} …", workload.name);
        let probes = load::Probes {
            polis_pid: polis.pid(),
            monitor: None,
        };
        let measured = load::run(polis.addr, workload, &fixture, args.plan(), probes).await?;
        rows.push(SqliteRow {
            workload,
            polis: measured,
        });
    }
    Ok((rows, polis.stop()?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let workloads = workloads::selected(&args.only)?;
    let binary = polis::binary()?;
    let machine = machine();
    database::check_name(&args.database)?;
    let dir = work_dir(&args.database)?;
    let kratos = KratosDouble::start().await;
    let people = seed::identities(&kratos, args.connections)?;

    let postgres = run_postgres(&args, &binary, &kratos, &people, &workloads, &dir).await?;
    let (sqlite, sqlite_log) = if args.no_sqlite {
        (Vec::new(), None)
    } else {
        let (rows, log) = run_sqlite(&args, &binary, &kratos, &people, &workloads, &dir).await?;
        (rows, Some(log))
    };

    let conditions = conditions(&args, &binary, &machine, &dir, &postgres, sqlite_log);
    report::print(&postgres.rows, &sqlite, &conditions);
    kratos.shutdown().await;
    let broken = report::failures(&postgres.rows, &sqlite);
    if args.fail_on_errors && broken > 0 {
        anyhow::bail!("{broken} workloads or floors had failures (see above)");
    }
    Ok(())
}

/// The conditions printed under the numbers: what ran, how, where and when.
fn conditions(
    args: &Args,
    binary: &Path,
    machine: &str,
    dir: &Path,
    postgres: &PostgresRun,
    sqlite_log: Option<LogVolume>,
) -> Conditions {
    let plan = args.plan();
    let log_level = match &args.polis_log {
        Some(filter) => format!("RUST_LOG={filter}"),
        None => "RUST_LOG unset (Polis's default level)".to_owned(),
    };
    let mut logs = vec![report::describe_log("the PostgreSQL", &postgres.log)];
    if let Some(volume) = &sqlite_log {
        logs.push(report::describe_log("the SQLite", volume));
    }
    let mut notes = vec![
        format!(
            "Reference workload: {} identities, {} orgs × {} members, the caller in {} orgs (their admin), \
             seeded through the API ({}); {} connections; {:.1} s warm-up then {:.1} s measured per workload; \
             floors: pgbench -M prepared -j 2 -T {}.",
            report::thousands(seed::IDENTITIES as f64),
            seed::ORGS,
            seed::MEMBERS_PER_ORG,
            seed::MY_ORGS,
            match args.seed_via {
                seed::SeedVia::Api => "one request per org and per member",
                seed::SeedVia::Import => "one Clerk import",
            },
            plan.connections,
            plan.warmup.as_secs_f64(),
            plan.measure.as_secs_f64(),
            plan.measure.as_secs_f64().ceil().max(1.0)
        ),
        "Rate limits: off (POLIS_RATE_LIMIT_READS/WRITES/ANONYMOUS=0): one caller's load would \
         otherwise be answered 429 past 100 reads/s."
            .to_owned(),
        format!(
            "Logging: {log_level}; {} (logs in {}).",
            logs.join(", "),
            dir.display()
        ),
        format!(
            "Machine: {machine}; PostgreSQL {}; polis {}; {}.",
            postgres.server_version,
            binary.display(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        ),
    ];
    if plan.measure < load::MIN_WINDOW_FOR_ROUND_TRIPS {
        notes.push(format!(
            "Round trips are not measured in windows under {} s.",
            load::MIN_WINDOW_FOR_ROUND_TRIPS.as_secs()
        ));
    }
    if cfg!(debug_assertions) {
        notes.push(
            "Debug build: these numbers only show the benchmark works; measure with --release."
                .to_owned(),
        );
    }
    Conditions { notes }
}
