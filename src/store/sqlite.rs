//! SQLite, the embedded default. Writers take the database lock up front
//! (`BEGIN IMMEDIATE`), which serializes every read-check-write transaction, so no
//! row or catalog lock is needed; WAL keeps readers running beside the one writer.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use super::db::{Db, Dialect};
use super::{PoolSettings, SqlStore};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

static DIALECT: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    lock_rows: "",
    share_rows: "",
    like: "LIKE",
    writable_ctes: false,
    begin_catalog_write: "BEGIN IMMEDIATE",
    import_setup: None,
    // One writer at a time: parallel batches would only wait on each other.
    import_parallelism: 1,
    skip_locked: "",
};

impl SqlStore {
    pub async fn connect_sqlite(url: &str) -> Result<SqlStore, sqlx::Error> {
        let settings = PoolSettings {
            acquire_timeout: Duration::from_secs(10),
            ..PoolSettings::default()
        };
        Self::connect_sqlite_pooled(url, &settings).await
    }

    /// Connects with the pool bounded by `settings`. SQLite has no statement timeout:
    /// a writer waits for the database lock up to the busy timeout (10 s), then the
    /// request gets 503 `database_unavailable`.
    pub async fn connect_sqlite_pooled(
        url: &str,
        settings: &PoolSettings,
    ) -> Result<SqlStore, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.unwrap_or(8))
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(SqlStore::over(Db::sqlite(pool, &MIGRATOR, &DIALECT)))
    }
}
