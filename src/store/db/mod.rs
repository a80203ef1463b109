//! The one place that talks to the two sqlx drivers. Store code is written once, as
//! plain functions over [`Conn`] and [`query`]; this module turns each call into the
//! PostgreSQL or SQLite driver's own query. Both databases accept the same statements
//! (`$n` placeholders, `RETURNING`, `ON CONFLICT`); where they differ in behaviour, the
//! backend's [`Dialect`] says how.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::{Database, Encode, FromRow, PgPool, Postgres, Sqlite, SqlitePool, Transaction, Type};
use uuid::Uuid;

use super::catalog::CatalogCache;

mod args;

pub(crate) use args::Arg;

/// What differs between the backends, as data: each backend module holds one.
#[derive(Debug)]
pub(crate) struct Dialect {
    /// Starts a transaction that will check an invariant and write. PostgreSQL: `BEGIN`
    /// and, in the same round trip, the role catalog lock in shared mode, so the roles the
    /// write relies on cannot change under it (rows are then locked one by one). SQLite:
    /// `BEGIN IMMEDIATE`, which takes the database's one write lock up front, so that no
    /// two writers interleave.
    pub begin_write: &'static str,
    /// Appended to a `SELECT` whose rows must stay locked until commit (`FOR UPDATE`);
    /// empty where the write transaction already excludes other writers.
    pub lock_rows: &'static str,
    /// Appended to a `SELECT` whose rows must not change or go until commit, while
    /// others may read and share-lock them too (`FOR SHARE`).
    pub share_rows: &'static str,
    /// Case-insensitive `LIKE`.
    pub like: &'static str,
    /// Starts a role edit: like `begin_write`, holding the role catalog lock exclusively,
    /// so no write relying on a role's permissions runs beside it.
    pub begin_catalog_write: &'static str,
    /// Whether `WITH … AS (INSERT …) INSERT …` works (PostgreSQL), so an event and its
    /// deliveries are written in one statement.
    pub writable_ctes: bool,
    /// Run first in every import transaction (e.g. commit without waiting for the WAL
    /// flush: the import is idempotent, so a re-run restores what a crash lost).
    pub import_setup: Option<&'static str>,
    /// How many import batches may usefully run at once.
    pub import_parallelism: usize,
    /// Appended to the query choosing webhook deliveries to claim: rows another
    /// replica is claiming are skipped, not waited for (`FOR UPDATE … SKIP LOCKED`).
    /// Empty where one statement already runs alone.
    pub skip_locked: &'static str,
}

/// A connection pool of either backend, with its dialect.
pub(crate) struct Db {
    pool: Pool,
    dialect: &'static Dialect,
    catalog: Arc<CatalogCache>,
    /// Tasks waiting for a connection right now (sqlx does not count them).
    waiting: AtomicU32,
}

/// Counts one waiting task while it lives.
struct Waiting<'a>(&'a AtomicU32);

impl<'a> Waiting<'a> {
    fn start(counter: &'a AtomicU32) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

enum Pool {
    Postgres(PgPool, &'static Migrator),
    Sqlite(SqlitePool, &'static Migrator),
}

impl Db {
    pub fn postgres(pool: PgPool, migrator: &'static Migrator, dialect: &'static Dialect) -> Db {
        Db {
            pool: Pool::Postgres(pool, migrator),
            dialect,
            catalog: Arc::default(),
            waiting: AtomicU32::new(0),
        }
    }

    pub fn sqlite(pool: SqlitePool, migrator: &'static Migrator, dialect: &'static Dialect) -> Db {
        Db {
            pool: Pool::Sqlite(pool, migrator),
            dialect,
            catalog: Arc::default(),
            waiting: AtomicU32::new(0),
        }
    }

    pub fn dialect(&self) -> &'static Dialect {
        self.dialect
    }

    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match &self.pool {
            Pool::Postgres(pool, migrator) => {
                // A migration may rightly take longer than POLIS_DB_STATEMENT_TIMEOUT_MS:
                // lift it for this session, and restore the configured value after.
                let mut conn = pool.acquire().await?;
                sqlx::query("SET statement_timeout = 0")
                    .execute(&mut *conn)
                    .await?;
                let result = migrator.run_direct(&mut *conn).await;
                sqlx::query("RESET statement_timeout")
                    .execute(&mut *conn)
                    .await?;
                result
            }
            Pool::Sqlite(pool, migrator) => migrator.run(pool).await,
        }
    }

    /// The pool's connections right now.
    pub fn status(&self) -> super::PoolStatus {
        let (size, idle, max) = match &self.pool {
            Pool::Postgres(pool, _) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
            Pool::Sqlite(pool, _) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
        super::PoolStatus {
            in_use: size - idle,
            idle,
            waiting: self.waiting.load(Ordering::Relaxed),
            max,
        }
    }

    /// Closes every connection, waiting for those in use to come back.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(pool, _) => pool.close().await,
            Pool::Sqlite(pool, _) => pool.close().await,
        }
    }

    /// A pooled connection for statements that need no transaction (one statement, or
    /// reads that may see different moments).
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let _waiting = Waiting::start(&self.waiting);
        let handle = match &self.pool {
            Pool::Postgres(pool, _) => Handle::PostgresPooled(pool.acquire().await?),
            Pool::Sqlite(pool, _) => Handle::SqlitePooled(pool.acquire().await?),
        };
        Ok(self.conn(handle))
    }

