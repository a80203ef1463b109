//! Polis's one Kratos client: `GET /sessions/whoami` (public API) turns a session into
//! an identity; the admin API's `GET /admin/identities/{id}` and `GET /admin/identities`
//! (by ids, by login identifier, or every identity page by page) find identities.
//! Anything but a clear answer is `Unavailable`: Polis fails closed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::config::Settings;
use crate::error::{ApiError, ErrorCode};
use crate::metrics::{Metrics, UpstreamLabels};

/// A session credential, exactly as the caller presented it.
#[derive(Clone)]
pub enum SessionCredential {
    /// `X-Session-Token` or `Authorization: Bearer`.
    Token(String),
    /// The value of the Kratos session cookie.
    Cookie(String),
}

impl std::fmt::Debug for SessionCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionCredential::Token(_) => f.write_str("Token(<redacted>)"),
            SessionCredential::Cookie(_) => f.write_str("Cookie(<redacted>)"),
        }
    }
}

/// What Kratos said about a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhoamiOutcome {
    Active(SessionInfo),
    /// 401: missing, unknown, expired or revoked session.
    Unauthorized,
    /// 403: the session must be stepped up to AAL2 first.
    AalRequired {
        redirect_browser_to: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The Kratos session's own id (`sid` in org tokens; the active org is kept per session).
    pub session_id: Uuid,
    pub identity_id: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
    pub verified_emails: Vec<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("Kratos unavailable: {0}")]
pub struct KratosUnavailable(pub String);

/// A route that needs Kratos answers 503 when Kratos cannot: the cause goes to the log
/// (it never holds a credential), the client gets a stable code.
impl From<KratosUnavailable> for ApiError {
    fn from(err: KratosUnavailable) -> Self {
        tracing::warn!(error = %err, "Kratos call failed");
        ApiError::new(
            ErrorCode::IdentityProviderUnavailable,
            "the identity provider could not be reached; try again",
        )
    }
}

#[derive(Deserialize)]
struct SessionBody {
    id: Uuid,
    active: Option<bool>,
    expires_at: Option<DateTime<Utc>>,
    identity: IdentityBody,
}

#[derive(Deserialize)]
struct IdentityBody {
    id: Uuid,
    #[serde(default)]
    verifiable_addresses: Vec<AddressBody>,
}

#[derive(Deserialize)]
struct AddressBody {
    value: String,
    #[serde(default)]
    verified: bool,
    #[serde(default)]
    via: String,
}

#[derive(Deserialize)]
struct AalBody {
    redirect_browser_to: Option<String>,
}

#[derive(Clone)]
pub struct KratosClient {
    http: reqwest::Client,
    whoami_url: url::Url,
    admin_identities_url: url::Url,
    cookie_name: String,
    metrics: Option<Arc<Metrics>>,
}

