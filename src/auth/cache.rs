//! In-process cache of whoami answers, keyed by SHA-256 of the credential (never
//! the credential itself). Entries live `min(ttl, until the session expires)`;
//! rejections at most a few seconds; step-up answers are never reused. Concurrent
//! misses for one credential make a single Kratos call. Revocation in Kratos shows
//! up here after at most the ttl.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use moka::future::Cache;
use moka::Expiry;
use sha2::{Digest, Sha256};

use super::kratos::{KratosClient, KratosUnavailable, SessionCredential, WhoamiOutcome};
use crate::metrics::{Counters, OutcomeLabels};

/// Longest a "no such session" answer is reused.
const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Entry {
    outcome: WhoamiOutcome,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<[u8; 32], Entry> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        entry: &Entry,
        _now: Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub struct SessionCache {
    entries: Option<Cache<[u8; 32], Entry>>,
    ttl: Duration,
    lookups: Option<Counters<OutcomeLabels>>,
}

impl SessionCache {
    /// `ttl` zero disables caching altogether.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        let entries = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .expire_after(PerEntryTtl)
                .build()
        });
        Self {
            entries,
            ttl,
            lookups: None,
        }
    }

    /// Counts lookups: `hit` when no Kratos call was made for this one (also when it
    /// waited for a concurrent identical lookup), `miss` when Kratos was asked.
    pub fn with_metrics(mut self, lookups: Counters<OutcomeLabels>) -> Self {
        self.lookups = Some(lookups);
        self
    }

    fn count(&self, outcome: &'static str) {
        if let Some(lookups) = &self.lookups {
            lookups.get_or_create(&OutcomeLabels { outcome }).inc();
        }
    }

    pub async fn whoami(
        &self,
        kratos: &KratosClient,
        credential: &SessionCredential,
    ) -> Result<WhoamiOutcome, KratosUnavailable> {
        let Some(entries) = &self.entries else {
            self.count("miss");
            return kratos.whoami(credential).await;
        };
        let loaded = AtomicBool::new(false);
        let load = async {
            loaded.store(true, Ordering::Relaxed);
            let outcome = kratos.whoami(credential).await?;
            let ttl = self.ttl_for(&outcome);
            Ok::<_, KratosUnavailable>(Entry { outcome, ttl })
        };
        let result = entries
            .try_get_with(cache_key(credential), load)
            .await
            .map(|entry| entry.outcome)
            .map_err(|err: Arc<KratosUnavailable>| (*err).clone());
        self.count(if loaded.load(Ordering::Relaxed) {
            "miss"
        } else {
            "hit"
        });
        result
    }

    fn ttl_for(&self, outcome: &WhoamiOutcome) -> Duration {
        match outcome {
            WhoamiOutcome::Active(session) => {
                let left = session.expires_at.map_or(self.ttl, |at| {
                    (at - Utc::now()).to_std().unwrap_or_default()
                });
                self.ttl.min(left)
            }
            WhoamiOutcome::Unauthorized => self.ttl.min(MAX_NEGATIVE_TTL),
            WhoamiOutcome::AalRequired { .. } => Duration::ZERO,
        }
    }
}

fn cache_key(credential: &SessionCredential) -> [u8; 32] {
    let mut hasher = Sha256::new();
    match credential {
        SessionCredential::Token(token) => {
            hasher.update(b"token:");
            hasher.update(token.as_bytes());
        }
        SessionCredential::Cookie(value) => {
            hasher.update(b"cookie:");
            hasher.update(value.as_bytes());
        }
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::kratos::SessionInfo;

    #[test]
    fn ttl_never_outlives_the_session() {
        let cache = SessionCache::new(Duration::from_secs(30), 10);
        let soon = SessionInfo {
            session_id: uuid::Uuid::nil(),
            identity_id: uuid::Uuid::nil(),
            expires_at: Some(Utc::now() + chrono::Duration::seconds(3)),
            verified_emails: vec![],
        };
        let ttl = cache.ttl_for(&WhoamiOutcome::Active(soon));
        assert!(ttl <= Duration::from_secs(3) && ttl > Duration::from_secs(1));
        assert_eq!(
            cache.ttl_for(&WhoamiOutcome::Unauthorized),
            MAX_NEGATIVE_TTL
        );
        let aal = WhoamiOutcome::AalRequired {
            redirect_browser_to: None,
        };
        assert_eq!(cache.ttl_for(&aal), Duration::ZERO);
    }

    #[test]
    fn tokens_and_cookies_do_not_share_keys() {
        let token = SessionCredential::Token("same".into());
        let cookie = SessionCredential::Cookie("same".into());
        assert_ne!(cache_key(&token), cache_key(&cookie));
    }
}