    /// A plain transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let _waiting = Waiting::start(&self.waiting);
        let handle = match &self.pool {
            Pool::Postgres(pool, _) => Handle::PostgresTx(pool.begin().await?),
            Pool::Sqlite(pool, _) => Handle::SqliteTx(pool.begin().await?),
        };
        Ok(Tx(self.conn(handle)))
    }

    /// A role edit's transaction (see [`Dialect::begin_catalog_write`]).
    pub async fn begin_catalog_write(&self) -> Result<Tx, sqlx::Error> {
        self.begin_with(self.dialect.begin_catalog_write).await
    }

    /// A transaction that checks an invariant and then writes (see
    /// [`Dialect::begin_write`]).
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        self.begin_with(self.dialect.begin_write).await
    }

    async fn begin_with(&self, begin: &'static str) -> Result<Tx, sqlx::Error> {
        let _waiting = Waiting::start(&self.waiting);
        let handle = match &self.pool {
            Pool::Postgres(pool, _) => Handle::PostgresTx(pool.begin_with(begin).await?),
            Pool::Sqlite(pool, _) => Handle::SqliteTx(pool.begin_with(begin).await?),
        };
        Ok(Tx(self.conn(handle)))
    }

    fn conn(&self, handle: Handle) -> Conn {
        Conn {
            handle,
            dialect: self.dialect,
            catalog: self.catalog.clone(),
        }
    }
}

/// One database connection, inside a transaction or not. Store helpers take
/// `&mut Conn`, so they run the same whether or not the caller opened a transaction.
pub(crate) struct Conn {
    handle: Handle,
    dialect: &'static Dialect,
    catalog: Arc<CatalogCache>,
}

enum Handle {
    PostgresPooled(PoolConnection<Postgres>),
    PostgresTx(Transaction<'static, Postgres>),
    SqlitePooled(PoolConnection<Sqlite>),
    SqliteTx(Transaction<'static, Sqlite>),
}

enum Driver<'c> {
    Postgres(&'c mut sqlx::PgConnection),
    Sqlite(&'c mut sqlx::SqliteConnection),
}

impl Conn {
    /// How this connection's database differs from the other.
    pub fn dialect(&self) -> &'static Dialect {
        self.dialect
    }

    /// The store's in-memory role catalog (see `catalog.rs`).
    pub fn catalog_cache(&self) -> &CatalogCache {
        &self.catalog
    }

    fn driver(&mut self) -> Driver<'_> {
        match &mut self.handle {
            Handle::PostgresPooled(conn) => Driver::Postgres(conn),
            Handle::PostgresTx(tx) => Driver::Postgres(tx),
            Handle::SqlitePooled(conn) => Driver::Sqlite(conn),
            Handle::SqliteTx(tx) => Driver::Sqlite(tx),
        }
    }
}

/// A transaction: a [`Conn`] that must be committed, or is rolled back when dropped.
pub(crate) struct Tx(Conn);

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.0.handle {
            Handle::PostgresTx(tx) => tx.commit().await,
            Handle::SqliteTx(tx) => tx.commit().await,
            Handle::PostgresPooled(_) | Handle::SqlitePooled(_) => Ok(()),
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.0.handle {
            Handle::PostgresTx(tx) => tx.rollback().await,
            Handle::SqliteTx(tx) => tx.rollback().await,
            Handle::PostgresPooled(_) | Handle::SqlitePooled(_) => Ok(()),
        }
    }
}

