//! Enrollment when an identity is seen (its `/me/*` calls and `/me/token`), kept off the
//! database in the common case. Two bounded, short-lived caches decide whether the
//! store has anything to do:
//!
//! - the verified domains whose mode is automatic, shared by every request and read
//!   again at most every [`DOMAINS_TTL`] (one query);
//! - per identity, a fingerprint of what its last enrollment was evaluated against
//!   (its verified addresses and the automatic domains among theirs).
//!
//! While both are unchanged the call costs nothing; otherwise the store records the
//! addresses and enrolls (`EnrollmentStore::enroll_identity`), itself reading first and
//! writing only when something is due. The caches are an optimisation: losing them, or
//! running several replicas, costs an evaluation, never a wrong answer — the database
//! decides, and a domain that changes enrolls the identities it concerns itself, through
//! the background worker of [`worker`].

pub mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::domain::enrollment::{address_domain, fingerprint, AutomaticDomain};
use crate::store::{Enrolled, Store, StoreResult};

/// How long the set of automatic domains is reused.
pub const DOMAINS_TTL: Duration = Duration::from_secs(5);
/// How long an identity's last evaluation is trusted.
const SEEN_TTL: Duration = Duration::from_secs(15 * 60);
/// Identities remembered at most.
const SEEN_CAPACITY: u64 = 100_000;

type DomainSet = Arc<HashMap<String, AutomaticDomain>>;

pub struct Enrollment {
    domains: Cache<(), DomainSet>,
    seen: Cache<Uuid, u64>,
    default_role: String,
    /// Wakes this replica's domain enrollment worker (others poll).
    domain_requests: Notify,
}

impl Enrollment {
    /// Invitations made by domains get `default_role`.
    pub fn new(default_role: String) -> Self {
        Enrollment {
            domains: Cache::builder()
                .max_capacity(1)
                .time_to_live(DOMAINS_TTL)
                .build(),
            seen: Cache::builder()
                .max_capacity(SEEN_CAPACITY)
                .time_to_live(SEEN_TTL)
                .build(),
            default_role,
            domain_requests: Notify::new(),
        }
    }

    /// Forgets the domain set, so this replica reads it again at its next request, and
    /// wakes the domain enrollment worker (after a domain change made here).
    pub async fn domains_changed(&self) {
        self.domains.invalidate(&()).await;
        self.domain_requests.notify_one();
    }

    /// Enrolls the identity if its addresses or the automatic domains at them changed
    /// since it was last evaluated here.
    pub async fn observe(
        &self,
        store: &dyn Store,
        identity: Uuid,
        addresses: &[String],
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Enrolled> {
        let domains = self
            .domains
            .try_get_with((), async {
                let all = store.automatic_domains().await?;
                Ok::<_, crate::store::StoreError>(Arc::new(all.into_iter().collect()))
            })
            .await
            .map_err(unshare)?;
        // Most instances have few automatic domains, many none: no name work then.
        let relevant: Vec<AutomaticDomain> = if domains.is_empty() {
            Vec::new()
        } else {
            addresses
                .iter()
                .filter_map(|address| address_domain(address))
                .filter_map(|domain| domains.get(&domain).copied())
                .collect()
        };
        let print = fingerprint(addresses, &relevant);
        if self.seen.get(&identity).await == Some(print) {
            return Ok(Enrolled::default());
        }
        let enrolled = store
            .enroll_identity(identity, addresses, &self.default_role, now)
            .await?;
        self.seen.insert(identity, print).await;
        Ok(enrolled)
    }
}

/// The store error a shared refresh failed with, for this caller.
fn unshare(err: Arc<crate::store::StoreError>) -> crate::store::StoreError {
    match Arc::try_unwrap(err) {
        Ok(err) => err,
        Err(shared) => crate::store::StoreError::Database(sqlx::Error::Protocol(format!(
            "refreshing the automatic domains: {shared}"
        ))),
    }
}
