//! Spawns Polis on port 0 against a fresh real database (an SQLite file in a
//! temporary directory, or a fresh schema in PostgreSQL) and a Kratos test double.

use std::sync::Arc;

use polis::config::Settings;
use polis::store::{PoolSettings, SqlStore, Store};
use polis::AppState;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use uuid::Uuid;

use crate::support::kratos_double::KratosDouble;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use; `.ci/run` sets it. There is no skip: when the
/// server is missing, PostgreSQL tests fail and say why.
pub fn postgres_url() -> String {
    std::env::var("POLIS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/polis_test".to_owned())
}

/// A database that lives as long as this value: a temp-dir SQLite file or a
/// PostgreSQL schema of its own.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub url: String,
    /// PostgreSQL: the schema, which is also the `application_name` of the store's
    /// connections (so a test can find them in `pg_stat_activity`).
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// A connection of the test's own to the store's database, beside Polis's pool: to
/// hold locks and make changes "from another replica" at a chosen moment.
pub enum RawConn {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// One row of the `events` outbox, as tests read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    #[sqlx(rename = "type")]
    pub kind: String,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub target_type: String,
    pub target_id: String,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub data: sqlx::types::Json<Value>,
}

impl RawConn {
    /// Every event recorded so far, oldest first.
    pub async fn events(&mut self) -> Vec<EventRow> {
        let sql = "SELECT type, actor_type, actor_id, target_type, target_id, request_id, \
                   client_ip, user_agent, data FROM events ORDER BY seq";
        match self {
            RawConn::Sqlite(conn) => sqlx::query_as(sql).fetch_all(&mut *conn).await,
            RawConn::Postgres(conn) => sqlx::query_as(sql).fetch_all(&mut *conn).await,
        }
        .expect("events")
    }

    /// How many rows `sql` (a `SELECT COUNT(*)`, with its one UUID argument or none) counts.
    pub async fn count(&mut self, sql: &str, arg: Option<Uuid>) -> i64 {
        match self {
            RawConn::Sqlite(conn) => {
                let query = sqlx::query_scalar(sql);
                let query = match arg {
                    Some(arg) => query.bind(arg),
                    None => query,
                };
                query.fetch_one(&mut *conn).await
            }
            RawConn::Postgres(conn) => {
                let query = sqlx::query_scalar(sql);
                let query = match arg {
                    Some(arg) => query.bind(arg),
                    None => query,
                };
                query.fetch_one(&mut *conn).await
            }
        }
        .expect(sql)
    }

    /// Runs statements, each given with its one UUID argument (or none).
    pub async fn run(&mut self, statements: &[(&str, Option<Uuid>)]) {
        for (sql, arg) in statements {
            match self {
                RawConn::Sqlite(conn) => {
                    let query = sqlx::query(sql);
                    let query = match arg {
                        Some(arg) => query.bind(*arg),
                        None => query,
                    };
                    query.execute(&mut *conn).await.expect(sql);
                }
                RawConn::Postgres(conn) => {
                    let query = sqlx::query(sql);
                    let query = match arg {
                        Some(arg) => query.bind(*arg),
                        None => query,
                    };
                    query.execute(&mut *conn).await.expect(sql);
                }
            }
        }
    }
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        Self::with_pool(backend, &PoolSettings::default()).await
    }

    /// A fresh database whose store's pool is bounded by `pool`.
    pub async fn with_pool(backend: Backend, pool: &PoolSettings) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("polis.db").display());
                let store = SqlStore::connect_sqlite_pooled(&url, pool)
                    .await
                    .expect("open SQLite");
                store.migrate().await.expect("migrate SQLite");
                TestDb {
                    store: Arc::new(store),
                    url,
                    schema: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let url = postgres_url();
                let schema = format!("t_{}", Uuid::new_v4().simple());
                let base: PgConnectOptions = url.parse().expect("POLIS_TEST_DATABASE_URL");
                ensure_database(&base).await;
                let mut admin = base.connect().await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at {url} is required for these tests: {e}")
                });
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut admin)
                    .await
                    .expect("create schema");
                let options = base
                    .options([("search_path", schema.as_str())])
                    .application_name(&schema);
                let store = SqlStore::connect_postgres_pooled(options, pool)
                    .await
                    .expect("connect PostgreSQL");
                store.migrate().await.expect("migrate PostgreSQL");
                TestDb {
                    store: Arc::new(store),
                    url,
                    schema: Some(schema),
                    _dir: None,
                }
            }
        }
    }
}

