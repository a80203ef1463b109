//! Hydra access tokens (`Authorization: Bearer ory_at_…`) as callers. Introspection
//! answers are cached in-process like whoami answers: keyed by SHA-256 of the token,
//! for `min(ttl, until the token expires)`, inactive answers at most a few seconds,
//! concurrent misses single-flighted. A token acts as its `sub` identity, limited by
//! scope: safe methods need the read or the write scope, every other method the write one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use chrono::Utc;
use moka::future::Cache;
use moka::Expiry;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::hydra::{HydraClient, HydraUnavailable, Introspection};
use crate::config::ClaimsSettings;
use crate::domain::caller::{AccessTokenGrant, IdentityCaller, IdentityCredential};
use crate::domain::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// The prefix of Hydra's opaque access tokens.
pub const PREFIX: &str = "ory_at_";

/// Longest an "inactive" answer is reused: a token Hydra has just issued may be tried
/// before it is known everywhere.
const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Entry {
    answer: Introspection,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<[u8; 32], Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &[u8; 32], entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub struct AccessTokens {
    hydra: Option<HydraClient>,
    answers: Option<Cache<[u8; 32], Entry>>,
    ttl: Duration,
    read_scope: String,
    write_scope: String,
}

impl AccessTokens {
    /// `cache_ttl` zero disables the cache (as for sessions).
    pub fn new(
        settings: &ClaimsSettings,
        cache_ttl: Duration,
        capacity: u64,
    ) -> anyhow::Result<Self> {
        let hydra = settings
            .hydra_admin_url
            .as_ref()
            .map(|url| HydraClient::new(url, settings.hydra_timeout()))
            .transpose()?;
        let answers = (!cache_ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .expire_after(PerEntryTtl)
                .build()
        });
        Ok(Self {
            hydra,
            answers,
            ttl: cache_ttl,
            read_scope: settings.hydra_read_scope.clone(),
            write_scope: settings.hydra_write_scope.clone(),
        })
    }

    /// The identity `token` acts for, if its scopes allow `method`.
    pub async fn authenticate(&self, method: &Method, token: &str) -> ApiResult<Caller> {
        let Some(hydra) = &self.hydra else {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "OAuth2 access tokens are not accepted: Polis has no HYDRA_ADMIN_URL",
            ));
        };
        let Introspection::Active(active) = self.introspect(hydra, token).await? else {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "the access token is not active",
            ));
        };
        // A client-credentials token's subject is its client: it acts for no identity.
        let identity = Uuid::try_parse(&active.subject)
            .ok()
            .filter(|_| active.subject != active.client_id)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Forbidden,
                    "the access token acts for no Kratos identity (client credentials)",
                )
            })?;
        self.check_scope(method, &active.scopes)?;
        Ok(Caller::Identity(IdentityCaller {
            id: identity,
            // Introspection says nothing about verified addresses: invitations to the
            // identity's e-mail need its Kratos session.
            verified_emails: Vec::new(),
            via_cookie: false,
            credential: IdentityCredential::AccessToken(AccessTokenGrant {
                client_id: active.client_id,
                scopes: active.scopes,
            }),
        }))
    }

    fn check_scope(&self, method: &Method, scopes: &[String]) -> ApiResult<()> {
        let has = |wanted: &str| scopes.iter().any(|s| s == wanted);
        let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if has(&self.write_scope) || (reads && has(&self.read_scope)) {
            return Ok(());
        }
        let needed = if reads {
            format!("{} or {}", self.read_scope, self.write_scope)
        } else {
            self.write_scope.clone()
        };
        Err(ApiError::new(
            ErrorCode::InsufficientScope,
            format!("this request needs an access token with the scope {needed}"),
        ))
    }

    async fn introspect(
        &self,
        hydra: &HydraClient,
        token: &str,
    ) -> Result<Introspection, HydraUnavailable> {
        let Some(answers) = &self.answers else {
            return hydra.introspect(token).await;
        };
        let load = async {
            let answer = hydra.introspect(token).await?;
            let ttl = self.ttl_for(&answer);
            Ok::<_, HydraUnavailable>(Entry { answer, ttl })
        };
        answers
            .try_get_with(Sha256::digest(token.as_bytes()).into(), load)
            .await
            .map(|entry| entry.answer)
            .map_err(|err: Arc<HydraUnavailable>| (*err).clone())
    }

    fn ttl_for(&self, answer: &Introspection) -> Duration {
        match answer {
            Introspection::Active(token) => {
                let left = token.expires_at.map_or(self.ttl, |at| {
                    (at - Utc::now()).to_std().unwrap_or_default()
                });
                self.ttl.min(left)
            }
            Introspection::Inactive => self.ttl.min(MAX_NEGATIVE_TTL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hydra::ActiveToken;
    use crate::config::Settings;

    fn tokens() -> AccessTokens {
        let settings = Settings::from_env();
        AccessTokens::new(&settings.claims, Duration::from_secs(30), 10).unwrap()
    }

    #[test]
    fn scopes_limit_methods() {
        let tokens = tokens();
        let scopes = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let read = scopes(&["openid", "orgs:read"]);
        let write = scopes(&["orgs:write"]);
        assert!(tokens.check_scope(&Method::GET, &read).is_ok());
        assert!(tokens.check_scope(&Method::GET, &write).is_ok());
        assert!(tokens.check_scope(&Method::PATCH, &write).is_ok());
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let err = tokens.check_scope(&method, &read).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InsufficientScope, "{method}");
        }
        let none = tokens.check_scope(&Method::GET, &scopes(&["openid"]));
        assert_eq!(none.unwrap_err().code(), ErrorCode::InsufficientScope);
    }

    #[test]
    fn answers_never_outlive_the_token() {
        let tokens = tokens();
        let soon = ActiveToken {
            subject: Uuid::nil().to_string(),
            client_id: "app".into(),
            scopes: vec![],
            expires_at: Some(Utc::now() + chrono::Duration::seconds(3)),
        };
        let ttl = tokens.ttl_for(&Introspection::Active(soon));
        assert!(ttl <= Duration::from_secs(3) && ttl > Duration::from_secs(1));
        assert_eq!(tokens.ttl_for(&Introspection::Inactive), MAX_NEGATIVE_TTL);
    }
}
