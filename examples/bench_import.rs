//! Benchmark of the Clerk import: generates a synthetic Clerk export, seeds the Kratos
//! double with identities carrying `metadata_admin.legacy_clerk_id`, and runs
//! `polis import clerk --file` (the release binary, as a child process) into a fresh
//! PostgreSQL database. Prints memberships per second and the child's peak RSS, for
//! the full document and, as a baseline measured in the same run, for one ten times
//! smaller (the ratio shows whether throughput holds as the document grows). Then the
//! floor: the same orgs and memberships `COPY`ed straight into Polis's tables of another
//! fresh database (indexes and foreign keys in place, one transaction), and the import's
//! throughput as a share of it.
//!
//! ```text
//! cargo build --release --bin polis
//! cargo run --release --example bench_import -- --orgs 20000 --memberships 1000000 --identities 100000
//! ```
//!
//! Not part of `cargo test`: examples are only built there, never run.

#[path = "../tests/support/kratos_double.rs"]
mod kratos_double;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use kratos_double::{IdentitySeed, KratosDouble};
use serde_json::json;
use sqlx::{ConnectOptions, Connection};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value_t = 20_000)]
    orgs: usize,
    #[arg(long, default_value_t = 1_000_000)]
    memberships: usize,
    #[arg(long, default_value_t = 100_000)]
    identities: usize,
    /// A PostgreSQL server; a fresh database is created on it for each run.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    server: String,
}

const T0: i64 = 1_716_883_200_000;

/// Writes a Clerk export: memberships interleaved across orgs (member k of every org,
/// then member k+1…), the order least kind to an importer that groups by org.
fn generate(
    path: &Path,
    orgs: usize,
    memberships: usize,
    identities: usize,
) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    write!(out, "{{\"organizations\":[")?;
    for o in 0..orgs {
        let sep = if o == 0 { "" } else { "," };
        let org = json!({"object": "organization", "id": format!("org_{o}"), "name": format!("Org {o}"),
            "slug": format!("org-{o}"), "image_url": null, "has_image": false, "members_count": memberships / orgs,
            "max_allowed_memberships": 0, "admin_delete_enabled": true,
            "public_metadata": {"plan": "pro"}, "private_metadata": {"crm_id": format!("C{o}")},
            "created_by": "user_0", "created_at": T0, "updated_at": T0});
        write!(out, "{sep}{org}")?;
    }
    write!(out, "],\"memberships\":[")?;
    let per_org = memberships.div_ceil(orgs);
    let mut written = 0;
    'outer: for k in 0..per_org {
        for o in 0..orgs {
            if written == memberships {
                break 'outer;
            }
            let user = (o * per_org + k) % identities;
            let sep = if written == 0 { "" } else { "," };
            let role = if k == 0 { "org:admin" } else { "org:member" };
            let m = json!({"object": "organization_membership", "id": format!("orgmem_{o}_{k}"),
                "role": role, "role_name": "Member", "permissions": [],
                "public_metadata": {}, "private_metadata": {},
                "organization": {"object": "organization", "id": format!("org_{o}"), "name": format!("Org {o}"),
                    "slug": format!("org-{o}"), "max_allowed_memberships": 0, "public_metadata": {},
                    "created_at": T0, "updated_at": T0},
                "public_user_data": {"user_id": format!("user_{user}"), "first_name": "Bench",
                    "last_name": null, "image_url": "", "has_image": false,
                    "identifier": format!("user{user}@bench.test")},
                "created_at": T0, "updated_at": T0});
            write!(out, "{sep}{m}")?;
            written += 1;
        }
    }
    write!(out, "]}}")?;
    out.flush()
}

struct Measured {
    memberships: usize,
    seconds: f64,
    peak_rss_mb: String,
}

