//! A stateful, in-process test double of Ory Kratos v26.2.0 (public and admin APIs).
//!
//! The double reproduces the wire contract that `docs/kratos.md` (§1, §3, §6, §8) describes,
//! so the service under test talks to it exactly as it would talk to Kratos:
//!
//! * **Public listener**: `/sessions/whoami` (any method; credential precedence
//!   `X-Session-Token` → cookie `ory_kratos_session` → `Authorization: Bearer`), with the
//!   200 / 401 / 403 (AAL2) / 400 (`tokenize_as`) answers of Kratos, `/health/alive`,
//!   `/health/ready`, `/version`, and a 307 redirect of `/admin/identities*` to the admin
//!   listener (as Kratos does).
//! * **Admin listener** (with or without the `/admin` prefix): `GET /admin/identities`
//!   (keyset pagination, `Link` header, `ids` / `credentials_identifier` /
//!   `preview_credentials_identifier_similar` / `organization_id` filters),
//!   `POST /admin/identities`, `GET|PATCH|DELETE /admin/identities/{id}` and
//!   `DELETE /admin/identities/{id}/sessions`, plus the health and version routes.
//!
//! Errors use the herodot envelope `{"error": {...}}` with `Content-Type: application/json`;
//! successful JSON bodies use `application/json; charset=utf-8`. Timestamps are RFC 3339 with
//! microseconds and `Z`.
//!
//! The servers run on a dedicated OS thread with their own Tokio runtime. That keeps the double
//! independent of the test's runtime flavour (and of paused test clocks), and lets
//! [`KratosDouble::refuse_connections`] close the listeners *and* every open connection
//! synchronously, like a crashed Kratos.
//!
//! # Seed file (used by `examples/kratos-double.rs` and [`KratosDouble::seed_from_json`])
//!
//! ```json
//! {"identities": [
//!   {"id": "optional uuid",
//!    "traits": {"email": "alice@example.com", "first_name": "Alice", "last_name": "Ng"},
//!    "state": "active",
//!    "metadata_public": null,
//!    "metadata_admin": {"legacy_clerk_id": "user_..."},
//!    "organization_id": null,
//!    "verified": true,
//!    "sessions": ["alice-session-token"]}
//! ]}
//! ```
//!
//! Only `traits` is needed; `verified` defaults to `true`, `state` to `"active"`. Every entry of
//! `sessions` becomes an active AAL1 session (valid 24 h) whose token is exactly that string;
//! every entry of `cookies` (optional) one whose `ory_kratos_session` cookie value is exactly
//! that string, so a browser test can sign in by setting the cookie.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::IntoFuture;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::distributions::Alphanumeric;
use rand::{Rng, RngCore};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// Default Kratos session cookie name (`session.cookie.name`).
pub const SESSION_COOKIE: &str = "ory_kratos_session";
/// The Kratos version the double imitates (answered by `GET /version`).
pub const KRATOS_VERSION: &str = "v26.2.0";

const DEFAULT_SCHEMA_ID: &str = "default";
/// An identity schema whose `email` trait is verified by e-mail with `"format":
/// "noformat"`: Kratos then stores the address only trimmed, not lower-cased.
pub const NOFORMAT_EMAIL_SCHEMA_ID: &str = "noformat-email";
const DEFAULT_PAGE_SIZE: i64 = 250;
const MAX_PAGE_SIZE: i64 = 500;
const MAX_IDS_FILTER: usize = 500;
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
const JSON_UTF8: &str = "application/json; charset=utf-8";
const JSON_PLAIN: &str = "application/json";
const CREDENTIAL_TYPES: &[&str] = &[
    "password",
    "oidc",
    "totp",
    "lookup_secret",
    "webauthn",
    "code",
    "passkey",
    "profile",
    "saml",
];

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Everything [`KratosDouble::insert_identity`] can set on a new identity.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentitySeed {
    /// Identity id; a random UUID v4 (as Kratos issues) when `None`.
    pub id: Option<Uuid>,
    /// Schema traits, e.g. `{"email": "...", "first_name": "...", "last_name": "..."}`.
    pub traits: Value,
    /// `"active"` or `"inactive"`.
    pub state: String,
    /// `None` is marshalled as `null`, like Kratos.
    pub metadata_public: Option<Value>,
    /// `None` is marshalled as `null`, like Kratos.
    pub metadata_admin: Option<Value>,
    /// Whether the address taken from the `email` trait is verified.
    pub verified: bool,
    /// Kratos (Ory Network) organization; `null` on Olympus.
    pub organization_id: Option<Uuid>,
    /// Optional `external_id`.
    pub external_id: Option<String>,
    /// Identity schema; `default` when `None`.
    pub schema_id: Option<String>,
}

impl Default for IdentitySeed {
    fn default() -> Self {
        Self {
            id: None,
            traits: json!({}),
            state: "active".to_owned(),
            metadata_public: None,
            metadata_admin: None,
            verified: true,
            organization_id: None,
            external_id: None,
            schema_id: None,
        }
    }
}

/// Options for [`KratosDouble::create_session_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// Lifetime from now; negative values create an already expired session.
    pub expires_in: chrono::Duration,
    /// Whoami answers 403 `session_aal2_required` for this session.
    pub needs_aal2: bool,
    /// `false` creates a revoked session.
    pub active: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            expires_in: chrono::Duration::hours(24),
            needs_aal2: false,
            active: true,
        }
    }
}

/// The two ways a client can present a session created by the double.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCredentials {
    /// Session token (`X-Session-Token` or `Authorization: Bearer`).
    pub token: String,
    /// Value of the `ory_kratos_session` cookie (opaque, distinct from the token).
    pub cookie: String,
    /// The session's id (`sid`).
    pub session_id: Uuid,
}

impl SessionCredentials {
    /// `ory_kratos_session=<cookie>`, ready for a `Cookie` header.
    pub fn cookie_header(&self) -> String {
        format!("{SESSION_COOKIE}={}", self.cookie)
    }
}

/// One identity created by [`KratosDouble::seed_from_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededIdentity {
    pub id: Uuid,
    pub email: Option<String>,
    pub session_tokens: Vec<String>,
    pub session_cookies: Vec<String>,
}

/// A running Kratos double: a public and an admin listener sharing one state.
pub struct KratosDouble {
    shared: Arc<Shared>,
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
    server: Mutex<Option<Server>>,
}

impl KratosDouble {
    /// Binds a public and an admin listener on `127.0.0.1:0` and serves both in the background.
    pub async fn start() -> KratosDouble {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::start_on(any, any)
            .await
            .expect("kratos double: cannot bind 127.0.0.1:0")
    }