impl Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.0
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.0
    }
}

/// A row type both drivers can decode: `#[derive(sqlx::FromRow)]` gives both, and so
/// do tuples of column types.
pub(crate) trait Record:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

impl<T> Record for T where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

/// A statement and its arguments, run on a [`Conn`] like `sqlx::query` would be.
pub(crate) struct Query<'a> {
    sql: Cow<'a, str>,
    args: Vec<Arg<'a>>,
}

pub(crate) fn query<'a>(sql: impl Into<Cow<'a, str>>) -> Query<'a> {
    Query {
        sql: sql.into(),
        args: Vec::new(),
    }
}

impl<'a> Query<'a> {
    pub fn bind(mut self, value: impl Into<Arg<'a>>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Runs the statement; returns the number of rows it changed.
    pub async fn execute(self, conn: &mut Conn) -> Result<u64, sqlx::Error> {
        let Query { sql, args } = self;
        Ok(match conn.driver() {
            Driver::Postgres(c) => driver_query(&sql, args).execute(c).await?.rows_affected(),
            Driver::Sqlite(c) => driver_query(&sql, args).execute(c).await?.rows_affected(),
        })
    }

    pub async fn fetch_all<R: Record>(self, conn: &mut Conn) -> Result<Vec<R>, sqlx::Error> {
        let Query { sql, args } = self;
        match conn.driver() {
            Driver::Postgres(c) => decode(&driver_query(&sql, args).fetch_all(c).await?),
            Driver::Sqlite(c) => decode(&driver_query(&sql, args).fetch_all(c).await?),
        }
    }

    pub async fn fetch_optional<R: Record>(
        self,
        conn: &mut Conn,
    ) -> Result<Option<R>, sqlx::Error> {
        let Query { sql, args } = self;
        match conn.driver() {
            Driver::Postgres(c) => {
                decode_optional(driver_query(&sql, args).fetch_optional(c).await?)
            }
            Driver::Sqlite(c) => decode_optional(driver_query(&sql, args).fetch_optional(c).await?),
        }
    }

    pub async fn fetch_one<R: Record>(self, conn: &mut Conn) -> Result<R, sqlx::Error> {
        self.fetch_optional(conn)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// The first column of the one row the statement returns.
    pub async fn scalar<T>(self, conn: &mut Conn) -> Result<T, sqlx::Error>
    where
        (T,): Record,
    {
        Ok(self.fetch_one::<(T,)>(conn).await?.0)
    }

    /// The first column of the first row, if the statement returns any.
    pub async fn optional_scalar<T>(self, conn: &mut Conn) -> Result<Option<T>, sqlx::Error>
    where
        (T,): Record,
    {
        Ok(self.fetch_optional::<(T,)>(conn).await?.map(|row| row.0))
    }
}

/// The driver's own query with every argument bound. Written once for both drivers:
/// each bound here is one the drivers meet for every type Polis stores.
fn driver_query<'q, DB>(
    sql: &'q str,
    args: Vec<Arg<'q>>,
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    Option<Uuid>: Encode<'q, DB> + Type<DB>,
    Option<Cow<'q, str>>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    i32: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
    Json<Cow<'q, Value>>: Encode<'q, DB> + Type<DB>,
{
    args.into_iter()
        .fold(sqlx::query::<DB>(sql), |query, arg| match arg {
            Arg::Uuid(value) => query.bind(value),
            Arg::Text(value) => query.bind(value),
            Arg::BigInt(value) => query.bind(value),
            Arg::Int(value) => query.bind(value),
            Arg::Time(value) => query.bind(value),
            Arg::Json(value) => query.bind(value),
        })
}

fn decode<DbRow: sqlx::Row, R: for<'r> FromRow<'r, DbRow>>(
    rows: &[DbRow],
) -> Result<Vec<R>, sqlx::Error> {
    rows.iter().map(R::from_row).collect()
}

fn decode_optional<DbRow: sqlx::Row, R: for<'r> FromRow<'r, DbRow>>(
    row: Option<DbRow>,
) -> Result<Option<R>, sqlx::Error> {
    row.as_ref().map(R::from_row).transpose()
}
