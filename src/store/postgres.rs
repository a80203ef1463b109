//! PostgreSQL, for production: several Polis replicas share one database, so every
//! invariant check locks the rows it relies on (`SELECT … FOR UPDATE`) for its
//! transaction, and role edits take a catalog-wide advisory lock.

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::db::{Db, Dialect};
use super::{PoolSettings, SqlStore};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

static DIALECT: Dialect = Dialect {
    // One round trip: the simple query protocol takes both statements.
    begin_write: "BEGIN; SELECT pg_advisory_xact_lock_shared(7401)",
    lock_rows: " FOR UPDATE",
    share_rows: " FOR SHARE",
    like: "ILIKE",
    // The role catalog lock is a transaction-scoped advisory lock: shared by every
    // write (`begin_write`), exclusive for role edits.
    writable_ctes: true,
    begin_catalog_write: "BEGIN; SELECT pg_advisory_xact_lock(7401)",
    // The import is idempotent, so the few orgs a crash could lose come back with a
    // re-run; each org still commits whole or not at all.
    import_setup: Some("SET LOCAL synchronous_commit TO OFF"),
    import_parallelism: 8,
    skip_locked: " FOR UPDATE OF d SKIP LOCKED",
};

impl SqlStore {
    pub async fn connect_postgres(url: &str) -> Result<SqlStore, sqlx::Error> {
        Self::connect_postgres_with(url.parse()?).await
    }

    pub async fn connect_postgres_with(options: PgConnectOptions) -> Result<SqlStore, sqlx::Error> {
        Self::connect_postgres_pooled(options, &PoolSettings::default()).await
    }

    /// Connects with the pool bounded by `settings`. Connections that die (a PostgreSQL
    /// restart, `pg_terminate_backend`) are dropped and replaced by the pool; requests
    /// that held one get 503 `database_unavailable`.
    pub async fn connect_postgres_pooled(
        options: PgConnectOptions,
        settings: &PoolSettings,
    ) -> Result<SqlStore, sqlx::Error> {
        let pool = pool_options(settings)
            .connect_with(with_statement_timeout(options, settings))
            .await?;
        Ok(SqlStore::over(Db::postgres(pool, &MIGRATOR, &DIALECT)))
    }

    /// A store that connects on first use, for when the database may not be up yet.
    pub fn connect_postgres_lazy(url: &str) -> Result<SqlStore, sqlx::Error> {
        let pool = pool_options(&PoolSettings::default()).connect_lazy_with(url.parse()?);
        Ok(SqlStore::over(Db::postgres(pool, &MIGRATOR, &DIALECT)))
    }
}

/// Sixteen connections by default keep a two-core replica busy; PostgreSQL's default
/// `max_connections` (100) then fits six replicas. docs/scaling.md says how to size it.
fn pool_options(settings: &PoolSettings) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(settings.max_connections.unwrap_or(16))
        .acquire_timeout(settings.acquire_timeout)
}

/// Sent in the start-up packet, so it is each session's default and survives `RESET`.
fn with_statement_timeout(options: PgConnectOptions, settings: &PoolSettings) -> PgConnectOptions {
    match settings.statement_timeout {
        Some(timeout) => {
            options.options([("statement_timeout", timeout.as_millis().max(1).to_string())])
        }
        None => options,
    }
}
