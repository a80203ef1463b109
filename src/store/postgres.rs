//! PostgreSQL, for production: several Polis replicas share one database, so every
//! invariant check locks the org row (`SELECT … FOR UPDATE`) for its transaction.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    const MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");
    const LOCK_ORG: &'static str =
        "SELECT max_allowed_memberships FROM orgs WHERE id = $1 FOR UPDATE";
    const LIKE: &'static str = "ILIKE";
    /// Role catalog lock (transaction-scoped advisory lock): shared by transactions that
    /// rely on a role, exclusive for role edits, so a permission check cannot pass on a
    /// role definition that a concurrent edit is changing.
    const SHARE_ROLES: &'static str = "SELECT pg_advisory_xact_lock_shared(7401)";
    const LOCK_ROLES: &'static str = "SELECT pg_advisory_xact_lock(7401)";

    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options: PgConnectOptions = url.parse()?;
        Self::connect_with(options).await
    }

    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// A store that connects on first use, for when the database may not be up yet.
    pub fn connect_lazy(url: &str) -> Result<Self, sqlx::Error> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options);
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

impl_sql_store!(PostgresStore, sqlx::PgConnection);
impl_invitation_store!(PostgresStore, sqlx::PgConnection);
// Import transactions commit without waiting for the WAL flush: the import is
// idempotent, so the few orgs a crash could lose come back with a re-run, and each
// org still commits whole or not at all.
impl_import_store!(
    PostgresStore,
    sqlx::PgConnection,
    " FOR UPDATE",
    "SET LOCAL synchronous_commit TO OFF",
    8
);
