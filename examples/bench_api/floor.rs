//! The raw-SQL floor of a workload: its committed pgbench script, run with prepared
//! statements at the same concurrency against the same database, in the same run.

use std::path::Path;

use std::process::Command;

use anyhow::Context;
use uuid::Uuid;

use crate::load::Plan;
use crate::workloads::FloorScript;

pub struct Floor {
    /// Script executions per second (one per API operation).
    pub tps: f64,
    pub latency_avg_ms: f64,
    pub failed: u64,
}

/// `pgbench -M prepared -c <connections> -j 2 -T <seconds> -n -f <script> -D me=<id>`.
/// pgbench takes whole seconds, so the window is rounded up.
pub async fn run(
    database_url: &str,
    script: &FloorScript,
    plan: Plan,
    me: Uuid,
    work_dir: &Path,
) -> anyhow::Result<Floor> {
    let path = work_dir.join(script.file);
    std::fs::write(&path, script.sql)?;
    let seconds = plan.measure.as_secs_f64().ceil().max(1.0) as u64;
    let mut command = Command::new("pgbench");
    command
        .args(["-M", "prepared", "-n", "-j", "2"])
        .args(["-c", &plan.connections.to_string()])
        .args(["-T", &seconds.to_string()])
        .arg("-f")
        .arg(&path)
        .args(["-D", &format!("me={me}")])
        .arg(database_url);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("running pgbench (Debian ships it with the PostgreSQL server package)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(
        output.status.success(),
        "pgbench {} failed: {}",
        script.file,
        stderr
            .lines()
            .find(|line| line.contains("ERROR"))
            .or_else(|| stderr.lines().last())
            .unwrap_or("(no output)")
    );
    parse(&stdout).with_context(|| format!("unexpected pgbench output:\n{stdout}"))
}

/// Reads pgbench's summary: `tps = N (without initial connection time)`,
/// `latency average = N ms`, `number of failed transactions: N (…)`.
fn parse(summary: &str) -> Option<Floor> {
    let value_after = |prefix: &str| {
        summary
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
    };
    Some(Floor {
        tps: value_after("tps = ")?.parse().ok()?,
        latency_avg_ms: value_after("latency average = ")?.parse().ok()?,
        failed: value_after("number of failed transactions: ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    })
}
