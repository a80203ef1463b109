//! Verified domains of an org: added (at most ten, under the org's lock), listed, their
//! enrollment mode changed, deleted, and verified by a 6-digit code sent to an address
//! at the domain. A name is verified by at most one org of the instance: the partial
//! unique index `org_domains_verified_name_key` decides, so two orgs verifying one name
//! at the same moment cannot both succeed. Every write records its
//! `organizationDomain.*` event in its own transaction.

mod budget;
mod rows;
mod verify;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::domains::{
    EnrollmentMode, VerificationStatus, VerificationStrategy, MAX_DOMAINS_PER_ORG,
};
use crate::domain::Action;
use crate::store::db::{query, Conn};
use crate::store::enrollment::request_domain_enrollment;
use crate::store::events::{self, emit, Event, EventType, Stamp};
use crate::store::guard::Rights;
use crate::store::invitations::revoke_for_domain;
use crate::store::orgs::lock_org;
use crate::store::{Change, OnUnique, PageRequest, SqlStore, StoreError, StoreResult, Unique};
use rows::{domain_columns, DomainRow};
pub use verify::VerificationRequest;

/// A domain of an org, as callers see it at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub id: Uuid,
    pub org_id: Uuid,
    /// Lower-case ASCII (IDNA).
    pub name: String,
    pub enrollment_mode: EnrollmentMode,
    pub verified_at: Option<DateTime<Utc>>,
    pub verification_strategy: Option<VerificationStrategy>,
    pub verification_status: VerificationStatus,
    /// Where the last code went.
    pub affiliation_email_address: Option<String>,
    /// Wrong codes entered against the last code.
    pub code_attempts: i32,
    pub code_expires_at: Option<DateTime<Utc>>,
    pub code_sent_at: Option<DateTime<Utc>>,
    pub clerk_id: Option<String>,
    pub total_pending_invitations: i64,
    pub total_pending_suggestions: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewDomain {
    /// Normalised and checked against the block list by the caller.
    pub name: String,
    pub enrollment_mode: EnrollmentMode,
    /// Verified at once, and how (an admin key, or a creator with a verified address
    /// at the domain); `None`: verified later by code.
    pub verified: Option<VerificationStrategy>,
}