    /// Same as [`KratosDouble::start`] with explicit addresses.
    pub async fn start_on(public: SocketAddr, admin: SocketAddr) -> std::io::Result<KratosDouble> {
        let public_listener = StdTcpListener::bind(public)?;
        let admin_listener = StdTcpListener::bind(admin)?;
        let public_addr = public_listener.local_addr()?;
        let admin_addr = admin_listener.local_addr()?;
        let shared = Arc::new(Shared::new(
            format!("http://{public_addr}"),
            format!("http://{admin_addr}"),
        ));
        let server = Server::spawn(Arc::clone(&shared), public_listener, admin_listener)?;
        Ok(KratosDouble {
            shared,
            public_addr,
            admin_addr,
            server: Mutex::new(Some(server)),
        })
    }

    /// Base URL of the public API, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn public_url(&self) -> String {
        self.shared.public_url.clone()
    }

    /// Base URL of the admin API, e.g. `http://127.0.0.1:41235` (no trailing slash).
    pub fn admin_url(&self) -> String {
        self.shared.admin_url.clone()
    }

    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Adds an active identity with schema `default` and a verified `email` trait (if any).
    pub fn add_identity(&self, traits: Value) -> Uuid {
        self.insert_identity(IdentitySeed {
            traits,
            ..IdentitySeed::default()
        })
    }

    /// Adds an identity with full control over its fields. An existing id is replaced.
    pub fn insert_identity(&self, seed: IdentitySeed) -> Uuid {
        let identity = Identity::from_seed(seed, Utc::now());
        let id = identity.id;
        self.shared.store().identities.insert(id, identity);
        id
    }

    /// Creates an active AAL1 session valid for 24 h.
    pub fn create_session(&self, identity: Uuid) -> SessionCredentials {
        self.create_session_with(identity, SessionOptions::default())
    }

    /// Creates a session with explicit lifetime, AAL2 requirement and active flag.
    pub fn create_session_with(&self, identity: Uuid, opts: SessionOptions) -> SessionCredentials {
        self.shared
            .store()
            .insert_session(identity, random_token(), &opts)
    }

    /// Creates an active AAL1 session (24 h) whose token is exactly `token`.
    pub fn create_session_with_token(&self, identity: Uuid, token: &str) -> SessionCredentials {
        self.shared
            .store()
            .insert_session(identity, token.to_owned(), &SessionOptions::default())
    }

    /// Creates an active AAL1 session (24 h) whose `ory_kratos_session` cookie value is exactly
    /// `cookie` (its token stays random), as a browser would hold after a Kratos login.
    pub fn create_session_with_cookie(&self, identity: Uuid, cookie: &str) -> SessionCredentials {
        let mut store = self.shared.store();
        let mut credentials =
            store.insert_session(identity, random_token(), &SessionOptions::default());
        store.cookies.remove(&credentials.cookie);
        store
            .cookies
            .insert(cookie.to_owned(), credentials.token.clone());
        credentials.cookie = cookie.to_owned();
        credentials
    }

    /// Marks the session `active: false` (Kratos "revoke"); whoami then answers 401.
    pub fn revoke_session(&self, token: &str) {
        if let Some(session) = self.shared.store().sessions.get_mut(token) {
            session.active = false;
        }
    }

    /// Sets the identity's `state` (`"active"` / `"inactive"`). Panics for an unknown id.
    pub fn set_identity_state(&self, id: Uuid, state: &str) {
        let now = Utc::now();
        let mut store = self.shared.store();
        let identity = store
            .identities
            .get_mut(&id)
            .unwrap_or_else(|| panic!("kratos double: unknown identity {id}"));
        if identity.state != state {
            identity.state = state.to_owned();
            identity.state_changed_at = now;
            identity.updated_at = now;
        }
    }

    /// Deletes the identity and its sessions (no-op for an unknown id).
    pub fn delete_identity(&self, id: Uuid) {
        let mut store = self.shared.store();
        store.identities.remove(&id);
        store.remove_sessions_of(id);
    }

    /// The identity as the admin API renders it, if it exists.
    pub fn identity(&self, id: Uuid) -> Option<Value> {
        let store = self.shared.store();
        store
            .identities
            .get(&id)
            .map(|i| i.to_json(&self.shared.public_url, true))
    }

    /// Number of `/sessions/whoami` requests received (counted before latency and failures).
    pub fn whoami_calls(&self) -> usize {
        self.shared.whoami_calls.load(Ordering::SeqCst)
    }

    /// Number of admin API requests received (health and version routes excluded).
    pub fn admin_calls(&self) -> usize {
        self.shared.admin_calls.load(Ordering::SeqCst)
    }

    /// Admin API requests received, as `"METHOD /admin/path?query"`, oldest first.
    pub fn admin_requests(&self) -> Vec<String> {
        lock(&self.shared.admin_log).clone()
    }

    /// Resets both request counters and the admin request log.
    pub fn reset_counters(&self) {
        self.shared.whoami_calls.store(0, Ordering::SeqCst);
        self.shared.admin_calls.store(0, Ordering::SeqCst);
        lock(&self.shared.admin_log).clear();
    }

    /// Delays every response on both listeners by `d`.
    pub fn set_latency(&self, d: Duration) {
        self.shared.behaviour().latency = d;
    }

    /// `Some(status)`: every route on both listeners answers `status` with a herodot body.
    pub fn fail_with_status(&self, status: Option<u16>) {
        self.shared.behaviour().fail_status = status;
    }

    /// Emits `Ory-Session-Cache-For` like Kratos with `feature_flags.cacheable_sessions` on.
    pub fn set_cache_header(&self, on: bool) {
        self.shared.behaviour().cache_header = on;
    }

    /// `false`: `GET /health/ready` answers 503 (as when Kratos cannot reach its database).
    pub fn set_ready(&self, ready: bool) {
        self.shared.behaviour().ready = ready;
    }

    /// `true` closes both listeners and every open connection, so that new connections are
    /// refused; `false` binds the same ports again. State is kept across the outage.
    pub fn refuse_connections(&self, refuse: bool) {
        let mut server = lock(&self.server);
        if refuse {
            if let Some(running) = server.take() {
                running.stop();
            }
        } else if server.is_none() {
            let public = bind_again(self.public_addr);
            let admin = bind_again(self.admin_addr);
            let running = Server::spawn(Arc::clone(&self.shared), public, admin)
                .expect("kratos double: cannot restart the server thread");
            *server = Some(running);
        }
    }

    /// Reads a seed document (see the module docs), creating identities and sessions.
    pub fn seed_from_json(&self, json: &str) -> Result<Vec<SeededIdentity>, String> {
        let file: SeedFile =
            serde_json::from_str(json).map_err(|e| format!("invalid seed file: {e}"))?;
        let mut seeded = Vec::with_capacity(file.identities.len());
        for entry in file.identities {
            let email = email_trait(&entry.traits);
            let id = self.insert_identity(IdentitySeed {
                id: entry.id,
                traits: entry.traits,
                state: entry.state.unwrap_or_else(|| "active".to_owned()),
                metadata_public: entry.metadata_public,
                metadata_admin: entry.metadata_admin,
                verified: entry.verified,
                organization_id: entry.organization_id,
                external_id: entry.external_id,
                schema_id: None,
            });
            for token in &entry.sessions {
                self.create_session_with_token(id, token);
            }
            for cookie in &entry.cookies {
                self.create_session_with_cookie(id, cookie);
            }
            seeded.push(SeededIdentity {
                id,
                email,
                session_tokens: entry.sessions,
                session_cookies: entry.cookies,
            });
        }
        Ok(seeded)
    }

    /// Stops both listeners and closes every connection.
    pub async fn shutdown(self) {
        let running = lock(&self.server).take();
        if let Some(running) = running {
            let _ = tokio::task::spawn_blocking(move || running.stop()).await;
        }
    }
}