impl TestDb {
    /// `DATABASE_URL` for a `polis` process serving this same database.
    pub fn process_url(&self) -> String {
        match &self.schema {
            None => self.url.clone(),
            Some(schema) => {
                let mut url = url::Url::parse(&self.url).expect("PostgreSQL URL");
                url.query_pairs_mut()
                    .append_pair("options", &format!("-c search_path={schema}"));
                url.into()
            }
        }
    }

    /// A connection of the test's own (see [`RawConn`]).
    pub async fn raw(&self) -> RawConn {
        match &self.schema {
            None => {
                let options: sqlx::sqlite::SqliteConnectOptions =
                    self.url.parse().expect("SQLite URL");
                let options = options.busy_timeout(std::time::Duration::from_secs(10));
                RawConn::Sqlite(options.connect().await.expect("SQLite connection"))
            }
            Some(_) => {
                let options: PgConnectOptions = self.process_url().parse().expect("PostgreSQL URL");
                RawConn::Postgres(options.connect().await.expect("PostgreSQL connection"))
            }
        }
    }
}

/// Creates the test database when it does not exist yet (a fresh machine).
async fn ensure_database(base: &PgConnectOptions) {
    let Some(name) = base.get_database().map(str::to_owned) else {
        return;
    };
    if base.connect().await.is_ok() {
        return;
    }
    let mut server = base
        .clone()
        .database("postgres")
        .connect()
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for these tests: {e}"));
    // Parallel tests may race to create it; "already exists" is fine.
    let _ = sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut server)
        .await;
}

