//! Turns request headers into a [`Caller`]: a Polis API key, or a Kratos session
//! (cookie, `X-Session-Token` or bearer token) that Kratos confirms. Credentials are
//! never logged; an unreachable Kratos means 503, never "authenticated".

pub mod access_tokens;
pub mod api_keys;
pub mod cache;
pub mod hydra;
pub mod identities;
pub mod kratos;
pub mod signing_keys;
pub mod tokens;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::caller::{ApiKeyCaller, IdentityCaller, IdentityCredential, SessionRef};
use crate::domain::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::metrics::Metrics;
use crate::rate_limit::{ClientIp, RateLimits};
use crate::store::{ApiKeyRecord, Store};
use access_tokens::AccessTokens;
use cache::SessionCache;
use kratos::{KratosClient, KratosIdentity, SessionCredential, WhoamiOutcome};

/// A credential found in the request, before it is checked.
enum Presented {
    ApiKey(String),
    /// A Hydra OAuth2 access token (`ory_at_…`).
    AccessToken(String),
    Session(SessionCredential),
}

pub struct Authenticator {
    kratos: KratosClient,
    sessions: SessionCache,
    access_tokens: AccessTokens,
    store: Arc<dyn Store>,
    /// API keys found in the database, reused for `POLIS_API_KEY_CACHE_TTL` (≤ 5 s): a
    /// revoked key keeps working that long at most, on each replica.
    api_keys: moka::future::Cache<Uuid, Arc<ApiKeyRecord>>,
    cookie_name: String,
    allowed_origins: Vec<String>,
}

impl Authenticator {
    pub fn new(
        settings: &Settings,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            kratos: KratosClient::new(settings, settings.kratos_timeout())?
                .with_metrics(metrics.clone()),
            sessions: SessionCache::new(
                settings.session_cache_ttl(),
                settings.session_cache_capacity,
            )
            .with_metrics(metrics.session_cache.clone()),
            access_tokens: AccessTokens::new(
                &settings.claims,
                settings.session_cache_ttl(),
                settings.session_cache_capacity,
            )?,
            store,
            api_keys: moka::future::Cache::builder()
                .max_capacity(if settings.api_key_cache_ttl == 0 {
                    0
                } else {
                    10_000
                })
                .time_to_live(std::time::Duration::from_secs(
                    settings.api_key_cache_ttl.max(1),
                ))
                .build(),
            cookie_name: settings.kratos_session_cookie.clone(),
            allowed_origins: settings.allowed_origins(),
        })
    }

    pub fn kratos(&self) -> &KratosClient {
        &self.kratos
    }

    /// Authenticates one request from its method and headers.
    pub async fn authenticate(&self, method: &Method, headers: &HeaderMap) -> ApiResult<Caller> {
        match self.presented(headers)? {
            Presented::ApiKey(key) => self.api_key(&key).await,
            Presented::AccessToken(token) => self.access_tokens.authenticate(method, &token).await,
            Presented::Session(credential) => {
                let via_cookie = matches!(credential, SessionCredential::Cookie(_));
                if via_cookie && !is_safe(method) {
                    self.check_origin(headers)?;
                }
                self.session(&credential, via_cookie).await
            }
        }
    }

    /// Whether the request carries something that looks like a credential (checked or
    /// not): requests without one are limited per client IP before they reach a route.
    pub fn presents_credential(&self, headers: &HeaderMap) -> bool {
        self.presented(headers).is_ok()
    }

    /// Picks the credential: `Authorization: Bearer` (a Polis key, a Hydra access token or
    /// a session token), then `X-Session-Token`, then the Kratos session cookie.
    fn presented(&self, headers: &HeaderMap) -> ApiResult<Presented> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let value = value.to_str().map_err(|_| unauthenticated())?;
            let token = bearer_token(value).ok_or_else(unauthenticated)?;
            return Ok(if token.starts_with(api_keys::PREFIX) {
                Presented::ApiKey(token.to_owned())
            } else if token.starts_with(access_tokens::PREFIX) {
                Presented::AccessToken(token.to_owned())
            } else {
                Presented::Session(SessionCredential::Token(token.to_owned()))
            });
        }
        if let Some(value) = headers.get("x-session-token") {
            let token = value.to_str().map_err(|_| unauthenticated())?.trim();
            if !token.is_empty() {
                return Ok(Presented::Session(SessionCredential::Token(
                    token.to_owned(),
                )));
            }
        }
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            if let Some(cookie) = find_cookie(value, &self.cookie_name) {
                return Ok(Presented::Session(SessionCredential::Cookie(
                    cookie.to_owned(),
                )));
            }
        }
        Err(unauthenticated())
    }

    /// A cookie-authenticated write must come from an allowed origin (CSRF defence).
    /// Browsers send `Origin` on every cross-site and same-site write; a write without
    /// one is refused too.
    fn check_origin(&self, headers: &HeaderMap) -> ApiResult<()> {
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        match origin {
            Some(origin) if self.allowed_origins.iter().any(|allowed| allowed == origin) => Ok(()),
            _ => Err(ApiError::new(
                ErrorCode::OriginNotAllowed,
                "cookie-authenticated writes must come from an allowed Origin",
            )),
        }
    }

    async fn api_key(&self, presented: &str) -> ApiResult<Caller> {
        let invalid = || ApiError::new(ErrorCode::Unauthenticated, "invalid API key");
        let (id, secret) = api_keys::parse(presented).ok_or_else(invalid)?;
        let record = match self.api_keys.get(&id).await {
            Some(record) => record,
            None => {
                let record = Arc::new(self.store.find_api_key(id).await?.ok_or_else(invalid)?);
                self.api_keys.insert(id, record.clone()).await;
                record
            }
        };
        if record.revoked_at.is_some() || !tokens::matches_hash(secret, &record.secret_hash) {
            return Err(invalid());
        }
        Ok(Caller::ApiKey(ApiKeyCaller {
            id: record.id,
            name: record.name.clone(),
            scope: record.scope,
        }))
    }

    async fn session(&self, credential: &SessionCredential, via_cookie: bool) -> ApiResult<Caller> {
        let outcome = self.sessions.whoami(&self.kratos, credential).await?;
        match outcome {
            WhoamiOutcome::Active(session) => Ok(Caller::Identity(IdentityCaller {
                id: session.identity_id,
                verified_emails: session.verified_emails,
                via_cookie,
                credential: IdentityCredential::Session(SessionRef {
                    id: session.session_id,
                    expires_at: session.expires_at,
                }),
            })),
            WhoamiOutcome::Unauthorized => Err(unauthenticated()),
            WhoamiOutcome::AalRequired {
                redirect_browser_to,
            } => Err(ApiError::aal_required(redirect_browser_to)),
        }
    }

    /// The Kratos identity with this id, `None` when there is none; 503 when Kratos
    /// cannot say.
    pub async fn identity(&self, id: Uuid) -> ApiResult<Option<KratosIdentity>> {
        Ok(self.kratos.identity(id).await?)
    }
}