impl Drop for KratosDouble {
    fn drop(&mut self) {
        if let Some(running) = lock(&self.server).take() {
            running.stop();
        }
    }
}

#[derive(Debug, Deserialize)]
struct SeedFile {
    identities: Vec<SeedEntry>,
}

#[derive(Debug, Deserialize)]
struct SeedEntry {
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default = "empty_object")]
    traits: Value,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    metadata_public: Option<Value>,
    #[serde(default)]
    metadata_admin: Option<Value>,
    #[serde(default = "default_true")]
    verified: bool,
    #[serde(default)]
    organization_id: Option<Uuid>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    sessions: Vec<String>,
    #[serde(default)]
    cookies: Vec<String>,
}

fn empty_object() -> Value {
    json!({})
}

fn default_true() -> bool {
    true
}

// ---------------------------------------------------------------------------------------------
// Server thread
// ---------------------------------------------------------------------------------------------

struct Server {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn spawn(
        shared: Arc<Shared>,
        public: StdTcpListener,
        admin: StdTcpListener,
    ) -> std::io::Result<Server> {
        public.set_nonblocking(true)?;
        admin.set_nonblocking(true)?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("kratos-double".to_owned())
            .spawn(move || serve_until_stopped(shared, public, admin, stop_rx))?;
        Ok(Server {
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Returns once the listeners and all connections are closed.
    fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_until_stopped(
    shared: Arc<Shared>,
    public: StdTcpListener,
    admin: StdTcpListener,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kratos double: cannot build a runtime: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        let (Ok(public), Ok(admin)) = (
            tokio::net::TcpListener::from_std(public),
            tokio::net::TcpListener::from_std(admin),
        ) else {
            eprintln!("kratos double: cannot register the listeners");
            return;
        };
        let public_app = Router::new()
            .fallback(public_entry)
            .with_state(Arc::clone(&shared));
        let admin_app = Router::new().fallback(admin_entry).with_state(shared);
        tokio::select! {
            _ = axum::serve(public, public_app).into_future() => {}
            _ = axum::serve(admin, admin_app).into_future() => {}
            _ = stop => {}
        }
    });
    // Dropping the runtime drops every connection task, closing their sockets.
    drop(runtime);
}

fn bind_again(addr: SocketAddr) -> StdTcpListener {
    let mut last_error = None;
    for _ in 0..100 {
        match StdTcpListener::bind(addr) {
            Ok(listener) => return listener,
            Err(e) => last_error = Some(e),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("kratos double: cannot bind {addr} again: {last_error:?}");
}

// ---------------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------------

struct Shared {
    public_url: String,
    admin_url: String,
    store: Mutex<Store>,
    behaviour: Mutex<Behaviour>,
    whoami_calls: AtomicUsize,
    admin_calls: AtomicUsize,
    admin_log: Mutex<Vec<String>>,
}

struct Behaviour {
    latency: Duration,
    fail_status: Option<u16>,
    cache_header: bool,
    ready: bool,
}

impl Shared {
    fn new(public_url: String, admin_url: String) -> Self {
        Self {
            public_url,
            admin_url,
            store: Mutex::new(Store::default()),
            behaviour: Mutex::new(Behaviour {
                latency: Duration::ZERO,
                fail_status: None,
                cache_header: false,
                ready: true,
            }),
            whoami_calls: AtomicUsize::new(0),
            admin_calls: AtomicUsize::new(0),
            admin_log: Mutex::new(Vec::new()),
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    fn behaviour(&self) -> MutexGuard<'_, Behaviour> {
        lock(&self.behaviour)
    }

    /// Applies the injected latency, then the injected failure (if any).
    async fn misbehave(&self, req: &Incoming) -> Option<Response> {
        let (latency, fail_status) = {
            let behaviour = self.behaviour();
            (behaviour.latency, behaviour.fail_status)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        fail_status.map(|status| ApiError::new(status).into_response(req.request_id()))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct Store {
    identities: BTreeMap<Uuid, Identity>,
    /// Session token → session.
    sessions: HashMap<String, Session>,
    /// Cookie value → session token. Never pruned: a real cookie keeps decoding to its token
    /// after the session is gone (and then answers 401 rather than "no credentials").
    cookies: HashMap<String, String>,
}

impl Store {
    fn insert_session(
        &mut self,
        identity_id: Uuid,
        token: String,
        opts: &SessionOptions,
    ) -> SessionCredentials {
        assert!(
            self.identities.contains_key(&identity_id),
            "kratos double: cannot create a session for unknown identity {identity_id}"
        );
        let now = Utc::now();
        let session = Session {
            id: Uuid::new_v4(),
            identity_id,
            active: opts.active,
            needs_aal2: opts.needs_aal2,
            issued_at: now,
            authenticated_at: now,
            expires_at: now + opts.expires_in,
        };
        let cookie = random_cookie();
        let credentials = SessionCredentials {
            token: token.clone(),
            cookie: cookie.clone(),
            session_id: session.id,
        };
        self.cookies.insert(cookie, token.clone());
        self.sessions.insert(token, session);
        credentials
    }

    /// `session.IsActive()`: active, not expired, identity exists and is active.
    fn active_session(&self, token: &str, now: DateTime<Utc>) -> Option<(&Session, &Identity)> {
        let session = self.sessions.get(token)?;
        let identity = self.identities.get(&session.identity_id)?;
        let usable = session.active && session.expires_at > now && identity.state == "active";
        usable.then_some((session, identity))
    }

    fn remove_sessions_of(&mut self, identity_id: Uuid) -> usize {
        let before = self.sessions.len();
        self.sessions.retain(|_, s| s.identity_id != identity_id);
        before - self.sessions.len()
    }

    fn identifier_taken(&self, identifier: &str, except: Uuid) -> bool {
        self.identities
            .values()
            .any(|i| i.id != except && i.identifier() == Some(identifier))
    }
}

struct Session {
    id: Uuid,
    identity_id: Uuid,
    active: bool,
    needs_aal2: bool,
    issued_at: DateTime<Utc>,
    authenticated_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl Session {
    fn to_json(&self, identity: &Identity, public_url: &str) -> Value {
        json!({
            "id": self.id,
            "active": self.active,
            "expires_at": ts(self.expires_at),
            "authenticated_at": ts(self.authenticated_at),
            "authenticator_assurance_level": "aal1",
            "authentication_methods": [
                {"method": "password", "aal": "aal1", "completed_at": ts(self.authenticated_at)}
            ],
            "issued_at": ts(self.issued_at),
            "identity": identity.to_json(public_url, false),
            "devices": [],
        })
    }
}

#[derive(Clone)]
struct EmailAddress {
    verifiable_id: Uuid,
    recovery_id: Uuid,
    value: String,
    verified: bool,
    verified_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl EmailAddress {
    fn new(value: String, now: DateTime<Utc>) -> Self {
        Self {
            verifiable_id: Uuid::new_v4(),
            recovery_id: Uuid::new_v4(),
            value,
            verified: false,
            verified_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn verifiable_json(&self) -> Value {
        let mut address = json!({
            "id": self.verifiable_id,
            "value": self.value,
            "verified": self.verified,
            "via": "email",
            "status": if self.verified { "completed" } else { "pending" },
            "created_at": ts(self.created_at),
            "updated_at": ts(self.updated_at),
        });
        if let Some(verified_at) = self.verified_at {
            address["verified_at"] = json!(ts(verified_at));
        }
        address
    }

    fn recovery_json(&self) -> Value {
        json!({
            "id": self.recovery_id,
            "value": self.value,
            "via": "email",
            "created_at": ts(self.created_at),
            "updated_at": ts(self.created_at),
        })
    }
}

#[derive(Clone)]
struct Identity {
    id: Uuid,
    schema_id: String,
    state: String,
    state_changed_at: DateTime<Utc>,
    traits: Value,
    metadata_public: Value,
    metadata_admin: Value,
    organization_id: Option<Uuid>,
    external_id: Option<String>,
    /// Derived from the `email` trait: verifiable + recovery address and password identifier.
    email: Option<EmailAddress>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Identity {
    fn from_seed(seed: IdentitySeed, now: DateTime<Utc>) -> Identity {
        let mut identity = Identity {
            id: seed.id.unwrap_or_else(Uuid::new_v4),
            schema_id: seed
                .schema_id
                .unwrap_or_else(|| DEFAULT_SCHEMA_ID.to_owned()),
            state: seed.state,
            state_changed_at: now,
            traits: seed.traits,
            metadata_public: seed.metadata_public.unwrap_or(Value::Null),
            metadata_admin: seed.metadata_admin.unwrap_or(Value::Null),
            organization_id: seed.organization_id,
            external_id: seed.external_id,
            email: None,
            created_at: now,
            updated_at: now,
        };
        identity.sync_email(now);
        if seed.verified {
            identity.verify_email(now);
        }
        identity
    }

    /// Re-derives the address from the `email` trait, as Kratos' schema extensions do on every
    /// write: an unchanged value keeps its verification, a new value starts unverified.
    fn sync_email(&mut self, now: DateTime<Utc>) {
        match schema_email_trait(&self.traits, &self.schema_id) {
            None => self.email = None,
            Some(value) if self.email.as_ref().is_some_and(|e| e.value == value) => {}
            Some(value) => self.email = Some(EmailAddress::new(value, now)),
        }
    }

    fn verify_email(&mut self, now: DateTime<Utc>) {
        if let Some(email) = &mut self.email {
            email.verified = true;
            email.verified_at = Some(now);
        }
    }

    /// The password credential identifier (the normalised email), if any.
    fn identifier(&self) -> Option<&str> {
        self.email.as_ref().map(|e| e.value.as_str())
    }

    fn to_json(&self, public_url: &str, admin: bool) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        if let Some(external_id) = &self.external_id {
            out.insert("external_id".into(), json!(external_id));
        }
        out.insert("schema_id".into(), json!(self.schema_id));
        out.insert(
            "schema_url".into(),
            json!(schema_url(public_url, &self.schema_id)),
        );
        out.insert("state".into(), json!(self.state));
        out.insert("state_changed_at".into(), json!(ts(self.state_changed_at)));
        out.insert("traits".into(), self.traits.clone());
        if let Some(email) = &self.email {
            out.insert(
                "verifiable_addresses".into(),
                json!([email.verifiable_json()]),
            );
            out.insert("recovery_addresses".into(), json!([email.recovery_json()]));
        }
        out.insert("metadata_public".into(), self.metadata_public.clone());
        out.insert("created_at".into(), json!(ts(self.created_at)));
        out.insert("updated_at".into(), json!(ts(self.updated_at)));
        out.insert("organization_id".into(), json!(self.organization_id));
        if admin {
            if let Some(email) = &self.email {
                let password = json!({
                    "type": "password",
                    "identifiers": [email.value],
                    "version": 0,
                    "created_at": ts(self.created_at),
                    "updated_at": ts(self.created_at),
                });
                out.insert("credentials".into(), json!({ "password": password }));
            }
            out.insert("metadata_admin".into(), self.metadata_admin.clone());
        }
        Value::Object(out)
    }

    /// Reads an identity back from its patched admin JSON (Kratos unmarshals the patched
    /// document into its `Identity` struct and then validates it).
    fn patched(&self, doc: &Value, now: DateTime<Utc>) -> Result<Identity, ApiError> {
        let doc = doc
            .as_object()
            .ok_or_else(|| unmarshal_error("", "identity.Identity"))?;
        let mut next = self.clone();
        next.state = match doc.get("state") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(state)) => state.clone(),
            Some(_) => return Err(unmarshal_error("state", "identity.State")),
        };
        if next.state != self.state {
            check_state(&next.state)?;
            next.state_changed_at = now;
        }
        next.traits = doc.get("traits").cloned().unwrap_or(Value::Null);
        check_traits(&next.traits)?;
        next.metadata_public = doc.get("metadata_public").cloned().unwrap_or(Value::Null);
        next.metadata_admin = doc.get("metadata_admin").cloned().unwrap_or(Value::Null);
        match doc.get("schema_id") {
            Some(Value::String(schema_id)) => next.schema_id = schema_id.clone(),
            None | Some(Value::Null) => {}
            Some(_) => return Err(unmarshal_error("schema_id", "string")),
        }
        next.organization_id = match doc.get("organization_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                Uuid::parse_str(s)
                    .map_err(|_| unmarshal_error("organization_id", "uuid.NullUUID"))?,
            ),
            Some(_) => return Err(unmarshal_error("organization_id", "uuid.NullUUID")),
        };
        next.external_id = match doc.get("external_id") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            None | Some(Value::Null | Value::String(_)) => None,
            Some(_) => return Err(unmarshal_error("external_id", "sqlxx.NullString")),
        };
        next.sync_email(now);
        next.updated_at = now;
        Ok(next)
    }
}

/// The address Kratos derives from the `email` trait of the default schema.
fn email_trait(traits: &Value) -> Option<String> {
    schema_email_trait(traits, DEFAULT_SCHEMA_ID)
}

/// Kratos's verification extension: an `email`-format address is trimmed and
/// lower-cased with Go's `strings.ToLower`; a `noformat` one is only trimmed.
fn schema_email_trait(traits: &Value, schema_id: &str) -> Option<String> {
    let raw = traits.get("email")?.as_str()?.trim();
    let email = if schema_id == NOFORMAT_EMAIL_SCHEMA_ID {
        raw.to_owned()
    } else {
        go_to_lower(raw)
    };
    (!email.is_empty()).then_some(email)
}

/// Go's `strings.ToLower`: every rune mapped by its simple (one-rune) lower case, so
/// U+0130 becomes `i` where Rust's full mapping gives two characters.
fn go_to_lower(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            c => c.to_lowercase().next().unwrap_or(c),
        })
        .collect()
}

fn schema_url(public_url: &str, schema_id: &str) -> String {
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(schema_id);
    format!("{public_url}/schemas/{encoded}")
}

fn check_state(state: &str) -> Result<(), ApiError> {
    if state == "active" || state == "inactive" {
        return Ok(());
    }
    Err(ApiError::new(400).reason(format!(
        "The supplied state ('{state}') was not valid. Valid states are ('active', 'inactive')."
    )))
}

fn check_traits(traits: &Value) -> Result<(), ApiError> {
    if traits.is_object() {
        return Ok(());
    }
    let got = match traits {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    Err(ApiError::new(400).reason(format!(
        "I[#/traits] S[#/properties/traits/type] expected object, but got {got}"
    )))
}

fn unmarshal_error(field: &str, go_type: &str) -> ApiError {
    let target = if field.is_empty() {
        String::new()
    } else {
        format!(" Go struct field Identity.{field} of")
    };
    ApiError::patch_failed(format!(
        "json: cannot unmarshal value into{target} type {go_type}"
    ))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn random_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

fn random_cookie() -> String {
    let mut raw = [0_u8; 96];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE.encode(raw)
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing
// ---------------------------------------------------------------------------------------------

struct Incoming {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Incoming {
    async fn read(request: Request) -> Incoming {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .unwrap_or_default();
        Incoming {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            headers: parts.headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn request_id(&self) -> Option<&str> {
        self.header("x-request-id").filter(|rid| !rid.is_empty())
    }

    /// Decoded query pairs in request order (like Go's `url.ParseQuery`).
    fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

/// First value of `key` (Go's `url.Values.Get`).
fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A herodot error (`{"error": {...}}`).
#[derive(Debug, Clone)]
struct ApiError {
    code: u16,
    id: Option<&'static str>,
    reason: Option<String>,
    message: Option<String>,
    /// `details.redirect_browser_to` and the top-level `redirect_browser_to`.
    redirect: Option<String>,
    /// `Ory-Session-Cache-For` header value.
    cache_for: Option<u32>,
}

impl ApiError {
    fn new(code: u16) -> Self {
        Self {
            code,
            id: None,
            reason: None,
            message: None,
            redirect: None,
            cache_for: None,
        }
    }

    fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// `ErrNoSessionFound` of `session/error.go`.
    fn no_session() -> Self {
        Self::new(401).reason("No valid session credentials found in the request.")
    }

    /// `sqlcon.ErrNoRows`.
    fn no_rows() -> Self {
        Self::new(404).message("Unable to locate the resource")
    }

    fn patch_failed(message: String) -> Self {
        Self::new(400)
            .reason("An error occured when applying the JSON patch")
            .message(message)
    }

    fn conflict() -> Self {
        Self::new(409).reason("This identity conflicts with another identity that already exists.")
    }

    fn aal2_required(public_url: &str) -> Self {
        let mut error = Self::new(403)
            .reason(
                "An active session was found but it does not fulfill the requested \
                 Authenticator Assurance Level. Please verify yourself with a second factor \
                 to resolve this issue.",
            )
            .message("Session does not fulfill the requested Authenticator Assurance Level");
        error.id = Some("session_aal2_required");
        error.redirect = Some(format!("{public_url}/self-service/login/browser?aal=aal2"));
        error
    }

    fn into_response(self, request_id: Option<&str>) -> Response {
        let mut error = Map::new();
        if let Some(id) = self.id {
            error.insert("id".into(), json!(id));
        }
        error.insert("code".into(), json!(self.code));
        error.insert("status".into(), json!(status_text(self.code)));
        if let Some(request_id) = request_id {
            error.insert("request".into(), json!(request_id));
        }
        if let Some(reason) = &self.reason {
            error.insert("reason".into(), json!(reason));
        }
        if let Some(redirect) = &self.redirect {
            error.insert("details".into(), json!({ "redirect_browser_to": redirect }));
        }
        let message = self
            .message
            .clone()
            .unwrap_or_else(|| default_message(self.code));
        error.insert("message".into(), json!(message));
        let mut body = Map::new();
        body.insert("error".into(), Value::Object(error));
        if let Some(redirect) = &self.redirect {
            body.insert("redirect_browser_to".into(), json!(redirect));
        }
        let mut response = json_response(self.code, &Value::Object(body), JSON_PLAIN);
        if let Some(id) = self.id {
            set_header(&mut response, "ory-error-id", id);
        }
        if let Some(seconds) = self.cache_for {
            set_header(&mut response, "ory-session-cache-for", &seconds.to_string());
        }
        response
    }
}

fn status_text(code: u16) -> &'static str {
    StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// herodot's default messages (`error_defaults.go`).
fn default_message(code: u16) -> String {
    match code {
        400 => "The request was malformed or contained invalid parameters",
        401 => "The request could not be authorized",
        403 => "The requested action was forbidden",
        404 => "The requested resource could not be found",
        409 => "The resource could not be created due to a conflict",
        415 => "The request is using an unknown content type",
        500 => "An internal server error occurred, please contact the system administrator",
        other => status_text(other),
    }
    .to_owned()
}

fn json_response(code: u16, body: &Value, content_type: &'static str) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json_ok(code: u16, body: &Value) -> Response {
    json_response(code, body, JSON_UTF8)
}

fn empty_response(code: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}

/// Go's `http.NotFound` / `405`, as served for routes Kratos does not register.
fn plain_text(code: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = code;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn not_found_route() -> Response {
    plain_text(StatusCode::NOT_FOUND, "404 page not found\n")
}

fn method_not_allowed() -> Response {
    plain_text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n")
}

fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

fn finish(result: Result<Response, ApiError>, req: &Incoming) -> Response {
    result.unwrap_or_else(|error| error.into_response(req.request_id()))
}

// ---------------------------------------------------------------------------------------------
// Public API routes
// ---------------------------------------------------------------------------------------------

async fn public_entry(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let req = Incoming::read(request).await;
    if req.path == "/sessions/whoami" {
        shared.whoami_calls.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(response) = shared.misbehave(&req).await {
        return response;
    }
    let path = req.path.as_str();
    if path == "/sessions/whoami" {
        return finish(whoami(&shared, &req), &req);
    }
    if let Some(response) = health_route(&shared, &req, path) {
        return response;
    }
    let admin_path = path == "/identities"
        || path.starts_with("/identities/")
        || path == "/admin/identities"
        || path.starts_with("/admin/identities/");
    if admin_path {
        return redirect_to_admin(&shared, &req);
    }
    not_found_route()
}

/// `GET /health/alive`, `GET /health/ready`, `GET /version`.
fn health_route(shared: &Shared, req: &Incoming, path: &str) -> Option<Response> {
    let body = match path {
        "/health/alive" => json!({"status": "ok"}),
        "/health/ready" if !shared.behaviour().ready => {
            let body = json!({"errors": {"database": "the database is not reachable"}});
            return Some(method_or(req, json_ok(503, &body)));
        }
        "/health/ready" => json!({"status": "ok"}),
        "/version" => json!({"version": KRATOS_VERSION}),
        _ => return None,
    };
    Some(method_or(req, json_ok(200, &body)))
}

fn method_or(req: &Incoming, response: Response) -> Response {
    if req.method == Method::GET || req.method == Method::HEAD {
        response
    } else {
        method_not_allowed()
    }
}

/// Kratos' public port redirects identity admin routes to the admin URL (307).
fn redirect_to_admin(shared: &Shared, req: &Incoming) -> Response {
    let rest = req.path.strip_prefix("/admin").unwrap_or(&req.path);
    let mut location = format!("{}/admin{rest}", shared.admin_url);
    if !req.query.is_empty() {
        location.push('?');
        location.push_str(&req.query);
    }
    let mut response = empty_response(StatusCode::TEMPORARY_REDIRECT);
    set_header(&mut response, "location", &location);
    response
}

/// `session/manager_http.go` `extractToken`: header, then a decodable cookie, then bearer.
fn extract_token(headers: &HeaderMap, cookies: &HashMap<String, String>) -> Option<String> {
    let header_token = headers
        .get("x-session-token")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty());
    if let Some(token) = header_token {
        return Some(token.to_owned());
    }
    if let Some(token) = session_cookie(headers).and_then(|value| cookies.get(&value)) {
        return Some(token.clone());
    }
    bearer_token(headers)
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

/// `session/helper.go` `bearerTokenFromRequest`: exactly two space-separated parts.
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let parts: Vec<&str> = value.split(' ').collect();
    match parts.as_slice() {
        [scheme, token] if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Some((*token).to_owned())
        }
        _ => None,
    }
}

fn whoami(shared: &Shared, req: &Incoming) -> Result<Response, ApiError> {
    let cache_header = shared.behaviour().cache_header;
    let store = shared.store();
    let Some(token) = extract_token(&req.headers, &store.cookies) else {
        let mut error = ApiError::no_session();
        if cache_header {
            error.cache_for = Some(60);
        }
        return Err(error);
    };
    let now = Utc::now();
    let (session, identity) = store
        .active_session(&token, now)
        .ok_or_else(ApiError::no_session)?;
    if session.needs_aal2 {
        return Err(ApiError::aal2_required(&shared.public_url));
    }
    let pairs = req.query_pairs();
    if let Some(template) = first(&pairs, "tokenize_as").filter(|t| !t.is_empty()) {
        return Err(
            ApiError::new(400).reason(format!("Unable to find tokenizer template \"{template}\"."))
        );
    }
    let mut response = json_ok(200, &session.to_json(identity, &shared.public_url));
    set_header(
        &mut response,
        "x-kratos-authenticated-identity-id",
        &identity.id.to_string(),
    );
    if cache_header {
        let seconds = (session.expires_at - now).num_milliseconds() as f64 / 1000.0;
        set_header(
            &mut response,
            "ory-session-cache-for",
            &format!("{}", seconds.round()),
        );
    }
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Admin API routes
// ---------------------------------------------------------------------------------------------

async fn admin_entry(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let req = Incoming::read(request).await;
    // The admin port serves every route with and without the `/admin` prefix.
    let path = match req.path.strip_prefix("/admin") {
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => req.path.clone(),
    };
    let is_meta = path.starts_with("/health/") || path == "/version";
    if !is_meta {
        shared.admin_calls.fetch_add(1, Ordering::SeqCst);
        let query = if req.query.is_empty() {
            String::new()
        } else {
            format!("?{}", req.query)
        };
        lock(&shared.admin_log).push(format!("{} /admin{path}{query}", req.method));
    }
    if let Some(response) = shared.misbehave(&req).await {
        return response;
    }
    if let Some(response) = health_route(&shared, &req, &path) {
        return response;
    }
    route_admin(&shared, &req, &path)
}

fn route_admin(shared: &Shared, req: &Incoming, path: &str) -> Response {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let result = match (&req.method, segments.as_slice()) {
        (&Method::GET, ["identities"]) => list_identities(shared, req),
        (&Method::POST, ["identities"]) => create_identity(shared, req),
        (&Method::GET, ["identities", id]) => get_identity(shared, id),
        (&Method::PATCH, ["identities", id]) => patch_identity(shared, req, id),
        (&Method::DELETE, ["identities", id]) => delete_identity(shared, id),
        (&Method::DELETE, ["identities", id, "sessions"]) => delete_identity_sessions(shared, id),
        (_, ["identities"] | ["identities", _] | ["identities", _, "sessions"]) => {
            return method_not_allowed();
        }
        _ => return not_found_route(),
    };
    finish(result, req)
}

/// Path ids are parsed leniently: a malformed id becomes the nil UUID and thus a 404.
fn lenient_uuid(raw: &str) -> Uuid {
    Uuid::parse_str(raw).unwrap_or(Uuid::nil())
}

fn get_identity(shared: &Shared, raw_id: &str) -> Result<Response, ApiError> {
    let store = shared.store();
    let identity = store
        .identities
        .get(&lenient_uuid(raw_id))
        .ok_or_else(ApiError::no_rows)?;
    Ok(json_ok(200, &identity.to_json(&shared.public_url, true)))
}

fn delete_identity(shared: &Shared, raw_id: &str) -> Result<Response, ApiError> {
    let id = lenient_uuid(raw_id);
    let mut store = shared.store();
    store.identities.remove(&id).ok_or_else(ApiError::no_rows)?;
    store.remove_sessions_of(id);
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// Deletes every session of the identity; like Kratos, 404 when there was none to delete.
fn delete_identity_sessions(shared: &Shared, raw_id: &str) -> Result<Response, ApiError> {
    let id =
        Uuid::parse_str(raw_id).map_err(|_| ApiError::new(400).message(go_uuid_error(raw_id)))?;
    let removed = shared.store().remove_sessions_of(id);
    if removed == 0 {
        return Err(ApiError::no_rows());
    }
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// The error text of gofrs `uuid.FromString`.
fn go_uuid_error(raw: &str) -> String {
    match raw.len() {
        32 | 36 | 38 | 41 | 45 => format!("uuid: incorrect UUID format in string {raw:?}"),
        n => format!("uuid: incorrect UUID length {n} in string {raw:?}"),
    }
}

fn patch_identity(shared: &Shared, req: &Incoming, raw_id: &str) -> Result<Response, ApiError> {
    let id = lenient_uuid(raw_id);
    let now = Utc::now();
    let mut store = shared.store();
    let current = store.identities.get(&id).ok_or_else(ApiError::no_rows)?;
    let document = current.to_json(&shared.public_url, true);
    let patched = apply_json_patch(document, &req.body).map_err(ApiError::patch_failed)?;
    let updated = current.patched(&patched, now)?;
    if let Some(identifier) = updated.identifier() {
        if store.identifier_taken(identifier, id) {
            return Err(ApiError::conflict());
        }
    }
    let body = updated.to_json(&shared.public_url, true);
    store.identities.insert(id, updated);
    Ok(json_ok(200, &body))
}

/// `POST /admin/identities` (`createIdentityBody`; credentials import is ignored).
fn create_identity(shared: &Shared, req: &Incoming) -> Result<Response, ApiError> {
    let body: Map<String, Value> =
        serde_json::from_slice(&req.body).map_err(|e| ApiError::new(400).message(e.to_string()))?;
    let traits = body.get("traits").cloned().unwrap_or(Value::Null);
    check_traits(&traits)?;
    let state = match body.get("state").and_then(Value::as_str) {
        None | Some("") => "active".to_owned(),
        Some(state) => {
            check_state(state)?;
            state.to_owned()
        }
    };
    let email = email_trait(&traits);
    let verified = body
        .get("verifiable_addresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|a| {
            a.get("verified") == Some(&Value::Bool(true))
                && a.get("value")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
                    == email
        });
    let non_null = |key: &str| body.get(key).filter(|v| !v.is_null()).cloned();
    let identity = Identity::from_seed(
        IdentitySeed {
            id: None,
            traits,
            state,
            metadata_public: non_null("metadata_public"),
            metadata_admin: non_null("metadata_admin"),
            verified,
            organization_id: body
                .get("organization_id")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok()),
            external_id: body
                .get("external_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            schema_id: body
                .get("schema_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        Utc::now(),
    );
    let mut store = shared.store();
    if let Some(identifier) = identity.identifier() {
        if store.identifier_taken(identifier, identity.id) {
            return Err(ApiError::conflict());
        }
    }
    let json = identity.to_json(&shared.public_url, true);
    let location = format!("{}/identities/{}", shared.admin_url, identity.id);
    store.identities.insert(identity.id, identity);
    let mut response = json_ok(201, &json);
    set_header(&mut response, "location", &location);
    Ok(response)
}

enum ListFilter {
    All,
    Ids(HashSet<Uuid>),
    Identifier(String),
    IdentifierPrefix(String),
    Organization(Uuid),
}

impl ListFilter {
    fn matches(&self, identity: &Identity) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Ids(ids) => ids.contains(&identity.id),
            ListFilter::Identifier(wanted) => identity.identifier() == Some(wanted.as_str()),
            ListFilter::IdentifierPrefix(prefix) => identity
                .identifier()
                .is_some_and(|i| i.starts_with(prefix.as_str())),
            ListFilter::Organization(org) => identity.organization_id == Some(*org),
        }
    }
}

struct ListParams {
    filter: ListFilter,
    page_size: usize,
    after: Uuid,
}

/// `identity/handler.go` `parseListIdentitiesParameters` (keyset pagination only).
fn parse_list_params(pairs: &[(String, String)]) -> Result<ListParams, ApiError> {
    let mut filters = Vec::new();
    let ids: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "ids")
        .map(|(_, v)| v.as_str())
        .collect();
    if !ids.is_empty() {
        let mut set = HashSet::new();
        for raw in &ids {
            let id = Uuid::parse_str(raw).map_err(|_| {
                ApiError::new(400)
                    .reason(format!("Invalid UUID value `{raw}` for parameter `ids`."))
            })?;
            set.insert(id);
        }
        if ids.len() > MAX_IDS_FILTER {
            return Err(
                ApiError::new(400).reason("The number of ids to filter must not exceed 500.")
            );
        }
        filters.push(ListFilter::Ids(set));
    }
    if let Some(raw) = first(pairs, "organization_id").filter(|v| !v.is_empty()) {
        let org = Uuid::parse_str(raw).map_err(|_| {
            ApiError::new(400).reason(format!(
                "Invalid UUID value `{raw}` for parameter `organization_id`."
            ))
        })?;
        filters.push(ListFilter::Organization(org));
    }
    if let Some(raw) = first(pairs, "credentials_identifier").filter(|v| !v.is_empty()) {
        filters.push(ListFilter::Identifier(raw.trim().to_lowercase()));
    }
    if let Some(raw) =
        first(pairs, "preview_credentials_identifier_similar").filter(|v| !v.is_empty())
    {
        filters.push(ListFilter::IdentifierPrefix(raw.trim().to_lowercase()));
    }
    for (_, raw) in pairs.iter().filter(|(k, _)| k == "include_credential") {
        if !CREDENTIAL_TYPES.contains(&raw.as_str()) {
            return Err(ApiError::new(400).reason(format!(
                "Invalid value `{raw}` for parameter `include_credential`."
            )));
        }
    }
    if filters.len() > 1 {
        return Err(ApiError::new(400).reason("You cannot combine multiple filters in this API"));
    }
    let (page_size, after) = parse_keyset(pairs)?;
    Ok(ListParams {
        filter: filters.pop().unwrap_or(ListFilter::All),
        page_size,
        after,
    })
}

/// `keysetpagination.Parse` + `Paginator.Size()`: sizes ≤ 0 mean the default, > 500 are capped.
fn parse_keyset(pairs: &[(String, String)]) -> Result<(usize, Uuid), ApiError> {
    let size = match first(pairs, "page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => raw.parse::<i64>().map_err(|_| {
            let why = if !raw.is_empty()
                && raw
                    .trim_start_matches(['+', '-'])
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            {
                "value out of range"
            } else {
                "invalid syntax"
            };
            ApiError::new(400).reason(format!("strconv.Atoi: parsing {raw:?}: {why}"))
        })?,
    };
    let size = if size <= 0 {
        DEFAULT_PAGE_SIZE
    } else {
        size.min(MAX_PAGE_SIZE)
    };
    let after = match first(pairs, "page_token").filter(|t| !t.is_empty()) {
        None => Uuid::nil(),
        Some(raw) => Uuid::parse_str(raw).map_err(|_| {
            ApiError::new(400)
                .reason("The page token is invalid, do not craft your own page tokens")
        })?,
    };
    Ok((usize::try_from(size).unwrap_or(250), after))
}

fn list_identities(shared: &Shared, req: &Incoming) -> Result<Response, ApiError> {
    let pairs = req.query_pairs();
    let params = parse_list_params(&pairs)?;
    let store = shared.store();
    let mut page: Vec<&Identity> = store
        .identities
        .range((Bound::Excluded(params.after), Bound::Unbounded))
        .map(|(_, identity)| identity)
        .filter(|identity| params.filter.matches(identity))
        .take(params.page_size + 1)
        .collect();
    let has_more = page.len() > params.page_size;
    page.truncate(params.page_size);
    let next = if has_more {
        page.last().map(|i| i.id)
    } else {
        None
    };
    let body = Value::Array(
        page.iter()
            .map(|identity| identity.to_json(&shared.public_url, true))
            .collect(),
    );
    let mut response = json_ok(200, &body);
    set_header(
        &mut response,
        "link",
        &link_header(&pairs, params.page_size, next),
    );
    Ok(response)
}

/// `keysetpagination.Header`: relative request URL with `page_size`/`page_token` set, keys
/// sorted (Go's `url.Values.Encode`), `rel="first"` and, unless last page, `rel="next"`.
fn link_header(pairs: &[(String, String)], page_size: usize, next: Option<Uuid>) -> String {
    let link = |token: Uuid, rel: &str| {
        let mut values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (key, value) in pairs {
            values.entry(key.as_str()).or_default().push(value.clone());
        }
        values.insert("page_token", vec![token.to_string()]);
        values.insert("page_size", vec![page_size.to_string()]);
        let query: Vec<String> = values
            .iter()
            .flat_map(|(key, vals)| {
                vals.iter()
                    .map(move |v| format!("{}={}", go_query_escape(key), go_query_escape(v)))
            })
            .collect();
        format!("</admin/identities?{}>; rel=\"{rel}\"", query.join("&"))
    };
    let mut header = link(Uuid::nil(), "first");
    if let Some(token) = next {
        header.push(',');
        header.push_str(&link(token, "next"));
    }
    header
}

/// Go's `url.QueryEscape`.
fn go_query_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON Patch (RFC 6902) over the admin representation of an identity
// ---------------------------------------------------------------------------------------------

/// Paths Kratos refuses to patch (`identity/handler.go` `patch`).
fn denied_path(path: &str) -> bool {
    path == "/id"
        || path == "/stateChangedAt"
        || path == "/credentials"
        || path.starts_with("/credentials/")
}

fn apply_json_patch(mut document: Value, body: &[u8]) -> Result<Value, String> {
    let operations: Vec<Map<String, Value>> =
        serde_json::from_slice(body).map_err(|e| e.to_string())?;
    for operation in &operations {
        for key in ["path", "from"] {
            if let Some(path) = operation.get(key).and_then(Value::as_str) {
                if denied_path(path) {
                    return Err(format!("patch includes denied path: {path}"));
                }
            }
        }
    }
    for operation in &operations {
        apply_operation(&mut document, operation)?;
    }
    Ok(document)
}

fn apply_operation(document: &mut Value, operation: &Map<String, Value>) -> Result<(), String> {
    let kind = operation
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let field = |key: &str| {
        operation
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{kind} operation is missing the {key:?} member"))
    };
    let value = || {
        operation
            .get("value")
            .cloned()
            .ok_or_else(|| format!("{kind} operation is missing the \"value\" member"))
    };
    let path = field("path")?;
    match kind {
        "add" => pointer_add(document, path, value()?),
        "remove" => pointer_remove(document, path).map(drop),
        "replace" => pointer_replace(document, path, value()?),
        "move" => {
            let moved = pointer_remove(document, field("from")?)?;
            pointer_add(document, path, moved)
        }
        "copy" => {
            let from = field("from")?;
            let copied = pointer_get(document, &parse_pointer(from)?)
                .cloned()
                .ok_or_else(|| missing_path("copy", from))?;
            pointer_add(document, path, copied)
        }
        "test" => {
            let expected = value()?;
            match pointer_get(document, &parse_pointer(path)?) {
                Some(actual) if *actual == expected => Ok(()),
                _ => Err(format!("testing value {path:?} failed: test failed")),
            }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

fn missing_path(kind: &str, path: &str) -> String {
    format!("{kind} operation does not apply: doc is missing path: {path:?}: missing value")
}

fn parse_pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("JSON pointer must be empty or start with a \"/\": {path:?}"))?;
    Ok(rest
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn pointer_get<'a>(document: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    tokens
        .iter()
        .try_fold(document, |current, token| match current {
            Value::Object(map) => map.get(token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

fn pointer_get_mut<'a>(document: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    let mut current = document;
    for token in tokens {
        current = match current {
            Value::Object(map) => map.get_mut(token)?,
            Value::Array(items) => items.get_mut(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn pointer_add(document: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = parse_pointer(path)?;
    let Some((last, parent)) = tokens.split_last() else {
        *document = value;
        return Ok(());
    };
    match pointer_get_mut(document, parent) {
        Some(Value::Object(map)) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Some(Value::Array(items)) if last == "-" => {
            items.push(value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i <= items.len())
                .ok_or_else(|| {
                    format!("add operation does not apply: index out of bounds: {path:?}")
                })?;
            items.insert(index, value);
            Ok(())
        }
        _ => Err(missing_path("add", path)),
    }
}

fn pointer_remove(document: &mut Value, path: &str) -> Result<Value, String> {
    let tokens = parse_pointer(path)?;
    let Some((last, parent)) = tokens.split_last() else {
        return Err("remove operation does not apply: cannot remove the document root".to_owned());
    };
    let removed = match pointer_get_mut(document, parent) {
        Some(Value::Object(map)) => map.remove(last),
        Some(Value::Array(items)) => match last.parse::<usize>() {
            Ok(index) if index < items.len() => Some(items.remove(index)),
            _ => None,
        },
        _ => None,
    };
    removed.ok_or_else(|| missing_path("remove", path))
}

fn pointer_replace(document: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = parse_pointer(path)?;
    let target = pointer_get_mut(document, &tokens).ok_or_else(|| missing_path("replace", path))?;
    *target = value;
    Ok(())
}
