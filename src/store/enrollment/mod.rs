//! Enrollment by verified domain: the verified addresses Polis saw on each identity, and
//! what a verified domain in an automatic mode gives the identities at it — a pending
//! invitation (`automatic_invitation`) or a suggestion (`automatic_suggestion`) — made
//! when the identity is seen with a changed address or the domain becomes verified or
//! changes mode. The rules are `domain::enrollment`'s; suggestions and the requests they
//! lead to are in `suggestions.rs` and `requests.rs`.

mod enroll;
mod forget;
mod jobs;
mod requests;
mod suggestions;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::query;
use super::{Change, Membership, OrgSummary, PageRequest, SqlStore, StoreResult};
use crate::domain::enrollment::{AutomaticDomain, EnrollmentMode, RequestStatus};
use enroll::{
    candidates, enroll_candidates, hold_domains, record_addresses, recorded_as, with_domains, Scope,
};

pub(in crate::store) use jobs::request as request_domain_enrollment;

pub use jobs::{DomainEnrollmentJob, EnrollmentProgress};
pub use requests::{MembershipRequest, RequestWithOrg};
pub use suggestions::Suggestion;

/// What one enrollment created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enrolled {
    pub invitations: usize,
    pub suggestions: usize,
}

impl Enrolled {
    pub fn add(&mut self, other: Enrolled) {
        self.invitations += other.invitations;
        self.suggestions += other.suggestions;
    }
}