/// Any state that holds an [`Authenticator`] and [`RateLimits`] authenticates its
/// requests' callers, then counts the request against the caller's rate limit. A
/// credential that does not authenticate counts against the client IP's limit instead,
/// so guessing tokens is throttled like anonymous traffic.
impl<S> FromRequestParts<S> for Caller
where
    Arc<Authenticator>: FromRef<S>,
    Arc<RateLimits>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Caller> {
        let auth = Arc::<Authenticator>::from_ref(state);
        let limits = Arc::<RateLimits>::from_ref(state);
        match auth.authenticate(&parts.method, &parts.headers).await {
            Ok(caller) => {
                tracing::Span::current().record("caller", caller.log_label());
                limits.check_caller(&caller, &parts.method)?;
                Ok(caller)
            }
            Err(err) if err.code() == ErrorCode::Unauthenticated => {
                let client = parts.extensions.get::<ClientIp>().copied();
                limits.check_client(client.unwrap_or(ClientIp(None)))?;
                Err(err)
            }
            Err(err) => Err(err),
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `Bearer <token>`: scheme case-insensitive, exactly one space, non-empty token.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

fn find_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

fn unauthenticated() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthenticated,
        "a valid Kratos session or Polis API key is required",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer a b"), None);
    }

    #[test]
    fn cookie_parsing() {
        let header = "theme=dark; ory_kratos_session=abc123; other=1";
        assert_eq!(find_cookie(header, "ory_kratos_session"), Some("abc123"));
        assert_eq!(
            find_cookie("ory_kratos_session=", "ory_kratos_session"),
            None
        );
        assert_eq!(find_cookie("theme=dark", "ory_kratos_session"), None);
    }
}
