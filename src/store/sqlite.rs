//! SQLite, the embedded default. Writers take the database lock up front
//! (`BEGIN IMMEDIATE`), which serializes every read-check-write transaction, so no
//! row lock is needed; WAL keeps readers running beside the one writer.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Sqlite, SqlitePool, Transaction};

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    const MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
    const LOCK_ORG: &'static str = "SELECT max_allowed_memberships FROM orgs WHERE id = $1";
    const LIKE: &'static str = "LIKE";
    /// `BEGIN IMMEDIATE` already serializes writers, so the role catalog needs no lock.
    const SHARE_ROLES: &'static str = "SELECT 1";
    const LOCK_ROLES: &'static str = "SELECT 1";

    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}

impl_sql_store!(SqliteStore, sqlx::SqliteConnection);
impl_invitation_store!(SqliteStore, sqlx::SqliteConnection);
impl_import_store!(SqliteStore, sqlx::SqliteConnection, "", "", 1);
