//! Enrolling a domain's identities off the request path. The transaction that verifies
//! a domain, or switches a verified one to an automatic mode, only requests it
//! ([`request`]); a worker claims the request with a lease, enrolls the identities in
//! transactions of one batch each, and settles the request. A domain with tens of
//! thousands of recorded identities thus never makes one long transaction, and the
//! request that set it off answers at once.
//!
//! Enrolling is idempotent, so a run cut short (a crash, a lost lease) is simply run again
//! from the start by whoever claims the request next.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::enroll::{candidates, enroll_candidates, Scope, BATCH};
use super::Enrolled;
use crate::store::db::{query, Conn};
use crate::store::StoreResult;

/// A claimed request to enroll one domain's identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainEnrollmentJob {
    pub domain_id: Uuid,
    /// Which request this run answers: a newer one keeps the row for another run.
    generation: i32,
}

/// Where a run stands after one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollmentProgress {
    /// More identities may follow the last one looked at.
    More {
        enrolled: Enrolled,
        after: (Uuid, String),
    },
    /// Every identity has been looked at.
    Done(Enrolled),
    /// The lease ran out and another worker holds the request, or the domain is gone.
    LeaseLost,
}

/// Asks for the domain's identities to be enrolled (again, if a run is under way).
pub(in crate::store) async fn request(
    conn: &mut Conn,
    domain: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    query(
        "INSERT INTO domain_enrollments (domain_id, generation, requested_at) VALUES ($1, 1, $2) \
         ON CONFLICT (domain_id) DO UPDATE SET generation = domain_enrollments.generation + 1, \
         requested_at = excluded.requested_at",
    )
    .bind(domain)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims the oldest request nobody holds, leased to `worker` until `until`. One
/// statement: on PostgreSQL a row another replica is claiming is skipped, not waited for.
pub(super) async fn claim(
    conn: &mut Conn,
    worker: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<Option<DomainEnrollmentJob>> {
    let skip_locked = conn.dialect().skip_locked;
    let claimed: Option<(Uuid, i32)> = query(format!(
        "UPDATE domain_enrollments SET leased_by = $1, leased_until = $3 \
         WHERE domain_id IN (SELECT d.domain_id FROM domain_enrollments d \
         WHERE d.leased_until IS NULL OR d.leased_until <= $2 \
         ORDER BY d.requested_at LIMIT 1{skip_locked}) \
         RETURNING domain_id, generation"
    ))
    .bind(worker)
    .bind(now)
    .bind(until)
    .fetch_optional(conn)
    .await?;
    Ok(claimed.map(|(domain_id, generation)| DomainEnrollmentJob {
        domain_id,
        generation,
    }))
}

/// Enrolls the next batch of the domain's identities after `after`, in the caller's
/// transaction, renewing the lease until `until`.
///
/// The domain's row is locked first (before the request's, the order every domain
/// write takes them in): a mode change or withdrawal waits for this batch and this batch
/// for it, and the candidates are read under the mode that holds after it.
pub(super) async fn batch(
    conn: &mut Conn,
    job: &DomainEnrollmentJob,
    worker: Uuid,
    after: Option<&(Uuid, String)>,
    role: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<EnrollmentProgress> {
    let lock_rows = conn.dialect().lock_rows;
    query(format!(
        "SELECT id FROM org_domains WHERE id = $1{lock_rows}"
    ))
    .bind(job.domain_id)
    .execute(conn)
    .await?;
    // A deleted domain took its request with it: then nothing is held either.
    let held = query(
        "UPDATE domain_enrollments SET leased_until = $3 WHERE domain_id = $1 AND leased_by = $2",
    )
    .bind(job.domain_id)
    .bind(worker)
    .bind(until)
    .execute(conn)
    .await?;
    if held == 0 {
        return Ok(EnrollmentProgress::LeaseLost);
    }
    let scope = Scope::Domain {
        id: job.domain_id,
        after: after.map(|(id, address)| (*id, address.as_str())),
    };
    let found = candidates(conn, scope, now).await?;
    let enrolled = enroll_candidates(conn, &found, role, now).await?;
    Ok(match found.last() {
        Some(last) if found.len() as i64 >= BATCH => EnrollmentProgress::More {
            enrolled,
            after: last.position(),
        },
        _ => EnrollmentProgress::Done(enrolled),
    })
}

/// Ends `worker`'s hold on the request: a completed run removes it unless it was asked
/// for again meanwhile; otherwise (or when it was) it is left for the next claim.
pub(super) async fn settle(
    conn: &mut Conn,
    job: &DomainEnrollmentJob,
    worker: Uuid,
    completed: bool,
) -> StoreResult<()> {
    if completed {
        let removed = query(
            "DELETE FROM domain_enrollments \
             WHERE domain_id = $1 AND leased_by = $2 AND generation = $3",
        )
        .bind(job.domain_id)
        .bind(worker)
        .bind(job.generation)
        .execute(conn)
        .await?;
        if removed == 1 {
            return Ok(());
        }
    }
    query(
        "UPDATE domain_enrollments SET leased_by = NULL, leased_until = NULL \
         WHERE domain_id = $1 AND leased_by = $2",
    )
    .bind(job.domain_id)
    .bind(worker)
    .execute(conn)
    .await?;
    Ok(())
}
