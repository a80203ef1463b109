//! The domains and pending membership requests of an imported org, written under the
//! org's savepoint after its members: upserted by Clerk id (`orgdmn_…`, `orgreq_…`),
//! never duplicated, and never taking a name another org of Polis has verified.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::domains::{EnrollmentMode, VerificationStrategy, MAX_DOMAINS_PER_ORG};
use crate::store::db::{query, Conn};
use crate::store::domains::{domain_event, load_domain};
use crate::store::enrollment::request_domain_enrollment;
use crate::store::events::{Event, EventType};
use crate::store::{RowStatus, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct DomainImport {
    pub clerk_id: String,
    /// Normalised (lower-case ASCII) and not blocked.
    pub name: String,
    pub enrollment_mode: EnrollmentMode,
    /// Verified in Clerk: imported verified (strategy `import`) unless another org of
    /// Polis has verified the name.
    pub verified: bool,
    pub affiliation_email_address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A pending request to join, from an identity the import mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestImport {
    pub clerk_id: String,
    pub identity_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the import did with one domain, and why when it held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedDomain {
    pub status: RowStatus,
    pub note: Option<DomainNote>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainNote {
    /// Another org of Polis has verified the name: imported (or kept) unverified.
    VerifiedElsewhere,
    /// The org already has this name under another (or no) Clerk id: skipped.
    NameTaken,
    /// The org already has ten domains: skipped.
    QuotaExceeded,
}

/// What the import did with one membership request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppliedRequest {
    Done(RowStatus),
    /// The identity is a member already: skipped.
    AlreadyMember,
    /// The identity has another pending request to the org: skipped.
    Duplicate,
}

#[derive(sqlx::FromRow)]
struct ExistingDomain {
    id: Uuid,
    org_id: Uuid,
    name: String,
    enrollment_mode: String,
    verified: bool,
    affiliation_email_address: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ExistingDomain {
    fn same_as(&self, new: &DomainImport, verified: bool) -> bool {
        self.name == new.name
            && self.enrollment_mode == new.enrollment_mode.as_str()
            && self.verified == verified
            && self.affiliation_email_address == new.affiliation_email_address
            && self.created_at == new.created_at
            && self.updated_at == new.updated_at
    }
}

/// Writes the org's domains; returns what happened to each and the events of those
/// created or updated.
pub(super) async fn import_domains(
    conn: &mut Conn,
    org_id: Uuid,
    domains: &[DomainImport],
    now: DateTime<Utc>,
) -> StoreResult<(Vec<AppliedDomain>, Vec<Event>)> {
    let mut applied = Vec::with_capacity(domains.len());
    let mut events = Vec::new();
    for domain in domains {
        let (outcome, id) = import_domain(conn, org_id, domain).await?;
        let kind = match outcome.status {
            RowStatus::Created => Some(EventType::DomainCreated),
            RowStatus::Updated => Some(EventType::DomainUpdated),
            RowStatus::Unchanged | RowStatus::Skipped => None,
        };
        if let (Some(kind), Some(id)) = (kind, id) {
            let written = load_domain(conn, org_id, id, now).await?;
            events.push(domain_event(kind, &written));
        }
        applied.push(outcome);
    }
    Ok((applied, events))
}

async fn import_domain(
    conn: &mut Conn,
    org_id: Uuid,
    domain: &DomainImport,
) -> StoreResult<(AppliedDomain, Option<Uuid>)> {
    let existing: Option<ExistingDomain> = query(
        "SELECT id, org_id, name, enrollment_mode, verified_at IS NOT NULL AS verified, \
         affiliation_email_address, created_at, updated_at FROM org_domains WHERE clerk_id = $1",
    )
    .bind(&domain.clerk_id)
    .fetch_optional(conn)
    .await?;
    if existing.as_ref().is_some_and(|e| e.org_id != org_id) {
        return Err(StoreError::ClerkIdConflict(domain.clerk_id.clone()));
    }
    let elsewhere = domain.verified && verified_elsewhere(conn, org_id, &domain.name).await?;
    let note = elsewhere.then_some(DomainNote::VerifiedElsewhere);
    // Verified in Polis stays verified; Clerk's verification counts unless another org
    // holds the name.
    let verified = existing.as_ref().is_some_and(|e| e.verified) || (domain.verified && !elsewhere);
    let outcome = |status| AppliedDomain { status, note };
    match existing {
        Some(e) if e.same_as(domain, verified) => Ok((outcome(RowStatus::Unchanged), Some(e.id))),
        Some(e) => {
            write_domain(conn, e.id, org_id, domain, verified, false).await?;
            Ok((outcome(RowStatus::Updated), Some(e.id)))
        }
        None => insert_new(conn, org_id, domain, verified, note).await,
    }
}

async fn insert_new(
    conn: &mut Conn,
    org_id: Uuid,
    domain: &DomainImport,
    verified: bool,
    note: Option<DomainNote>,
) -> StoreResult<(AppliedDomain, Option<Uuid>)> {
    let skipped = |note| {
        let applied = AppliedDomain {
            status: RowStatus::Skipped,
            note: Some(note),
        };
        Ok((applied, None))
    };
    let (count, same_name): (i64, i64) = query(
        "SELECT COUNT(*), COUNT(CASE WHEN name = $2 THEN 1 END) FROM org_domains \
         WHERE org_id = $1",
    )
    .bind(org_id)
    .bind(&domain.name)
    .fetch_one(conn)
    .await?;
    if same_name > 0 {
        return skipped(DomainNote::NameTaken);
    }
    if count >= MAX_DOMAINS_PER_ORG {
        return skipped(DomainNote::QuotaExceeded);
    }
    let id = Uuid::now_v7();
    write_domain(conn, id, org_id, domain, verified, true).await?;
    let applied = AppliedDomain {
        status: RowStatus::Created,
        note,
    };
    Ok((applied, Some(id)))
}

async fn verified_elsewhere(conn: &mut Conn, org_id: Uuid, name: &str) -> StoreResult<bool> {
    let found: Option<i32> = query(
        "SELECT 1 FROM org_domains WHERE name = $1 AND org_id <> $2 \
         AND verified_at IS NOT NULL LIMIT 1",
    )
    .bind(name)
    .bind(org_id)
    .optional_scalar(conn)
    .await?;
    Ok(found.is_some())
}

async fn write_domain(
    conn: &mut Conn,
    id: Uuid,
    org_id: Uuid,
    domain: &DomainImport,
    verified: bool,
    insert: bool,
) -> StoreResult<()> {
    let statement = if insert {
        "INSERT INTO org_domains (id, org_id, name, enrollment_mode, verified_at, \
         verification_strategy, affiliation_email_address, code_attempts, clerk_id, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10)"
    } else {
        // A domain verified in Polis keeps its own verified_at and strategy.
        "UPDATE org_domains SET name = $3, enrollment_mode = $4, \
         verified_at = COALESCE(verified_at, $5), \
         verification_strategy = COALESCE(verification_strategy, $6), \
         affiliation_email_address = $7, created_at = $9, updated_at = $10 \
         WHERE id = $1 AND org_id = $2 AND clerk_id = $8"
    };
    let strategy = verified.then_some(VerificationStrategy::Import.as_str());
    let written = query(statement)
        .bind(id)
        .bind(org_id)
        .bind(&domain.name)
        .bind(domain.enrollment_mode.as_str())
        .bind(verified.then_some(domain.updated_at))
        .bind(strategy)
        .bind(&domain.affiliation_email_address)
        .bind(&domain.clerk_id)
        .bind(domain.created_at)
        .bind(domain.updated_at)
        .execute(conn)
        .await?;
    if written == 1 && verified && domain.enrollment_mode.is_automatic() {
        // Identities Polis has already seen at the domain are enrolled in the background.
        request_domain_enrollment(conn, id, domain.updated_at).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ExistingRequest {
    org_id: Uuid,
    identity_id: Uuid,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Writes the org's pending membership requests.
pub(super) async fn import_requests(
    conn: &mut Conn,
    org_id: Uuid,
    requests: &[RequestImport],
) -> StoreResult<Vec<AppliedRequest>> {
    let mut applied = Vec::with_capacity(requests.len());
    for request in requests {
        applied.push(import_request(conn, org_id, request).await?);
    }
    Ok(applied)
}

async fn import_request(
    conn: &mut Conn,
    org_id: Uuid,
    request: &RequestImport,
) -> StoreResult<AppliedRequest> {
    let existing: Option<ExistingRequest> = query(
        "SELECT org_id, identity_id, status, created_at, updated_at FROM membership_requests \
         WHERE clerk_id = $1",
    )
    .bind(&request.clerk_id)
    .fetch_optional(conn)
    .await?;
    match existing {
        Some(e) if e.org_id != org_id => Err(StoreError::ClerkIdConflict(request.clerk_id.clone())),
        // Accepted, rejected or withdrawn in Polis since: Polis's state wins.
        Some(e) if e.status != "pending" => Ok(AppliedRequest::Done(RowStatus::Unchanged)),
        Some(e)
            if e.identity_id == request.identity_id
                && e.created_at == request.created_at
                && e.updated_at == request.updated_at =>
        {
            Ok(AppliedRequest::Done(RowStatus::Unchanged))
        }
        Some(_) => {
            query(
                "UPDATE membership_requests SET created_at = $2, updated_at = $3 \
                 WHERE clerk_id = $1",
            )
            .bind(&request.clerk_id)
            .bind(request.created_at)
            .bind(request.updated_at)
            .execute(conn)
            .await?;
            Ok(AppliedRequest::Done(RowStatus::Updated))
        }
        None => insert_request(conn, org_id, request).await,
    }
}

async fn insert_request(
    conn: &mut Conn,
    org_id: Uuid,
    request: &RequestImport,
) -> StoreResult<AppliedRequest> {
    let (member, pending): (i64, i64) = query(
        "SELECT (SELECT COUNT(*) FROM org_membership WHERE org_id = $1 AND identity_id = $2), \
         (SELECT COUNT(*) FROM membership_requests WHERE org_id = $1 AND identity_id = $2 \
          AND status = 'pending')",
    )
    .bind(org_id)
    .bind(request.identity_id)
    .fetch_one(conn)
    .await?;
    if member > 0 {
        return Ok(AppliedRequest::AlreadyMember);
    }
    if pending > 0 {
        return Ok(AppliedRequest::Duplicate);
    }
    query(
        "INSERT INTO membership_requests (id, org_id, identity_id, status, clerk_id, \
         created_at, updated_at) VALUES ($1, $2, $3, 'pending', $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(org_id)
    .bind(request.identity_id)
    .bind(&request.clerk_id)
    .bind(request.created_at)
    .bind(request.updated_at)
    .execute(conn)
    .await?;
    Ok(AppliedRequest::Done(RowStatus::Created))
}
