//! PostgreSQL, for production: several Polis replicas share one database, so every
//! invariant check locks the rows it relies on (`SELECT … FOR UPDATE`) for its
//! transaction, and role edits take a catalog-wide advisory lock.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::db::{Db, Dialect};
use super::SqlStore;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

static DIALECT: Dialect = Dialect {
    begin_write: "BEGIN",
    lock_rows: " FOR UPDATE",
    share_rows: " FOR SHARE",
    like: "ILIKE",
    // A transaction-scoped advisory lock on the role catalog: shared by transactions
    // that rely on a role, exclusive for role edits.
    share_roles: Some("SELECT pg_advisory_xact_lock_shared(7401)"),
    lock_roles: Some("SELECT pg_advisory_xact_lock(7401)"),
    // The import is idempotent, so the few orgs a crash could lose come back with a
    // re-run; each org still commits whole or not at all.
    import_setup: Some("SET LOCAL synchronous_commit TO OFF"),
    import_parallelism: 8,
};

impl SqlStore {
    pub async fn connect_postgres(url: &str) -> Result<SqlStore, sqlx::Error> {
        Self::connect_postgres_with(url.parse()?).await
    }

    pub async fn connect_postgres_with(options: PgConnectOptions) -> Result<SqlStore, sqlx::Error> {
        let pool = pool_options().connect_with(options).await?;
        Ok(SqlStore::over(Db::postgres(pool, &MIGRATOR, &DIALECT)))
    }

    /// A store that connects on first use, for when the database may not be up yet.
    pub fn connect_postgres_lazy(url: &str) -> Result<SqlStore, sqlx::Error> {
        let pool = pool_options().connect_lazy_with(url.parse()?);
        Ok(SqlStore::over(Db::postgres(pool, &MIGRATOR, &DIALECT)))
    }
}

fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
}