#[async_trait]
pub trait EnrollmentStore: Send + Sync {
    /// Every verified domain whose mode is automatic, by name (for the enrollment cache).
    async fn automatic_domains(&self) -> StoreResult<Vec<(String, AutomaticDomain)>>;
    /// Records `addresses` as the identity's verified addresses (replacing what was
    /// recorded) and enrolls it at every automatic verified domain of an org it is not
    /// in, invitations getting `role`. Idempotent; a concurrent twin finds it done.
    /// Reads first and writes only when there is something to write.
    async fn enroll_identity(
        &self,
        identity: Uuid,
        addresses: &[String],
        role: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Enrolled>;
    /// Claims the oldest request to enroll a domain's identities that nobody holds
    /// (see `jobs`), leased to `worker` until `until`.
    async fn claim_domain_enrollment(
        &self,
        worker: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<DomainEnrollmentJob>>;
    /// Enrolls the next batch of the claimed domain's identities (after `after`), in a
    /// transaction of its own, invitations getting `role`; renews the lease.
    async fn enroll_domain_batch(
        &self,
        job: &DomainEnrollmentJob,
        worker: Uuid,
        after: Option<&(Uuid, String)>,
        role: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<EnrollmentProgress>;
    /// Lets go of a claimed request: removed when `completed` (unless asked for again
    /// meanwhile), otherwise left for the next claim.
    async fn settle_domain_enrollment(
        &self,
        job: &DomainEnrollmentJob,
        worker: Uuid,
        completed: bool,
    ) -> StoreResult<()>;
    /// The identity's suggestions still standing: the domain verified and in
    /// `automatic_suggestion` mode, the identity not a member.
    async fn list_suggestions(
        &self,
        identity: Uuid,
        page: PageRequest,
    ) -> StoreResult<Vec<Suggestion>>;
    /// Accepts one of the identity's standing suggestions: a pending membership request
    /// is made (one per org and identity). Accepting an accepted one changes nothing.
    async fn accept_suggestion(
        &self,
        identity: Uuid,
        id: Uuid,
        change: Change<'_>,
    ) -> StoreResult<Suggestion>;
    async fn list_membership_requests(
        &self,
        org: Uuid,
        status: Option<RequestStatus>,
        page: PageRequest,
    ) -> StoreResult<Vec<MembershipRequest>>;
    /// The identity's own requests, with their orgs.
    async fn list_membership_requests_of(
        &self,
        identity: Uuid,
        page: PageRequest,
    ) -> StoreResult<Vec<RequestWithOrg>>;
    /// Accepts a pending request under the org lock: the membership is created with
    /// `role`, counting toward the org's cap.
    async fn accept_membership_request(
        &self,
        org: Uuid,
        id: Uuid,
        role: &str,
        change: Change<'_>,
    ) -> StoreResult<(MembershipRequest, Membership)>;
    async fn reject_membership_request(
        &self,
        org: Uuid,
        id: Uuid,
        change: Change<'_>,
    ) -> StoreResult<MembershipRequest>;
    /// Forgets an identity Kratos no longer has: its recorded addresses, its standing
    /// suggestions, its pending requests (withdrawn, with events). Returns how many
    /// requests were withdrawn.
    async fn forget_identity(&self, identity: Uuid, change: Change<'_>) -> StoreResult<usize>;
}

#[async_trait]
impl EnrollmentStore for SqlStore {
    async fn automatic_domains(&self) -> StoreResult<Vec<(String, AutomaticDomain)>> {
        let mut conn = self.db.acquire().await?;
        let rows: Vec<(Uuid, String, String)> = query(
            "SELECT id, name, enrollment_mode FROM org_domains WHERE verified_at IS NOT NULL \
             AND enrollment_mode <> 'manual_invitation'",
        )
        .fetch_all(&mut conn)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, name, mode)| {
                let mode = EnrollmentMode::parse(&mode)?;
                Some((name, AutomaticDomain { id, mode }))
            })
            .collect())
    }

    #[tracing::instrument(skip_all, fields(identity = %identity))]
    async fn enroll_identity(
        &self,
        identity: Uuid,
        addresses: &[String],
        role: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Enrolled> {
        let addresses = with_domains(addresses);
        let plain: Vec<String> = addresses.iter().map(|(a, _)| (*a).clone()).collect();
        {
            // The common case writes nothing: same addresses, nothing to enroll.
            let mut conn = self.db.acquire().await?;
            if recorded_as(&mut conn, identity, &plain).await?
                && (plain.is_empty()
                    || candidates(&mut conn, Scope::Identity(identity), now)
                        .await?
                        .is_empty())
            {
                return Ok(Enrolled::default());
            }
        }
        let mut tx = self.db.begin_write().await?;
        hold_domains(&mut tx, &addresses).await?;
        record_addresses(&mut tx, identity, &addresses, now).await?;
        let found = candidates(&mut tx, Scope::Identity(identity), now).await?;
        let enrolled = enroll_candidates(&mut tx, &found, role, now).await?;
        tx.commit().await?;
        Ok(enrolled)
    }

    async fn claim_domain_enrollment(
        &self,
        worker: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<DomainEnrollmentJob>> {
        let mut conn = self.db.acquire().await?;
        jobs::claim(&mut conn, worker, now, until).await
    }

    #[tracing::instrument(skip_all, fields(domain = %job.domain_id))]
    async fn enroll_domain_batch(
        &self,
        job: &DomainEnrollmentJob,
        worker: Uuid,
        after: Option<&(Uuid, String)>,
        role: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<EnrollmentProgress> {
        let mut tx = self.db.begin_write().await?;
        let progress = jobs::batch(&mut tx, job, worker, after, role, now, until).await?;
        tx.commit().await?;
        Ok(progress)
    }

    async fn settle_domain_enrollment(
        &self,
        job: &DomainEnrollmentJob,
        worker: Uuid,
        completed: bool,
    ) -> StoreResult<()> {
        let mut conn = self.db.acquire().await?;
        jobs::settle(&mut conn, job, worker, completed).await
    }

    async fn list_suggestions(
        &self,
        identity: Uuid,
        page: PageRequest,
    ) -> StoreResult<Vec<Suggestion>> {
        let mut conn = self.db.acquire().await?;
        suggestions::list(&mut conn, identity, page).await
    }

    async fn accept_suggestion(
        &self,
        identity: Uuid,
        id: Uuid,
        change: Change<'_>,
    ) -> StoreResult<Suggestion> {
        let mut tx = self.db.begin_write().await?;
        let accepted = suggestions::accept(&mut tx, identity, id, change).await?;
        tx.commit().await?;
        Ok(accepted)
    }

    async fn list_membership_requests(
        &self,
        org: Uuid,
        status: Option<RequestStatus>,
        page: PageRequest,
    ) -> StoreResult<Vec<MembershipRequest>> {
        let mut conn = self.db.acquire().await?;
        requests::list(&mut conn, org, status, page).await
    }

    async fn list_membership_requests_of(
        &self,
        identity: Uuid,
        page: PageRequest,
    ) -> StoreResult<Vec<RequestWithOrg>> {
        let mut conn = self.db.acquire().await?;
        requests::list_of(&mut conn, identity, page).await
    }

    async fn accept_membership_request(
        &self,
        org: Uuid,
        id: Uuid,
        role: &str,
        change: Change<'_>,
    ) -> StoreResult<(MembershipRequest, Membership)> {
        let mut tx = self.db.begin_write().await?;
        let accepted = requests::accept(&mut tx, org, id, role, change).await?;
        tx.commit().await?;
        Ok(accepted)
    }

    async fn reject_membership_request(
        &self,
        org: Uuid,
        id: Uuid,
        change: Change<'_>,
    ) -> StoreResult<MembershipRequest> {
        let mut tx = self.db.begin_write().await?;
        let rejected = requests::reject(&mut tx, org, id, change).await?;
        tx.commit().await?;
        Ok(rejected)
    }

    async fn forget_identity(&self, identity: Uuid, change: Change<'_>) -> StoreResult<usize> {
        let mut tx = self.db.begin_write().await?;
        let withdrawn = forget::forget(&mut tx, identity, change).await?;
        tx.commit().await?;
        Ok(withdrawn)
    }
}

/// An org's public fields, as suggestions and one's own requests show them.
#[derive(Debug, sqlx::FromRow)]
struct OrgColumns {
    org_id: Uuid,
    org_name: String,
    org_slug: String,
    org_image_url: Option<String>,
}

impl OrgColumns {
    fn summary(self) -> OrgSummary {
        OrgSummary {
            id: self.org_id,
            name: self.org_name,
            slug: self.org_slug,
            image_url: self.org_image_url,
        }
    }
}

const ORG_COLUMNS: &str =
    "o.id AS org_id, o.name AS org_name, o.slug AS org_slug, o.image_url AS org_image_url";
