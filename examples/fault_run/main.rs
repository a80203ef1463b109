//! The fault run (issue 13): three `polis serve` processes on one PostgreSQL, writes
//! that contend for caps, last admins and invitations from several clients for a fixed
//! time, one process SIGKILLed and restarted, PostgreSQL restarted once; then every
//! invariant and every acknowledged write is checked in the database.
//!
//! ```text
//! scripts/fault-run.sh                 # builds, starts a private PostgreSQL, runs this
//! cargo run --example fault_run -- --database-url postgres://…/polis_faults \
//!     --pg-restart "pg_ctl -D … restart -m fast" --seconds 60
//! ```
//!
//! Needs a database of its own (it is migrated and filled here) and, for the restart, a
//! command that restarts that PostgreSQL: never point it at a shared server. Exits
//! non-zero when a check fails; prints the counts either way.

#[path = "../../tests/support/kratos_double.rs"]
mod kratos_double;
// Shared with bench_api, which uses parts this run does not.
#[allow(dead_code)]
#[path = "../bench_api/polis.rs"]
mod polis;

mod drive;
mod verify;
mod world;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::sync::RwLock;

use kratos_double::KratosDouble;
use polis::Polis;

#[derive(Debug, Parser)]
#[command(about = "Writes under faults against three Polis replicas, then checks")]
struct Args {
    /// The run's own database (migrated and filled here).
    #[arg(long, env = "FAULT_DATABASE_URL")]
    database_url: String,
    /// A shell command that restarts the run's PostgreSQL; without it, no restart.
    #[arg(long, env = "FAULT_PG_RESTART")]
    pg_restart: Option<String>,
    /// How long the writers run.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    /// Where the replicas' logs go.
    #[arg(long, default_value = "target/fault-run")]
    logs: std::path::PathBuf,
}

/// The replicas' base URLs, which the clients take in turn; a restarted replica gets a
/// new one.
pub type Replicas = Arc<RwLock<Vec<String>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.logs)?;
    let binary = polis::binary()?;
    let kratos = KratosDouble::start().await;
    let mut processes = Vec::new();
    for i in 0..args.replicas {
        let log = args.logs.join(format!("polis-{i}.log"));
        processes
            .push(Polis::start(&binary, &args.database_url, &kratos, Some("warn"), log).await?);
    }
    let urls: Vec<String> = processes.iter().map(|p| p.base_url.clone()).collect();
    let admin_key = processes[0].admin_key.clone();
    let world = world::build(&kratos, &urls[0], &admin_key).await?;
    println!(
        "fault-run: {} replicas, {} identities, {} capped orgs, {} two-admin orgs, {} s of writes",
        args.replicas,
        world.people.len(),
        world.capped.len(),
        world.two_admins.len(),
        args.seconds
    );
    let replicas: Replicas = Arc::new(RwLock::new(urls));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let writers = drive::start(world, replicas.clone(), admin_key, (started, deadline));
    let faults = inject_faults(&args, &binary, &kratos, &mut processes, &replicas, started).await?;
    let ledger = writers.finish().await;
    let report = verify::check(&args.database_url, &ledger, &faults).await?;
    kratos.shutdown().await;
    report.print();
    anyhow::ensure!(
        report.passed(),
        "the fault run found broken invariants (above)"
    );
    Ok(())
}

/// When PostgreSQL was down (from the restart command's start to its end plus the
/// replicas' reconnection), the only window in which 503s are expected.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub killed_at: Option<Duration>,
    pub restarted_at: Option<Duration>,
    pub pg_down: Option<(Duration, Duration)>,
}

/// A third of the way in, SIGKILL replica 1 and restart it 5 s later; half-way, restart
/// PostgreSQL.
async fn inject_faults(
    args: &Args,
    binary: &std::path::Path,
    kratos: &KratosDouble,
    processes: &mut [Polis],
    replicas: &Replicas,
    started: Instant,
) -> anyhow::Result<Faults> {
    let mut faults = Faults::default();
    let total = Duration::from_secs(args.seconds);
    let victim = 1.min(processes.len() - 1);
    tokio::time::sleep_until((started + total / 3).into()).await;
    processes[victim].kill()?;
    faults.killed_at = Some(started.elapsed());
    println!(
        "fault-run: replica {victim} SIGKILLed at {:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let log = args.logs.join(format!("polis-{victim}-restarted.log"));
    let restarted = Polis::start(binary, &args.database_url, kratos, Some("warn"), log).await?;
    replicas.write().await[victim] = restarted.base_url.clone();
    processes[victim] = restarted;
    faults.restarted_at = Some(started.elapsed());
    println!(
        "fault-run: replica {victim} back at {:?}",
        started.elapsed()
    );
    if let Some(command) = &args.pg_restart {
        tokio::time::sleep_until((started + total / 2).into()).await;
        let down = started.elapsed();
        let status = tokio::process::Command::new("sh")
            .args(["-c", command])
            .status()
            .await?;
        anyhow::ensure!(status.success(), "the PostgreSQL restart command failed");
        // Connections broken by the restart fail for a moment after it, and requests that
        // were waiting for one answer late: give them 10 s.
        let up = started.elapsed() + Duration::from_secs(10);
        faults.pg_down = Some((down, up));
        println!("fault-run: PostgreSQL restarted between {down:?} and {up:?}");
    }
    Ok(faults)
}