impl KratosClient {
    /// A client for the configured Kratos whose every call gives up after `timeout`.
    pub fn new(settings: &Settings, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            whoami_url: join(&settings.kratos_public_url, "sessions/whoami")?,
            admin_identities_url: join(&settings.kratos_admin_url, "admin/identities/")?,
            cookie_name: settings.kratos_session_cookie.clone(),
            metrics: None,
        })
    }

    /// Counts every call, by operation and outcome, with its latency.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn observe(&self, operation: &'static str, outcome: &'static str, started: Instant) {
        if let Some(metrics) = &self.metrics {
            let labels = UpstreamLabels {
                service: "kratos",
                operation,
                outcome,
            };
            metrics.observe_upstream(labels, started.elapsed());
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn whoami(
        &self,
        credential: &SessionCredential,
    ) -> Result<WhoamiOutcome, KratosUnavailable> {
        let started = Instant::now();
        let result = self.ask_whoami(credential).await;
        let outcome = match &result {
            Ok(WhoamiOutcome::Active(_)) => "active",
            Ok(WhoamiOutcome::Unauthorized) => "unauthorized",
            Ok(WhoamiOutcome::AalRequired { .. }) => "aal_required",
            Err(_) => "error",
        };
        self.observe("whoami", outcome, started);
        result
    }

    async fn ask_whoami(
        &self,
        credential: &SessionCredential,
    ) -> Result<WhoamiOutcome, KratosUnavailable> {
        let request = self.http.get(self.whoami_url.clone());
        let request = match credential {
            SessionCredential::Token(token) => request.header("X-Session-Token", token),
            SessionCredential::Cookie(value) => {
                request.header("Cookie", format!("{}={value}", self.cookie_name))
            }
        };
        let response = request.send().await.map_err(unavailable)?;
        match response.status() {
            StatusCode::OK => {
                let body: SessionBody = response.json().await.map_err(unavailable)?;
                Ok(session_outcome(body))
            }
            StatusCode::UNAUTHORIZED => Ok(WhoamiOutcome::Unauthorized),
            StatusCode::FORBIDDEN => {
                let body: Option<AalBody> = response.json().await.ok();
                Ok(WhoamiOutcome::AalRequired {
                    redirect_browser_to: body.and_then(|b| b.redirect_browser_to),
                })
            }
            other => Err(KratosUnavailable(format!("whoami answered {other}"))),
        }
    }

    /// The identity with this id, or `None` when Kratos has none.
    #[tracing::instrument(skip_all, fields(identity = %id))]
    pub async fn identity(&self, id: Uuid) -> Result<Option<KratosIdentity>, KratosUnavailable> {
        let started = Instant::now();
        let result = self.get_identity(id).await;
        let outcome = match &result {
            Ok(Some(_)) => "ok",
            Ok(None) => "not_found",
            Err(_) => "error",
        };
        self.observe("get_identity", outcome, started);
        result
    }

    async fn get_identity(&self, id: Uuid) -> Result<Option<KratosIdentity>, KratosUnavailable> {
        let url = join(&self.admin_identities_url, &id.to_string())
            .map_err(|e| KratosUnavailable(e.to_string()))?;
        let response = self.http.get(url).send().await.map_err(unavailable)?;
        match response.status() {
            StatusCode::OK => Ok(Some(response.json().await.map_err(unavailable)?)),
            StatusCode::NOT_FOUND => Ok(None),
            other => Err(KratosUnavailable(format!(
                "admin identity lookup answered {other}"
            ))),
        }
    }

    /// The identities among `ids` that exist (at most [`MAX_IDS_PER_CALL`] per call).
    #[tracing::instrument(skip_all, fields(count = ids.len()))]
    pub async fn identities(&self, ids: &[Uuid]) -> Result<Vec<KratosIdentity>, KratosUnavailable> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_IDS_PER_CALL) {
            // Kratos pages even an `ids` lookup (250 by default), so ask for a whole chunk.
            let mut query: Vec<(&str, String)> =
                chunk.iter().map(|id| ("ids", id.to_string())).collect();
            query.push(("page_size", MAX_IDS_PER_CALL.to_string()));
            found.extend(self.list_identities(&query).await?);
        }
        Ok(found)
    }

    /// The identity whose login identifier is this e-mail address, if any.
    #[tracing::instrument(skip_all)]
    pub async fn identity_by_email(
        &self,
        email: &str,
    ) -> Result<Option<KratosIdentity>, KratosUnavailable> {
        Ok(self
            .identities_by_identifier(email)
            .await?
            .into_iter()
            .next())
    }

    /// The identities with this login identifier (`credentials_identifier`).
    #[tracing::instrument(skip_all)]
    pub async fn identities_by_identifier(
        &self,
        identifier: &str,
    ) -> Result<Vec<KratosIdentity>, KratosUnavailable> {
        let query = [("credentials_identifier", identifier.to_owned())];
        self.list_identities(&query).await
    }

    /// Pages through every identity, [`MAX_PAGE_SIZE`] at a time, following the `Link`
    /// header's `next` token, and hands each one to `visit` (so a million identities
    /// are never all in memory).
    #[tracing::instrument(skip_all)]
    pub async fn for_each_identity(
        &self,
        mut visit: impl FnMut(ListedIdentity),
    ) -> Result<(), KratosUnavailable> {
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("page_size", MAX_PAGE_SIZE.to_string())];
            if let Some(token) = &token {
                query.push(("page_token", token.clone()));
            }
            let (identities, next) = self.list_page(&query).await?;
            identities.into_iter().for_each(&mut visit);
            match next {
                // A page token that does not move would loop forever.
                Some(next) if Some(&next) != token.as_ref() => token = Some(next),
                _ => return Ok(()),
            }
        }
    }

    async fn list_identities(
        &self,
        query: &[(&str, String)],
    ) -> Result<Vec<KratosIdentity>, KratosUnavailable> {
        Ok(self.list_page(query).await?.0)
    }

    /// One page of `GET /admin/identities`, and the token of the next page if any.
    async fn list_page<T: DeserializeOwned>(
        &self,
        query: &[(&str, String)],
    ) -> Result<(Vec<T>, Option<String>), KratosUnavailable> {
        let started = Instant::now();
        let result = self.fetch_page(query).await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.observe("list_identities", outcome, started);
        result
    }

    async fn fetch_page<T: DeserializeOwned>(
        &self,
        query: &[(&str, String)],
    ) -> Result<(Vec<T>, Option<String>), KratosUnavailable> {
        let url = self.admin_identities_url.as_str().trim_end_matches('/');
        let response = self
            .http
            .get(url)
            .query(query)
            .send()
            .await
            .map_err(unavailable)?;
        if response.status() != StatusCode::OK {
            return Err(KratosUnavailable(format!(
                "admin identity list answered {}",
                response.status()
            )));
        }
        let next = response
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_page_token);
        let page = response.json().await.map_err(unavailable)?;
        Ok((page, next))
    }
}

