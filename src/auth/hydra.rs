//! Polis's Hydra client: RFC 7662 introspection of OAuth2 access tokens on Hydra's admin
//! API (`POST /admin/oauth2/introspect`, form `token=…`). Hydra answers 200 for every
//! token it could judge (`{"active": false}` for unknown, expired or revoked ones); anything
//! else, including a slow or unreachable Hydra, is `Unavailable`: Polis fails closed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;

use crate::error::{ApiError, ErrorCode};

/// What Hydra said about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspection {
    Active(ActiveToken),
    /// Unknown, expired, revoked, not yet valid, or not an access token.
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveToken {
    /// `sub`: the Kratos identity id for a user's token; the client id for the
    /// client-credentials grant.
    pub subject: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("Hydra unavailable: {0}")]
pub struct HydraUnavailable(pub String);

/// A route that needs Hydra answers 503 when Hydra cannot: the cause goes to the log
/// (it never holds the token), the client gets the same code as for Kratos.
impl From<HydraUnavailable> for ApiError {
    fn from(err: HydraUnavailable) -> Self {
        tracing::warn!(error = %err, "Hydra introspection failed");
        ApiError::new(
            ErrorCode::IdentityProviderUnavailable,
            "the OAuth2 server could not be reached; try again",
        )
    }
}

/// The fields of an introspection answer Polis reads; Hydra sends more.
#[derive(Deserialize)]
struct IntrospectionBody {
    active: bool,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    /// Space-separated; absent when the token has no scope.
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    /// `access_token` or `refresh_token`.
    #[serde(default)]
    token_use: Option<String>,
}

#[derive(Clone)]
pub struct HydraClient {
    http: reqwest::Client,
    introspect_url: url::Url,
}

impl HydraClient {
    /// A client for Hydra's admin API at `admin_url` whose calls give up after `timeout`.
    pub fn new(admin_url: &url::Url, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut base = admin_url.clone();
        if !base.path().ends_with('/') {
            let with_slash = format!("{}/", base.path());
            base.set_path(&with_slash);
        }
        Ok(Self {
            http,
            introspect_url: base.join("admin/oauth2/introspect")?,
        })
    }

    #[tracing::instrument(skip_all)]
    pub async fn introspect(&self, token: &str) -> Result<Introspection, HydraUnavailable> {
        let response = self
            .http
            .post(self.introspect_url.clone())
            .form(&[("token", token)])
            .send()
            .await
            .map_err(unavailable)?;
        if response.status() != StatusCode::OK {
            return Err(HydraUnavailable(format!(
                "introspection answered {}",
                response.status()
            )));
        }
        let body: IntrospectionBody = response.json().await.map_err(unavailable)?;
        Ok(judge(body, Utc::now()))
    }
}

/// Only an active access token that is valid at `now` and names its subject and client
/// counts; whatever Hydra's `active` says, a token past `exp` or before `nbf` does not.
fn judge(body: IntrospectionBody, now: DateTime<Utc>) -> Introspection {
    let at = |seconds: Option<i64>| seconds.and_then(|s| DateTime::from_timestamp(s, 0));
    let expires_at = at(body.exp);
    let valid_now =
        expires_at.is_none_or(|exp| exp > now) && at(body.nbf).is_none_or(|nbf| nbf <= now);
    let is_access_token = body
        .token_use
        .as_deref()
        .is_none_or(|u| u == "access_token");
    match (
        body.active && valid_now && is_access_token,
        body.sub,
        body.client_id,
    ) {
        (true, Some(subject), Some(client_id)) if !subject.is_empty() => {
            Introspection::Active(ActiveToken {
                subject,
                client_id,
                scopes: body
                    .scope
                    .unwrap_or_default()
                    .split_ascii_whitespace()
                    .map(str::to_owned)
                    .collect(),
                expires_at,
            })
        }
        _ => Introspection::Inactive,
    }
}

/// Describes a transport failure without the request (and so without the token).
fn unavailable(err: reqwest::Error) -> HydraUnavailable {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_decode() {
        "unreadable response"
    } else {
        "request failed"
    };
    HydraUnavailable(kind.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> IntrospectionBody {
        serde_json::from_value(json).expect("an introspection body")
    }

    #[test]
    fn reads_hydras_active_answer() {
        let now = Utc::now();
        let exp = now.timestamp() + 300;
        let answer = judge(
            body(serde_json::json!({
                "active": true, "client_id": "app", "sub": "6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11",
                "exp": exp, "iat": exp - 600, "nbf": exp - 600, "aud": [],
                "iss": "http://hydra:4444/", "token_type": "Bearer",
                "token_use": "access_token", "scope": "openid orgs:read"
            })),
            now,
        );
        let Introspection::Active(token) = answer else {
            panic!("{answer:?}")
        };
        assert_eq!(token.scopes, ["openid", "orgs:read"]);
        assert_eq!(token.client_id, "app");
        assert_eq!(token.expires_at.map(|t| t.timestamp()), Some(exp));
    }

    #[test]
    fn anything_but_a_live_access_token_is_inactive() {
        let now = Utc::now().timestamp();
        let live = serde_json::json!({"active": true, "client_id": "app", "sub": "x"});
        let cases = [
            serde_json::json!({"active": false}),
            serde_json::json!({"active": true, "client_id": "app", "sub": "x", "exp": now - 1}),
            serde_json::json!({"active": true, "client_id": "app", "sub": "x", "nbf": now + 60}),
            serde_json::json!({"active": true, "client_id": "app", "sub": "x", "token_use": "refresh_token"}),
            serde_json::json!({"active": true, "client_id": "app"}),
            serde_json::json!({"active": true, "sub": "x"}),
        ];
        for case in cases {
            assert_eq!(
                judge(body(case.clone()), Utc::now()),
                Introspection::Inactive,
                "{case}"
            );
        }
        assert!(matches!(
            judge(body(live), Utc::now()),
            Introspection::Active(_)
        ));
    }
}