/// A Kratos identity with a live session.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub token: String,
    pub cookie: String,
    /// Verified in Kratos.
    pub email: String,
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    SessionToken(&'a str),
    Cookie(&'a str),
}

/// A clock tests move by hand, to expire invitations without waiting.
pub struct ManualClock(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

impl ManualClock {
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl polis::clock::Clock for ManualClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap()
    }
}

pub struct TestApp {
    pub base: String,
    /// The metrics listener (`/metrics/prometheus`).
    pub metrics_base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub kratos: KratosDouble,
    pub db: TestDb,
    pub admin_key: String,
    pub read_key: String,
    http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub const ALLOWED_ORIGIN: &str = "https://app.example.com";

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let kratos = KratosDouble::start().await;
        let mut settings = Settings::from_env();
        settings.kratos_public_url = kratos.public_url().parse().expect("url");
        settings.kratos_admin_url = kratos.admin_url().parse().expect("url");
        settings.kratos_timeout_ms = 1000;
        settings.cors_allowed_origins = vec![ALLOWED_ORIGIN.to_owned()];
        // Most tests exercise membership rules through identity callers adding by id;
        // the default (`api_keys`) is tested on its own in hardening.rs.
        settings.direct_add = polis::domain::DirectAdd::Managers;
        // Tests revoke keys and expect the next request refused; the cache is tested
        // on its own in auth.rs.
        settings.api_key_cache_ttl = 0;
        // Tests send bursts from one identity and one address; the rate-limit tests
        // set their own limits.
        settings.rate_limit_reads = 0;
        settings.rate_limit_writes = 0;
        settings.rate_limit_anonymous = 0;
        configure(&mut settings);
        let db = TestDb::with_pool(backend, &settings.pool()).await;
        settings.database_url = db.url.clone();
        let admin_key =
            create_key(&db.store, "test-admin", polis::domain::ApiKeyScope::Admin).await;
        let read_key = create_key(&db.store, "test-read", polis::domain::ApiKeyScope::Read).await;
        let clock = Arc::new(ManualClock(std::sync::Mutex::new(
            polis::clock::Clock::now(&polis::clock::SystemClock),
        )));
        let state = AppState::new(db.store.clone(), settings)
            .expect("state")
            .with_clock(clock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let metrics_base = format!("http://{}", metrics_listener.local_addr().expect("addr"));
        let lifecycle = state.lifecycle.clone();
        tokio::spawn(polis::serve_metrics(
            metrics_listener,
            state.metrics.clone(),
            async move { lifecycle.draining().await },
        ));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(polis::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        TestApp {
            base,
            metrics_base,
            state,
            clock,
            kratos,
            db,
            admin_key,
            read_key,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    /// A new Kratos identity named `name` with an active session.
    pub fn user(&self, name: &str) -> User {
        let email = format!(
            "{name}-{}@example.com",
            &Uuid::new_v4().simple().to_string()[..8]
        );
        let id = self.kratos.add_identity(serde_json::json!({
            "email": email,
            "first_name": name,
        }));
        let session = self.kratos.create_session(id);
        User {
            id,
            token: session.token,
            cookie: session.cookie,
            email,
        }
    }

    pub fn request(&self, method: Method, path: &str, auth: Auth<'_>) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::SessionToken(token) => request.header("X-Session-Token", token),
            Auth::Cookie(value) => request.header("Cookie", format!("ory_kratos_session={value}")),
        }
    }

    /// Sends a request as `user` (bearer session token) with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.request(method, path, auth);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from(request.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, auth: Auth<'_>) -> Reply {
        self.call(Method::GET, path, auth, None).await
    }

    pub async fn post(&self, path: &str, auth: Auth<'_>, body: Value) -> Reply {
        self.call(Method::POST, path, auth, Some(body)).await
    }

    pub async fn patch(&self, path: &str, auth: Auth<'_>, body: Value) -> Reply {
        self.call(Method::PATCH, path, auth, Some(body)).await
    }

    pub async fn delete(&self, path: &str, auth: Auth<'_>) -> Reply {
        self.call(Method::DELETE, path, auth, None).await
    }

    /// Creates an org as `user` and returns its JSON.
    pub async fn create_org(&self, user: &User, name: &str) -> Value {
        let reply = self
            .post(
                "/orgs",
                Auth::Bearer(&user.token),
                serde_json::json!({ "name": name }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// An org owned by `owner` with a membership cap, which only admin keys may set.
    pub async fn create_capped_org(&self, owner: &User, name: &str, cap: i32) -> String {
        let reply = self
            .post(
                "/orgs",
                Auth::Bearer(&self.admin_key),
                serde_json::json!({"name": name, "created_by": owner.id, "max_allowed_memberships": cap}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.str("id")
    }

    /// Adds `member` to `org` as `admin` with `role`.
    pub async fn add_member(&self, admin: &User, org: &str, member: &User, role: &str) {
        let reply = self
            .post(
                &format!("/orgs/{org}/members"),
                Auth::Bearer(&admin.token),
                serde_json::json!({ "identity_id": member.id, "role": role }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn create_key(
    store: &Arc<dyn Store>,
    name: &str,
    scope: polis::domain::ApiKeyScope,
) -> String {
    let key = polis::auth::api_keys::generate();
    store
        .create_api_key(polis::store::ApiKeyRecord {
            id: key.id,
            name: name.to_owned(),
            scope,
            secret_hash: key.secret_hash,
            created_at: chrono::Utc::now(),
            revoked_at: None,
        })
        .await
        .expect("create key");
    key.plaintext
}

/// A store write as an admin API key would make it now: store-level tests act as one,
/// since a key needs no membership in the org it changes.
pub fn as_admin() -> polis::store::Change<'static> {
    static ADMIN: std::sync::LazyLock<polis::domain::Caller> = std::sync::LazyLock::new(|| {
        polis::domain::Caller::ApiKey(polis::domain::caller::ApiKeyCaller {
            id: Uuid::nil(),
            name: "tests".into(),
            scope: polis::domain::ApiKeyScope::Admin,
        })
    });
    polis::store::Change::new(&ADMIN, polis::clock::Clock::now(&polis::clock::SystemClock))
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads a whole response: JSON bodies parsed, anything else kept as a string.
    pub async fn from(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Asserts a problem response with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status.as_u16());
    }

    pub fn str(&self, key: &str) -> String {
        self.body[key].as_str().unwrap_or_default().to_owned()
    }
}

/// Runs a test function once per backend: `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::harness::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::harness::Backend::Postgres).await
                }
            }
        )*
    };
}