/// Kratos accepts at most this many `ids` in one list call.
pub const MAX_IDS_PER_CALL: usize = 500;

/// The largest page `GET /admin/identities` gives.
pub const MAX_PAGE_SIZE: usize = 500;

/// The parts of an admin-API identity Polis uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KratosIdentity {
    pub id: Uuid,
    #[serde(default)]
    pub traits: serde_json::Value,
}

/// An identity as the admin list gives it when paging through all of them: its id and
/// the admin metadata (where the Olympus user migration keeps `legacy_clerk_id`).
#[derive(Debug, Deserialize)]
pub struct ListedIdentity {
    pub id: Uuid,
    #[serde(default)]
    pub metadata_admin: Option<Value>,
}

/// The `page_token` of the `rel="next"` entry of a Kratos `Link` header. Only the token is
/// taken: the link is relative to Kratos's root, which may not be where Polis reaches it.
fn next_page_token(link: &str) -> Option<String> {
    link.split(',').find_map(|entry| {
        let (target, params) = entry.split_once(';')?;
        if !params.contains("rel=\"next\"") {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let url = url::Url::parse("http://kratos").ok()?.join(target).ok()?;
        let token = url
            .query_pairs()
            .find(|(k, _)| k == "page_token")
            .map(|(_, v)| v.into_owned());
        token
    })
}

/// An inactive or already expired session is no session, whatever the status said.
fn session_outcome(body: SessionBody) -> WhoamiOutcome {
    let expired = body.expires_at.is_some_and(|at| at <= Utc::now());
    if body.active != Some(true) || expired {
        return WhoamiOutcome::Unauthorized;
    }
    let verified_emails = body
        .identity
        .verifiable_addresses
        .into_iter()
        .filter(|a| a.verified && a.via == "email")
        // Kratos's own stored form, kept as it is (see `check_acceptable`).
        .map(|a| a.value)
        .collect();
    WhoamiOutcome::Active(SessionInfo {
        session_id: body.id,
        identity_id: body.identity.id,
        expires_at: body.expires_at,
        verified_emails,
    })
}

/// Joins a path onto a base URL, keeping any path prefix the base has.
fn join(base: &url::Url, path: &str) -> anyhow::Result<url::Url> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    Ok(base.join(path)?)
}

/// Describes a transport failure without the request (and so without credentials).
fn unavailable(err: reqwest::Error) -> KratosUnavailable {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_decode() {
        "unreadable response"
    } else {
        "request failed"
    };
    KratosUnavailable(kind.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_prefixes() {
        let base = url::Url::parse("http://kratos:4433/prefix").unwrap();
        assert_eq!(
            join(&base, "sessions/whoami").unwrap().as_str(),
            "http://kratos:4433/prefix/sessions/whoami"
        );
        let base = url::Url::parse("http://kratos:4433").unwrap();
        assert_eq!(
            join(&base, "sessions/whoami").unwrap().as_str(),
            "http://kratos:4433/sessions/whoami"
        );
    }

    #[test]
    fn reads_the_next_token() {
        let link = "</admin/identities?page_size=500&page_token=00000000-0000-0000-0000-000000000000>; rel=\"first\",</admin/identities?page_size=500&page_token=6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11>; rel=\"next\"";
        assert_eq!(
            next_page_token(link).as_deref(),
            Some("6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11")
        );
        assert_eq!(next_page_token("</a?page_token=x>; rel=\"first\""), None);
    }

    #[test]
    fn credentials_never_print() {
        let token = SessionCredential::Token("secret-token".into());
        assert!(!format!("{token:?}").contains("secret"));
    }

    #[test]
    fn inactive_or_expired_sessions_are_unauthorized() {
        let body = |active, expires_at| SessionBody {
            id: Uuid::nil(),
            active,
            expires_at,
            identity: IdentityBody {
                id: Uuid::nil(),
                verifiable_addresses: vec![],
            },
        };
        let past = Utc::now() - chrono::Duration::seconds(1);
        let future = Utc::now() + chrono::Duration::hours(1);
        assert_eq!(
            session_outcome(body(Some(false), Some(future))),
            WhoamiOutcome::Unauthorized
        );
        assert_eq!(
            session_outcome(body(None, Some(future))),
            WhoamiOutcome::Unauthorized
        );
        assert_eq!(
            session_outcome(body(Some(true), Some(past))),
            WhoamiOutcome::Unauthorized
        );
        assert!(matches!(
            session_outcome(body(Some(true), Some(future))),
            WhoamiOutcome::Active(_)
        ));
    }
}
