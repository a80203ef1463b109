//! An in-process test double of Ory Hydra v26.2.0's admin token introspection,
//! reproducing the wire format `docs/kratos.md` §9 describes:
//!
//! * `POST /admin/oauth2/introspect` with a form body `token=…` (and an optional
//!   space-separated `scope=`, which makes a token lacking any of those scopes inactive);
//! * an unknown, expired, revoked or scope-lacking token: **200** `{"active":false}`;
//! * an active one: 200 with `active, client_id, sub, exp, iat, nbf, aud ([]), iss,
//!   token_type ("Bearer"), token_use` and `scope` / `ext` only when non-empty;
//! * success bodies as `application/json;charset=UTF-8` with `Cache-Control: no-store` and
//!   `Pragma: no-cache`; a missing token is an OAuth2 `invalid_request` error (400) whose
//!   body echoes an incoming `X-Request-Id` as `request_id`.
//!
//! Tokens are minted like Hydra's opaque ones: `ory_at_…` access tokens and `ory_rt_…`
//! refresh tokens. Tests can inject latency and failure statuses and count calls.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Utc;
use rand::RngCore;
use serde_json::{json, Value};

const JSON_UTF8: &str = "application/json;charset=UTF-8";

#[derive(Clone)]
struct Grant {
    subject: String,
    client_id: String,
    scopes: Vec<String>,
    issued_at: i64,
    expires_at: i64,
    token_use: &'static str,
    revoked: bool,
    ext: Option<Value>,
}

#[derive(Default)]
struct Shared {
    issuer: String,
    grants: Mutex<HashMap<String, Grant>>,
    latency: Mutex<Duration>,
    fail_status: Mutex<Option<u16>>,
    calls: AtomicUsize,
}

/// A running Hydra introspection double on `127.0.0.1`.
pub struct HydraDouble {
    shared: Arc<Shared>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl HydraDouble {
    pub async fn start() -> HydraDouble {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("hydra double: bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            issuer: format!("{url}/"),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/admin/oauth2/introspect", post(introspect))
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        HydraDouble {
            shared,
            url,
            stop: Some(stop),
        }
    }

    /// The admin API's base URL (no trailing slash).
    pub fn admin_url(&self) -> String {
        self.url.clone()
    }

    /// An access token a user (`identity`) granted `client_id` with `scopes`, valid `ttl`.
    pub fn issue(&self, identity: &str, client_id: &str, scopes: &[&str], ttl: Duration) -> String {
        self.mint("ory_at_", identity, client_id, scopes, ttl, "access_token")
    }

    /// A client-credentials access token: its subject is the client itself.
    pub fn issue_client_credentials(&self, client_id: &str, scopes: &[&str]) -> String {
        let ttl = Duration::from_secs(3600);
        self.mint("ory_at_", client_id, client_id, scopes, ttl, "access_token")
    }

    /// A refresh token (introspects as active, with `token_use: refresh_token`).
    pub fn issue_refresh_token(&self, identity: &str, client_id: &str, scopes: &[&str]) -> String {
        let ttl = Duration::from_secs(3600);
        self.mint("ory_rt_", identity, client_id, scopes, ttl, "refresh_token")
    }

    pub fn revoke(&self, token: &str) {
        if let Some(grant) = lock(&self.shared.grants).get_mut(token) {
            grant.revoked = true;
        }
    }

    /// Introspection calls answered so far.
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }

    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    /// Every call answers this status with an OAuth2 error body (`None`: behave).
    pub fn fail_with_status(&self, status: Option<u16>) {
        *lock(&self.shared.fail_status) = status;
    }

    fn mint(
        &self,
        prefix: &str,
        subject: &str,
        client_id: &str,
        scopes: &[&str],
        ttl: Duration,
        token_use: &'static str,
    ) -> String {
        // Hydra's opaque tokens: a random key and its HMAC signature, both base64url.
        let part = || {
            let mut bytes = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            URL_SAFE_NO_PAD.encode(bytes)
        };
        let token = format!("{prefix}{}.{}", part(), part());
        let now = Utc::now().timestamp();
        let grant = Grant {
            subject: subject.to_owned(),
            client_id: client_id.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            issued_at: now,
            expires_at: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            token_use,
            revoked: false,
            ext: None,
        };
        lock(&self.shared.grants).insert(token.clone(), grant);
        token
    }
}

impl Drop for HydraDouble {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    let latency = *lock(&shared.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok());
    if let Some(status) = *lock(&shared.fail_status) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return oauth2_error(status, "server_error", "The authorization server encountered an unexpected condition that prevented it from fulfilling the request.", request_id);
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return oauth2_error(StatusCode::BAD_REQUEST, "invalid_request", "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed. Make sure that the various parameters are correct, be aware of case sensitivity and trim your parameters. Make sure that the client you are using has exactly whitelisted the redirect_uri you specified.", request_id);
    };
    let wanted: Vec<&str> = form
        .get("scope")
        .map(|s| s.split_ascii_whitespace().collect())
        .unwrap_or_default();
    let grant = lock(&shared.grants).get(token).cloned();
    let now = Utc::now().timestamp();
    let body = match grant {
        Some(grant)
            if !grant.revoked
                && grant.expires_at > now
                && wanted.iter().all(|w| grant.scopes.iter().any(|s| s == w)) =>
        {
            active_body(&grant, &shared.issuer)
        }
        _ => json!({ "active": false }),
    };
    json_response(StatusCode::OK, &body)
}

fn active_body(grant: &Grant, issuer: &str) -> Value {
    let mut body = json!({
        "active": true,
        "client_id": grant.client_id,
        "sub": grant.subject,
        "exp": grant.expires_at,
        "iat": grant.issued_at,
        "nbf": grant.issued_at,
        "aud": [],
        "iss": issuer,
        "token_type": "Bearer",
        "token_use": grant.token_use,
    });
    if !grant.scopes.is_empty() {
        body["scope"] = json!(grant.scopes.join(" "));
    }
    if let Some(ext) = &grant.ext {
        body["ext"] = ext.clone();
    }
    body
}

fn oauth2_error(
    status: StatusCode,
    error: &str,
    description: &str,
    request_id: Option<&str>,
) -> Response {
    let mut body = json!({
        "error": error,
        "error_description": description,
        "status_code": status.as_u16(),
    });
    if let Some(id) = request_id {
        body["request_id"] = json!(id);
    }
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