async fn fresh_database(server: &str) -> anyhow::Result<String> {
    let name = format!("polis_bench_{}", uuid::Uuid::new_v4().simple());
    let options: sqlx::postgres::PgConnectOptions = server.parse()?;
    let mut conn = options.connect().await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let mut url = url::Url::parse(server)?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Drops a database [`fresh_database`] made: a full run leaves gigabytes otherwise.
async fn drop_database(server: &str, database: &str) -> anyhow::Result<()> {
    let name = url::Url::parse(database)?
        .path()
        .trim_start_matches('/')
        .to_owned();
    let options: sqlx::postgres::PgConnectOptions = server.parse()?;
    let mut conn = options.connect().await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

fn run_import(
    polis: &Path,
    file: &Path,
    database: &str,
    kratos: &str,
    memberships: usize,
) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let output = Command::new(polis)
        .args(["import", "clerk", "--file"])
        .arg(file)
        .env("DATABASE_URL", database)
        .env("KRATOS_ADMIN_URL", kratos)
        .env("RUST_LOG", "warn")
        .output()?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        anyhow::bail!("polis import failed: {stderr}");
    }
    let peak_rss_mb = stderr
        .lines()
        .rev()
        .find_map(|l| l.split("peak RSS ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("?")
        .to_owned();
    Ok(Measured {
        memberships,
        seconds,
        peak_rss_mb,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let polis = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("polis"))
        .filter(|p| p.exists())
        .ok_or_else(|| {
            anyhow::anyhow!("build the binary first: cargo build --release --bin polis")
        })?;
    let kratos = KratosDouble::start().await;
    let seeding = Instant::now();
    for i in 0..args.identities {
        kratos.insert_identity(IdentitySeed {
            traits: json!({"email": format!("user{i}@bench.test")}),
            metadata_admin: Some(json!({"legacy_clerk_id": format!("user_{i}")})),
            ..IdentitySeed::default()
        });
    }
    eprintln!(
        "seeded {} identities in {:.1} s",
        args.identities,
        seeding.elapsed().as_secs_f64()
    );
    let dir = std::env::temp_dir();
    let mut results = Vec::new();
    for (label, scale) in [("baseline (1/10)", 10), ("full", 1)] {
        let (orgs, memberships) = (args.orgs / scale, args.memberships / scale);
        let file: PathBuf = dir.join(format!("clerk-export-{memberships}.json"));
        generate(&file, orgs.max(1), memberships, args.identities)?;
        let size_mb = std::fs::metadata(&file)?.len() / (1024 * 1024);
        let database = fresh_database(&args.server).await?;
        let first = run_import(&polis, &file, &database, &kratos.admin_url(), memberships)?;
        let again = run_import(&polis, &file, &database, &kratos.admin_url(), memberships)?;
        let _ = std::fs::remove_file(&file);
        drop_database(&args.server, &database).await?;
        for (run, m) in [("import", first), ("re-run (no changes)", again)] {
            let rate = m.memberships as f64 / m.seconds;
            println!(
                "{label:>16} {run:<20} {orgs:>6} orgs {:>8} memberships ({size_mb} MB): {:>6.1} s, {:>7.0} memberships/s, peak RSS {} MB",
                m.memberships, m.seconds, rate, m.peak_rss_mb
            );
            results.push(rate);
        }
    }
    if let [base, _, full, _] = results[..] {
        println!("throughput ratio full / baseline: {:.2}", full / base);
        let floor = copy_floor(&polis, &args).await?;
        println!(
            "{:>16} {:<20} {:>6} orgs {:>8} memberships: {:>6.1} s, {:>7.0} rows/s ({:.0} memberships/s)",
            "COPY floor", "one transaction", args.orgs, args.memberships, floor.seconds,
            floor.rows as f64 / floor.seconds, args.memberships as f64 / floor.seconds
        );
        println!(
            "import / COPY floor: {:.2} (memberships/s of the first full import over rows/s of the COPY)",
            full / (floor.rows as f64 / floor.seconds)
        );
    }
    Ok(())
}

struct Floor {
    rows: usize,
    seconds: f64,
}

/// The id the floor gives org `o`.
fn floor_org_id(o: usize) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | o as u128)
}

const FLOOR_AT: &str = "2024-05-28 08:00:00+00";

/// The orgs of [`generate`] as CSV lines.
fn org_lines(orgs: usize) -> impl Iterator<Item = String> {
    (0..orgs).map(|o| {
        format!(
            "{},Org {o},org-{o},\"{{\"\"plan\"\": \"\"pro\"\"}}\",\"{{\"\"crm_id\"\": \"\"C{o}\"\"}}\",0,{},org_{o},{FLOOR_AT},{FLOOR_AT}\n",
            floor_org_id(o),
            uuid::Uuid::from_u128(1)
        )
    })
}

/// The memberships of [`generate`] (same orgs, users and roles, same order) as CSV lines.
fn membership_lines(args: &Args) -> impl Iterator<Item = String> + '_ {
    let per_org = args.memberships.div_ceil(args.orgs);
    (0..per_org)
        .flat_map(move |k| (0..args.orgs).map(move |o| (k, o)))
        .take(args.memberships)
        .map(move |(k, o)| {
            let user = (o * per_org + k) % args.identities;
            let role = if k == 0 { "org:admin" } else { "org:member" };
            format!(
                "{},{},{role},{{}},{{}},{FLOOR_AT},{FLOOR_AT}\n",
                uuid::Uuid::from_u128(user as u128 + 1),
                floor_org_id(o)
            )
        })
}

/// Streams `lines` into one `COPY … FROM STDIN`, a megabyte at a time; returns the count.
async fn copy_lines(
    conn: &mut sqlx::PgConnection,
    statement: &str,
    lines: impl Iterator<Item = String>,
) -> anyhow::Result<usize> {
    let mut copy = conn.copy_in_raw(statement).await?;
    let (mut buf, mut count) = (String::new(), 0);
    for line in lines {
        buf.push_str(&line);
        count += 1;
        if buf.len() > 1 << 20 {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
        }
    }
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;
    Ok(count)
}

/// The same orgs and memberships as [`generate`] writes, `COPY`ed into Polis's own
/// tables in one transaction of a freshly migrated database: what writing these rows
/// costs at the least, with the indexes and foreign keys the import also pays for.
async fn copy_floor(polis: &Path, args: &Args) -> anyhow::Result<Floor> {
    let database = fresh_database(&args.server).await?;
    let migrated = Command::new(polis)
        .arg("migrate")
        .env("DATABASE_URL", &database)
        .env("RUST_LOG", "warn")
        .output()?;
    anyhow::ensure!(migrated.status.success(), "polis migrate failed");
    let mut conn = sqlx::PgConnection::connect(&database).await?;
    let started = Instant::now();
    let mut tx = conn.begin().await?;
    let orgs = copy_lines(
        &mut tx,
        "COPY orgs (id, name, slug, public_metadata, private_metadata, \
         max_allowed_memberships, created_by, clerk_id, created_at, updated_at) \
         FROM STDIN (FORMAT csv)",
        org_lines(args.orgs),
    )
    .await?;
    let memberships = copy_lines(
        &mut tx,
        "COPY org_membership (identity_id, org_id, role, public_metadata, private_metadata, \
         created_at, updated_at) FROM STDIN (FORMAT csv)",
        membership_lines(args),
    )
    .await?;
    tx.commit().await?;
    let seconds = started.elapsed().as_secs_f64();
    conn.close().await?;
    drop_database(&args.server, &database).await?;
    Ok(Floor {
        rows: orgs + memberships,
        seconds,
    })
}