#[async_trait]
pub trait DomainStore: Send + Sync {
    /// Adds a domain: refused when the org has ten, already has this name, or (when it
    /// is to be verified at once) another org has verified the name.
    async fn create_domain(
        &self,
        org: Uuid,
        domain: NewDomain,
        change: Change<'_>,
    ) -> StoreResult<Domain>;
    async fn list_domains(
        &self,
        org: Uuid,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Domain>>;
    async fn find_domain(
        &self,
        org: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Domain>>;
    /// Changes the enrollment mode; with `delete_pending`, also withdraws the pending
    /// invitations (revoked) and suggestions (withdrawn) the domain made.
    async fn update_domain(
        &self,
        org: Uuid,
        id: Uuid,
        mode: Option<EnrollmentMode>,
        delete_pending: bool,
        change: Change<'_>,
    ) -> StoreResult<Domain>;
    /// Deletes a domain, withdrawing its pending invitations and suggestions.
    async fn delete_domain(&self, org: Uuid, id: Uuid, change: Change<'_>) -> StoreResult<Domain>;
    /// Stores a new code (its hash) for `request.address`, resetting the attempts;
    /// refused when the address is not at the domain, the domain is verified, or the
    /// last code went out less than a minute ago.
    async fn prepare_domain_verification(
        &self,
        org: Uuid,
        id: Uuid,
        request: VerificationRequest,
        change: Change<'_>,
    ) -> StoreResult<Domain>;
    /// Checks a code. A wrong one is counted (and committed) before the refusal; the
    /// fifth burns the code. The right one verifies the domain and is used up.
    async fn attempt_domain_verification(
        &self,
        org: Uuid,
        id: Uuid,
        code: &str,
        change: Change<'_>,
    ) -> StoreResult<Domain>;
}

async fn load_row(
    conn: &mut Conn,
    org: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<DomainRow> {
    query(format!(
        "SELECT {} FROM org_domains d WHERE d.id = $1 AND d.org_id = $2",
        domain_columns(3)
    ))
    .bind(id)
    .bind(org)
    .bind(now)
    .fetch_optional::<DomainRow>(conn)
    .await?
    .ok_or(StoreError::DomainNotFound)
}

pub(in crate::store) async fn load_domain(
    conn: &mut Conn,
    org: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Domain> {
    Ok(load_row(conn, org, id, now).await?.at(now))
}

/// Locks the org, checks the caller may manage its domains, and loads the domain.
async fn lock_for_manager(
    conn: &mut Conn,
    org: Uuid,
    id: Uuid,
    change: Change<'_>,
) -> StoreResult<DomainRow> {
    lock_org(conn, org).await?;
    Rights::require(conn, org, change, Action::ManageDomains).await?;
    // The domain's row before anything the change touches (its invitations, its
    // enrollment request): enrollment batches lock it first too (`enrollment::jobs`).
    let lock_rows = conn.dialect().lock_rows;
    query(format!(
        "SELECT id FROM org_domains WHERE id = $1 AND org_id = $2{lock_rows}"
    ))
    .bind(id)
    .bind(org)
    .execute(conn)
    .await?;
    load_row(conn, org, id, change.now).await
}

/// Marks the domain verified by `strategy`, using up any code; refused with
/// `DomainTaken` when another org has verified the name.
async fn mark_verified(
    conn: &mut Conn,
    id: Uuid,
    strategy: VerificationStrategy,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    query(
        "UPDATE org_domains SET verified_at = $2, verification_strategy = $3, code_hash = NULL, \
         updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(strategy.as_str())
    .execute(conn)
    .await
    .on_unique(Unique::VerifiedDomain, StoreError::DomainTaken)?;
    Ok(())
}

/// The one call point of a domain's enrollment: runs in the transaction that has just
/// made `domain` verified, or changed the mode of a verified domain. Automatic modes ask
/// for the identities with a verified address at the domain to be enrolled, which a
/// background worker does (`crate::enrollment::worker`), batch by batch.
pub(super) async fn domain_enrolls(
    conn: &mut Conn,
    domain: &Domain,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if domain.enrollment_mode.is_automatic() {
        request_domain_enrollment(conn, domain.id, now).await?;
    }
    Ok(())
}

/// Withdraws what the domain enrolled and is still pending: invitations are revoked
/// (each with its event), suggestions withdrawn. Returns how many.
async fn withdraw_pending(
    conn: &mut Conn,
    id: Uuid,
    stamp: &Stamp<'_>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let revoked = revoke_for_domain(conn, id, stamp, now).await?;
    let withdrawn = query(
        "UPDATE org_suggestions SET status = 'withdrawn', updated_at = $2 \
         WHERE domain_id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(u64::try_from(revoked).unwrap_or(u64::MAX) + withdrawn)
}

pub(in crate::store) fn domain_event(kind: EventType, domain: &Domain) -> Event {
    let data = match kind {
        EventType::DomainDeleted => {
            events::deleted("organization_domain", &domain.id.to_string(), None)
        }
        _ => events::domain(domain),
    };
    Event {
        kind,
        org_id: Some(domain.org_id),
        target: ("organization_domain", domain.id.to_string()),
        data,
    }
}

async fn emit_domain(
    conn: &mut Conn,
    change: Change<'_>,
    kind: EventType,
    domain: &Domain,
) -> StoreResult<()> {
    let event = domain_event(kind, domain);
    emit(conn, &Stamp::from(change), event).await
}

async fn insert_domain(
    conn: &mut Conn,
    org: Uuid,
    domain: &NewDomain,
    now: DateTime<Utc>,
) -> StoreResult<Uuid> {
    let count: i64 = query("SELECT COUNT(*) FROM org_domains WHERE org_id = $1")
        .bind(org)
        .scalar(conn)
        .await?;
    if count >= MAX_DOMAINS_PER_ORG {
        return Err(StoreError::DomainQuotaExceeded);
    }
    let id = Uuid::now_v7();
    query(
        "INSERT INTO org_domains (id, org_id, name, enrollment_mode, code_attempts, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, 0, $5, $5)",
    )
    .bind(id)
    .bind(org)
    .bind(&domain.name)
    .bind(domain.enrollment_mode.as_str())
    .bind(now)
    .execute(conn)
    .await
    .on_unique(Unique::OrgDomain, StoreError::DomainExists)?;
    if let Some(strategy) = domain.verified {
        mark_verified(conn, id, strategy, now).await?;
    }
    Ok(id)
}

#[async_trait]
impl DomainStore for SqlStore {
    #[tracing::instrument(skip_all, fields(org = %org))]
    async fn create_domain(
        &self,
        org: Uuid,
        domain: NewDomain,
        change: Change<'_>,
    ) -> StoreResult<Domain> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        lock_org(&mut tx, org).await?;
        Rights::require(&mut tx, org, change, Action::ManageDomains).await?;
        let id = insert_domain(&mut tx, org, &domain, now).await?;
        let created = load_domain(&mut tx, org, id, now).await?;
        emit_domain(&mut tx, change, EventType::DomainCreated, &created).await?;
        if created.verified_at.is_some() {
            domain_enrolls(&mut tx, &created, now).await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn list_domains(
        &self,
        org: Uuid,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Domain>> {
        let mut conn = self.db.acquire().await?;
        let rows: Vec<DomainRow> = query(format!(
            "SELECT {} FROM org_domains d WHERE d.org_id = $1 AND d.id > $2 \
             ORDER BY d.id LIMIT $4",
            domain_columns(3)
        ))
        .bind(org)
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(now)
        .bind(i64::from(page.limit))
        .fetch_all(&mut conn)
        .await?;
        Ok(rows.into_iter().map(|row| row.at(now)).collect())
    }

    async fn find_domain(
        &self,
        org: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Domain>> {
        let mut conn = self.db.acquire().await?;
        match load_domain(&mut conn, org, id, now).await {
            Ok(domain) => Ok(Some(domain)),
            Err(StoreError::DomainNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    #[tracing::instrument(skip_all, fields(org = %org, domain = %id))]
    async fn update_domain(
        &self,
        org: Uuid,
        id: Uuid,
        mode: Option<EnrollmentMode>,
        delete_pending: bool,
        change: Change<'_>,
    ) -> StoreResult<Domain> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        let before = lock_for_manager(&mut tx, org, id, change).await?.at(now);
        let withdrawn = if delete_pending {
            withdraw_pending(&mut tx, id, &Stamp::from(change), now).await?
        } else {
            0
        };
        let mode = mode.filter(|mode| *mode != before.enrollment_mode);
        if mode.is_none() && withdrawn == 0 {
            // Nothing changes: no write, no event.
            return Ok(before);
        }
        if let Some(mode) = mode {
            query("UPDATE org_domains SET enrollment_mode = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(mode.as_str())
                .bind(now)
                .execute(&mut tx)
                .await?;
        }
        let updated = load_domain(&mut tx, org, id, now).await?;
        emit_domain(&mut tx, change, EventType::DomainUpdated, &updated).await?;
        if mode.is_some() && updated.verified_at.is_some() {
            domain_enrolls(&mut tx, &updated, now).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    #[tracing::instrument(skip_all, fields(org = %org, domain = %id))]
    async fn delete_domain(&self, org: Uuid, id: Uuid, change: Change<'_>) -> StoreResult<Domain> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        let domain = lock_for_manager(&mut tx, org, id, change).await?.at(now);
        withdraw_pending(&mut tx, id, &Stamp::from(change), now).await?;
        query("DELETE FROM org_domains WHERE id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        emit_domain(&mut tx, change, EventType::DomainDeleted, &domain).await?;
        tx.commit().await?;
        Ok(domain)
    }

    async fn prepare_domain_verification(
        &self,
        org: Uuid,
        id: Uuid,
        request: VerificationRequest,
        change: Change<'_>,
    ) -> StoreResult<Domain> {
        verify::prepare(&self.db, org, id, request, change).await
    }

    async fn attempt_domain_verification(
        &self,
        org: Uuid,
        id: Uuid,
        code: &str,
        change: Change<'_>,
    ) -> StoreResult<Domain> {
        verify::attempt(&self.db, org, id, code, change).await
    }
}
