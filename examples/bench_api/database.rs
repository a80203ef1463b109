//! The PostgreSQL side: a fresh database per run, the ids the pgbench floors draw
//! from, and the transaction counter that gives round trips per request.

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use uuid::Uuid;

use crate::seed::Fixture;

/// A name safe to splice into SQL and file names.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "database name {name:?}: use lower-case letters, digits and _"
    );
    Ok(())
}

/// Drops and recreates `name` on the server; returns its URL.
pub async fn recreate(server: &str, name: &str) -> anyhow::Result<String> {
    check_name(name)?;
    let options: PgConnectOptions = server.parse().context("POLIS_BENCH_DATABASE_URL")?;
    let mut conn = options
        .connect()
        .await
        .with_context(|| format!("connecting to PostgreSQL at {server}"))?;
    // Two statements: neither may run inside the implicit transaction of a batch.
    for statement in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(&statement).execute(&mut conn).await?;
    }
    conn.close().await?;
    let mut url = url::Url::parse(server)?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Writes the seeded ids where pgbench scripts can draw them with `\set n random(…)`
/// and one primary-key lookup: `my_org` 1..=20, `org` 1..=200, `spare` 0.. (by
/// pgbench `:client_id`). Then refreshes statistics so Polis and pgbench plan alike.
pub async fn write_bench_ids(url: &str, fixture: &Fixture) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::raw_sql(
        "CREATE TABLE bench_ids (kind TEXT NOT NULL, n INTEGER NOT NULL, id UUID NOT NULL,
                                 PRIMARY KEY (kind, n))",
    )
    .execute(&mut conn)
    .await?;
    let numbered = |ids: &[Uuid], first: i32| -> Vec<(i32, Uuid)> {
        (first..).zip(ids.iter().copied()).collect()
    };
    for (kind, rows) in [
        ("my_org", numbered(&fixture.my_orgs, 1)),
        ("org", numbered(&fixture.orgs, 1)),
        ("spare", numbered(&fixture.spares, 0)),
    ] {
        let (ns, ids): (Vec<i32>, Vec<Uuid>) = rows.into_iter().unzip();
        sqlx::query(
            "INSERT INTO bench_ids (kind, n, id) SELECT $1, * FROM UNNEST($2::int[], $3::uuid[])",
        )
        .bind(kind)
        .bind(ns)
        .bind(ids)
        .execute(&mut conn)
        .await?;
    }
    sqlx::raw_sql("VACUUM ANALYZE").execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// A connection of its own for reading server-wide counters while load runs.
pub struct Monitor {
    conn: PgConnection,
}

impl Monitor {
    pub async fn connect(url: &str) -> anyhow::Result<Monitor> {
        Ok(Monitor {
            conn: PgConnection::connect(url).await?,
        })
    }

    /// Committed transactions in this database so far. Backends publish their counts
    /// about once a second while busy, so a delta is exact to within ~1 s of traffic
    /// at each end; read both ends while the load runs, the lags cancel.
    pub async fn xact_commit(&mut self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&mut self.conn)
        .await?)
    }

    pub async fn server_version(&mut self) -> anyhow::Result<String> {
        Ok(sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut self.conn)
            .await?)
    }
}
