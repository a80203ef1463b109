//! Enrollment by verified domain: the verified addresses Polis saw on each identity, and
//! what a verified domain in an automatic mode gives the identities at it — a pending
//! invitation (`automatic_invitation`) or a suggestion (`automatic_suggestion`) — made
//! when the identity is seen with a changed address or the domain becomes verified or
//! changes mode. The rules are `domain::enrollment`'s; suggestions and the requests they
//! lead to are in `suggestions.rs` and `requests.rs`.

mod requests;
mod suggestions;

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::db::{query, Conn};
use super::events::{emit_all, EventType, Stamp};
use super::invitations::invitation_event;
use super::{Change, Invitation, Membership, OrgSummary, PageRequest, SqlStore, StoreResult};
use crate::domain::enrollment::{
    address_domain, AutomaticDomain, EnrollmentMode, RequestStatus, SuggestionStatus,
};
use crate::domain::invitation::InvitationStatus;

pub use requests::{MembershipRequest, RequestWithOrg};
pub use suggestions::Suggestion;

/// What one enrollment created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enrolled {
    pub invitations: usize,
    pub suggestions: usize,
}

impl Enrolled {
    fn add(&mut self, other: Enrolled) {
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
    /// Enrolls every identity recorded with an address at `domain`, in one transaction
    /// ([`enroll_for_domain`] for writes that already hold one).
    async fn enroll_domain(
        &self,
        domain: Uuid,
        role: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Enrolled>;
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
}

/// Identities a domain's enrollment handles per statement.
const BATCH: i64 = 500;

/// An identity's recorded address at an automatic verified domain of an org it is not
/// in, and not yet answered there (see `domain::enrollment`). `{filter}` narrows it to
/// one identity (`$1`) or one domain (`$1`, after `$3`/`$4`); `$2` is now.
const CANDIDATES: &str = "SELECT a.identity_id, a.address, d.id AS domain_id, d.org_id, \
    d.enrollment_mode FROM identity_verified_addresses a JOIN org_domains d ON d.name = a.domain \
    WHERE d.verified_at IS NOT NULL AND {filter} \
    AND NOT EXISTS (SELECT 1 FROM org_membership m WHERE m.org_id = d.org_id \
        AND m.identity_id = a.identity_id) \
    AND ((d.enrollment_mode = 'automatic_invitation' AND NOT EXISTS (SELECT 1 FROM invitations i \
        JOIN identity_verified_addresses b ON b.address = i.email_address \
        AND b.identity_id = a.identity_id WHERE i.org_id = d.org_id AND i.status <> 'expired' \
        AND (i.status <> 'pending' OR i.expires_at IS NULL OR i.expires_at > $2))) \
      OR (d.enrollment_mode = 'automatic_suggestion' AND NOT EXISTS (SELECT 1 \
        FROM org_suggestions s WHERE s.identity_id = a.identity_id AND s.org_id = d.org_id))) \
    ORDER BY a.identity_id, a.address LIMIT {limit}";

#[derive(Debug, Clone, sqlx::FromRow)]
struct Candidate {
    identity_id: Uuid,
    address: String,
    domain_id: Uuid,
    org_id: Uuid,
    enrollment_mode: String,
}

/// Whom to look at: one identity, or a domain's identities after a keyset position.
enum Scope<'a> {
    Identity(Uuid),
    Domain {
        id: Uuid,
        after: Option<(Uuid, &'a str)>,
    },
}

async fn candidates(
    conn: &mut Conn,
    scope: Scope<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Candidate>> {
    let (filter, limit) = match scope {
        Scope::Identity(_) => ("a.identity_id = $1", i64::MAX),
        Scope::Domain { .. } => (
            "d.id = $1 AND (a.identity_id > $3 OR (a.identity_id = $3 AND a.address > $4))",
            BATCH,
        ),
    };
    let sql = CANDIDATES
        .replace("{filter}", filter)
        .replace("{limit}", &limit.to_string());
    let statement = match scope {
        Scope::Identity(identity) => query(sql).bind(identity).bind(now),
        Scope::Domain { id, after } => {
            let (identity, address) = after.unwrap_or((Uuid::nil(), ""));
            query(sql)
                .bind(id)
                .bind(now)
                .bind(identity)
                .bind(address.to_owned())
        }
    };
    Ok(statement.fetch_all(conn).await?)
}

/// Makes the invitations and suggestions `found` calls for, one per identity and org;
/// a twin made meanwhile (a unique index says so) counts as already there.
async fn enroll_candidates(
    conn: &mut Conn,
    found: &[Candidate],
    role: &str,
    now: DateTime<Utc>,
) -> StoreResult<Enrolled> {
    let mut seen = HashSet::new();
    let mut enrolled = Enrolled::default();
    let mut invitations = Vec::new();
    for candidate in found {
        if !seen.insert((candidate.identity_id, candidate.org_id)) {
            continue;
        }
        match EnrollmentMode::parse(&candidate.enrollment_mode) {
            Some(EnrollmentMode::AutomaticInvitation) => {
                if let Some(invitation) = invite(conn, candidate, role, now).await? {
                    invitations.push(invitation);
                }
            }
            Some(EnrollmentMode::AutomaticSuggestion) => {
                enrolled.suggestions += usize::from(suggest(conn, candidate, now).await?);
            }
            Some(EnrollmentMode::ManualInvitation) | None => {}
        }
    }
    enrolled.invitations = invitations.len();
    let events = invitations
        .iter()
        .map(|invitation| invitation_event(EventType::InvitationCreated, invitation))
        .collect();
    emit_all(conn, &Stamp::from(Change::by_system(now)), events).await?;
    Ok(enrolled)
}

/// A domain's pending invitation: no token (accepted from `/me/invitations`), no
/// inviter, no expiry.
async fn invite(
    conn: &mut Conn,
    candidate: &Candidate,
    role: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<Invitation>> {
    let id = Uuid::now_v7();
    let empty = Value::Object(serde_json::Map::new());
    let inserted: Option<Uuid> = query(
        "INSERT INTO invitations (id, org_id, email_address, role, status, domain_id, \
         public_metadata, private_metadata, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6, $7, $7) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(id)
    .bind(candidate.org_id)
    .bind(&candidate.address)
    .bind(role)
    .bind(candidate.domain_id)
    .bind(Json(&empty))
    .bind(now)
    .optional_scalar(conn)
    .await?;
    Ok(inserted.map(|id| Invitation {
        id,
        org_id: candidate.org_id,
        email_address: candidate.address.clone(),
        role: role.to_owned(),
        status: InvitationStatus::Pending,
        public_metadata: empty.clone(),
        private_metadata: empty,
        inviter_id: None,
        redirect_url: None,
        expires_at: None,
        accepted_by: None,
        clerk_id: None,
        domain_id: Some(candidate.domain_id),
        created_at: now,
        updated_at: now,
    }))
}

/// A pending suggestion; false when the identity already has one for the org.
async fn suggest(conn: &mut Conn, candidate: &Candidate, now: DateTime<Utc>) -> StoreResult<bool> {
    let inserted: Option<Uuid> = query(
        "INSERT INTO org_suggestions (id, identity_id, org_id, domain_id, status, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(candidate.identity_id)
    .bind(candidate.org_id)
    .bind(candidate.domain_id)
    .bind(SuggestionStatus::Pending.as_str())
    .bind(now)
    .optional_scalar(conn)
    .await?;
    Ok(inserted.is_some())
}

/// Enrolls every identity recorded with a verified address at `domain` that is not a
/// member of its org, in batches, inside the caller's transaction: for when a domain
/// becomes verified or its mode changes. Nothing happens for an unverified domain or
/// one in `manual_invitation` mode (the candidates query admits neither).
pub(in crate::store) async fn enroll_for_domain(
    conn: &mut Conn,
    domain: Uuid,
    role: &str,
    now: DateTime<Utc>,
) -> StoreResult<Enrolled> {
    let mut enrolled = Enrolled::default();
    let mut after: Option<(Uuid, String)> = None;
    loop {
        let scope = Scope::Domain {
            id: domain,
            after: after.as_ref().map(|(id, address)| (*id, address.as_str())),
        };
        let batch = candidates(conn, scope, now).await?;
        let Some(last) = batch.last() else {
            return Ok(enrolled);
        };
        after = Some((last.identity_id, last.address.clone()));
        enrolled.add(enroll_candidates(conn, &batch, role, now).await?);
        if (batch.len() as i64) < BATCH {
            return Ok(enrolled);
        }
    }
}

/// The addresses worth recording: those with a domain, by their domain.
fn with_domains(addresses: &[String]) -> Vec<(&String, String)> {
    addresses
        .iter()
        .filter_map(|address| address_domain(address).map(|domain| (address, domain)))
        .collect()
}

/// Whether the recorded addresses of `identity` are exactly `addresses`.
async fn recorded_as(conn: &mut Conn, identity: Uuid, addresses: &[String]) -> StoreResult<bool> {
    let recorded: Vec<(String,)> =
        query("SELECT address FROM identity_verified_addresses WHERE identity_id = $1")
            .bind(identity)
            .fetch_all(conn)
            .await?;
    let recorded: HashSet<&str> = recorded.iter().map(|(a,)| a.as_str()).collect();
    let wanted: HashSet<&str> = addresses.iter().map(String::as_str).collect();
    Ok(recorded == wanted)
}

/// Replaces the identity's recorded addresses with `addresses`.
async fn record_addresses(
    conn: &mut Conn,
    identity: Uuid,
    addresses: &[(&String, String)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let placeholders: Vec<String> = (0..addresses.len()).map(|i| format!("${}", i + 2)).collect();
    let keep = if addresses.is_empty() {
        String::new()
    } else {
        format!(" AND address NOT IN ({})", placeholders.join(", "))
    };
    let mut delete = query(format!(
        "DELETE FROM identity_verified_addresses WHERE identity_id = $1{keep}"
    ))
    .bind(identity);
    for (address, _) in addresses {
        delete = delete.bind(*address);
    }
    delete.execute(conn).await?;
    for (address, domain) in addresses {
        query(
            "INSERT INTO identity_verified_addresses (identity_id, address, domain, seen_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (identity_id, address) \
             DO UPDATE SET domain = excluded.domain, seen_at = excluded.seen_at",
        )
        .bind(identity)
        .bind(*address)
        .bind(domain)
        .bind(now)
        .execute(conn)
        .await?;
    }
    Ok(())
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
                && candidates(&mut conn, Scope::Identity(identity), now)
                    .await?
                    .is_empty()
            {
                return Ok(Enrolled::default());
            }
        }
        let mut tx = self.db.begin_write().await?;
        record_addresses(&mut tx, identity, &addresses, now).await?;
        let found = candidates(&mut tx, Scope::Identity(identity), now).await?;
        let enrolled = enroll_candidates(&mut tx, &found, role, now).await?;
        tx.commit().await?;
        Ok(enrolled)
    }

    #[tracing::instrument(skip_all, fields(domain = %domain))]
    async fn enroll_domain(
        &self,
        domain: Uuid,
        role: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Enrolled> {
        let mut tx = self.db.begin_write().await?;
        let enrolled = enroll_for_domain(&mut tx, domain, role, now).await?;
        tx.commit().await?;
        Ok(enrolled)
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
