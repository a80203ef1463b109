//! Groups memberships and invitations by org without holding them in memory.
//!
//! A Clerk export may list memberships in any order (per org when paged from the API,
//! instance-wide by date, or shuffled), but each org must be written with all of its
//! members in one transaction. So the first pass spills every membership and invitation
//! into a throw-away SQLite file, indexed by org; the second pass reads one org's rows
//! back at a time. Memory stays bounded by the largest org, not the document, and the
//! file is deleted when the run ends. (An in-memory grouping of a million compact
//! memberships would already take some 300 MB.)

use std::path::PathBuf;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::clerk::{ClerkInvitation, ClerkMembership};

/// One row to spill: the org it belongs to, its document position and its JSON.
pub struct SpillRow {
    pub org: String,
    pub seq: u64,
    pub body: String,
}

#[derive(Clone, Copy)]
pub enum Table {
    Memberships,
    Invitations,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Memberships => "memberships",
            Table::Invitations => "invitations",
        }
    }
}

pub struct Spill {
    pool: SqlitePool,
    path: PathBuf,
}

impl Spill {
    pub async fn create() -> anyhow::Result<Spill> {
        let path = std::env::temp_dir().join(format!("polis-import-{}.db", uuid::Uuid::new_v4()));
        // Scratch data: durability would only cost time.
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Off)
            .synchronous(SqliteSynchronous::Off);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let spill = Spill { pool, path };
        for table in ["memberships", "invitations"] {
            sqlx::query(&format!(
                "CREATE TABLE {table} (org TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL)"
            ))
            .execute(&spill.pool)
            .await?;
        }
        sqlx::query("CREATE TABLE orgs (id TEXT PRIMARY KEY)")
            .execute(&spill.pool)
            .await?;
        Ok(spill)
    }

    pub async fn insert(&self, table: Table, rows: &[SpillRow]) -> anyhow::Result<()> {
        for chunk in rows.chunks(300) {
            let sql = format!(
                "INSERT INTO {} (org, seq, body) VALUES {}",
                table.name(),
                values_placeholders(chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(&row.org)
                    .bind(i64::try_from(row.seq).unwrap_or(i64::MAX))
                    .bind(&row.body);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Indexes the spilled rows by org (cheaper once, after loading, than per insert)
    /// and records the document's org ids, to find rows of orgs it lacks.
    pub async fn finish_loading(&self, org_ids: &[String]) -> anyhow::Result<()> {
        for table in ["memberships", "invitations"] {
            sqlx::query(&format!("CREATE INDEX {table}_org ON {table} (org, seq)"))
                .execute(&self.pool)
                .await?;
        }
        let mut tx = self.pool.begin().await?;
        for id in org_ids {
            sqlx::query("INSERT OR IGNORE INTO orgs (id) VALUES ($1)")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn rows_of<T: DeserializeOwned>(
        &self,
        table: Table,
        org: &str,
    ) -> anyhow::Result<Vec<T>> {
        let sql = format!(
            "SELECT body FROM {} WHERE org = $1 ORDER BY seq",
            table.name()
        );
        let bodies: Vec<String> = sqlx::query_scalar(&sql)
            .bind(org)
            .fetch_all(&self.pool)
            .await?;
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).map_err(Into::into))
            .collect()
    }

    pub async fn memberships_of(&self, org: &str) -> anyhow::Result<Vec<ClerkMembership>> {
        self.rows_of(Table::Memberships, org).await
    }

    pub async fn invitations_of(&self, org: &str) -> anyhow::Result<Vec<ClerkInvitation>> {
        self.rows_of(Table::Invitations, org).await
    }

    /// `(table, Clerk id, org id)` of rows whose org is not in the document.
    pub async fn orphans(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for table in ["memberships", "invitations"] {
            let sql = format!(
                "SELECT org, body FROM {table} WHERE org NOT IN (SELECT id FROM orgs) ORDER BY seq"
            );
            let rows: Vec<(String, String)> = sqlx::query_as(&sql).fetch_all(&self.pool).await?;
            for (org, body) in rows {
                let id = serde_json::from_str::<serde_json::Value>(&body)?
                    .get("id")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned();
                out.push((id, org));
            }
        }
        Ok(out)
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// `($1, $2, $3), ($4, …)` for `rows` rows of three binds.
fn values_placeholders(rows: usize) -> String {
    (0..rows)
        .map(|r| format!("(${}, ${}, ${})", 3 * r + 1, 3 * r + 2, 3 * r + 3))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
