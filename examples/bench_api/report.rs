//! The printed result: one Markdown table (pasteable into the README), then the
//! session-vs-API-key ratio, the SQLite lines and the conditions of the run. Targets
//! are printed as met or missed, never enforced: this is a benchmark, not a test.

use crate::floor::Floor;
use crate::load::Measured;
use crate::polis::LogVolume;
use crate::workloads::{Target, Workload, COMPARISONS};

pub struct Row {
    pub workload: &'static Workload,
    pub polis: Measured,
    /// `None` when the workload has no floor; `Err` says why pgbench failed.
    pub floor: Option<Result<Floor, String>>,
}

impl Row {
    fn floor_ratio(&self) -> Option<f64> {
        match &self.floor {
            Some(Ok(floor)) if floor.tps > 0.0 => Some(self.polis.rate() / floor.tps),
            _ => None,
        }
    }
}

pub struct SqliteRow {
    pub workload: &'static Workload,
    pub polis: Measured,
}

/// Conditions of the run, printed under the numbers.
pub struct Conditions {
    pub notes: Vec<String>,
}

pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2} ms")
    } else {
        format!("{value:.1} ms")
    }
}

fn describe(target: &Target) -> String {
    match target.max_p99_ms {
        Some(p99) => format!("≥ {}×, p99 ≤ {p99} ms", target.min_floor_ratio),
        None => format!("≥ {}×", target.min_floor_ratio),
    }
}

fn verdict(row: &Row) -> String {
    let Some(target) = row.workload.target else {
        return String::new();
    };
    let Some(ratio) = row.floor_ratio() else {
        return format!("{} (no floor)", describe(&target));
    };
    let mut missed = Vec::new();
    if ratio < target.min_floor_ratio {
        missed.push("ratio");
    }
    if target
        .max_p99_ms
        .is_some_and(|max| row.polis.p99_ms() > max)
    {
        missed.push("p99");
    }
    if missed.is_empty() {
        format!("{}: met", describe(&target))
    } else {
        format!("{}: missed ({})", describe(&target), missed.join(", "))
    }
}

fn cells(row: &Row) -> Vec<String> {
    let w = row.workload;
    let polis = &row.polis;
    let floor = match &row.floor {
        None => "—".to_owned(),
        Some(Ok(f)) => format!("{} tps ({} avg)", thousands(f.tps), ms(f.latency_avg_ms)),
        Some(Err(_)) => "failed".to_owned(),
    };
    vec![
        format!("{} {}", w.name, w.description),
        format!("{} {}", thousands(polis.rate()), w.unit),
        ms(polis.p50_ms()),
        ms(polis.p99_ms()),
        floor,
        row.floor_ratio()
            .map_or("—".to_owned(), |r| format!("{r:.2}×")),
        polis
            .round_trips()
            .map_or("—".to_owned(), |t| format!("{t:.1}")),
        cpu_per_request(polis),
        verdict(row),
    ]
}

fn cpu_per_request(measured: &Measured) -> String {
    measured
        .cpu_ms_per_request()
        .map_or("—".to_owned(), |cpu| format!("{cpu:.2} ms"))
}

fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, &width)| format!("{cell:<width$}"))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    line(widths.iter().map(|&w| "-".repeat(w)).collect());
    for row in rows {
        line(row.clone());
    }
}

pub fn print(rows: &[Row], sqlite: &[SqliteRow], conditions: &Conditions) {
    println!();
    print_table(
        &[
            "workload",
            "Polis",
            "p50",
            "p99",
            "floor (pgbench)",
            "Polis / floor",
            "round trips/request",
            "Polis CPU/request",
            "target",
        ],
        &rows.iter().map(cells).collect::<Vec<_>>(),
    );
    println!();
    print_problems(rows);
    print_comparisons(rows);
    print_sqlite(rows, sqlite);
    println!();
    for note in &conditions.notes {
        println!("{note}");
    }
}

/// Failed operations and floors, which make a row's figures suspect.
fn print_problems(rows: &[Row]) {
    for row in rows {
        if row.polis.errors > 0 {
            println!(
                "{}: {} of {} operations failed (not counted); first: {}",
                row.workload.name,
                row.polis.errors,
                row.polis.errors + row.polis.ops,
                row.polis.first_error.as_deref().unwrap_or("?")
            );
        }
        if let Some(Err(why)) = &row.floor {
            println!("{} floor: {why}", row.workload.name);
        }
        if let Some(Ok(floor)) = &row.floor {
            if floor.failed > 0 {
                println!(
                    "{} floor: {} failed transactions",
                    row.workload.name, floor.failed
                );
            }
        }
    }
}

fn find<'a>(rows: &'a [Row], name: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.workload.name == name)
}

fn print_comparisons(rows: &[Row]) {
    let find = |name: &str| find(rows, name);
    for comparison in COMPARISONS {
        if let (Some(num), Some(den)) = (find(comparison.numerator), find(comparison.denominator)) {
            let ratio = num.polis.rate() / den.polis.rate().max(f64::MIN_POSITIVE);
            let verdict = if ratio >= comparison.min_ratio {
                "met"
            } else {
                "missed"
            };
            println!(
                "{}: {} / {} {} = {ratio:.2}× (target ≥ {}×: {verdict})",
                comparison.label,
                thousands(num.polis.rate()),
                thousands(den.polis.rate()),
                num.workload.unit,
                comparison.min_ratio
            );
        }
    }
}

fn print_sqlite(rows: &[Row], sqlite: &[SqliteRow]) {
    let find = |name: &str| find(rows, name);
    for row in sqlite {
        let name = row.workload.name;
        let vs = find(name).map_or(String::new(), |pg| {
            format!(
                " = {:.2}× the PostgreSQL Polis ({} {})",
                row.polis.rate() / pg.polis.rate().max(f64::MIN_POSITIVE),
                thousands(pg.polis.rate()),
                row.workload.unit
            )
        });
        let errors = if row.polis.errors > 0 {
            format!(
                "; {} failed, first: {}",
                row.polis.errors,
                row.polis.first_error.as_deref().unwrap_or("?")
            )
        } else {
            String::new()
        };
        println!(
            "SQLite {name}: {} {}, p50 {}, p99 {}, Polis CPU/request {}{vs}{errors}",
            thousands(row.polis.rate()),
            row.workload.unit,
            ms(row.polis.p50_ms()),
            ms(row.polis.p99_ms()),
            cpu_per_request(&row.polis),
        );
    }
}

/// Workloads with failed operations, plus floors that failed: the benchmark itself
/// is broken then, whatever the speed.
pub fn failures(rows: &[Row], sqlite: &[SqliteRow]) -> usize {
    let floors = rows
        .iter()
        .filter(|r| {
            matches!(&r.floor, Some(Err(_))) || matches!(&r.floor, Some(Ok(f)) if f.failed > 0)
        })
        .count();
    let operations = rows
        .iter()
        .map(|r| &r.polis)
        .chain(sqlite.iter().map(|r| &r.polis))
        .filter(|m| m.errors > 0)
        .count();
    floors + operations
}

pub fn describe_log(backend: &str, volume: &LogVolume) -> String {
    format!(
        "{backend} Polis wrote {} log lines ({:.1} MB)",
        thousands(volume.lines as f64),
        volume.bytes as f64 / 1_048_576.0
    )
}
