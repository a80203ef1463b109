//! Enrolling: which identities an automatic domain concerns (one identity, or every
//! identity recorded at one domain) and the invitations and suggestions made for them.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::Enrolled;
use crate::domain::enrollment::{address_domain, EnrollmentMode, SuggestionStatus};
use crate::domain::invitation::InvitationStatus;
use crate::store::db::{query, Conn};
use crate::store::events::{emit_all, EventType, Stamp};
use crate::store::invitations::{expire_stale_invitation, invitation_event};
use crate::store::{Change, Invitation, StoreResult};

/// Identities a domain's enrollment handles per statement.
pub(super) const BATCH: i64 = 500;

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
pub(super) struct Candidate {
    identity_id: Uuid,
    address: String,
    domain_id: Uuid,
    org_id: Uuid,
    enrollment_mode: String,
}

impl Candidate {
    /// Where a domain's run goes on from after this candidate.
    pub(super) fn position(&self) -> (Uuid, String) {
        (self.identity_id, self.address.clone())
    }
}

/// Whom to look at: one identity, or a domain's identities after a keyset position.
pub(super) enum Scope<'a> {
    Identity(Uuid),
    Domain {
        id: Uuid,
        after: Option<(Uuid, &'a str)>,
    },
}

pub(super) async fn candidates(
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
pub(super) async fn enroll_candidates(
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
/// inviter, no expiry. An expired invitation to the address no longer blocks it.
async fn invite(
    conn: &mut Conn,
    candidate: &Candidate,
    role: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<Invitation>> {
    expire_stale_invitation(conn, candidate.org_id, &candidate.address, now).await?;
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
        locale: None,
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

/// Holds the rows of the domains at `addresses` in shared mode until commit, before
/// anything else: a concurrent mode change or withdrawal (which locks its domain's row
/// first) then either waits for this enrollment or is seen by it, so nothing is enrolled
/// under a mode that no longer holds.
pub(super) async fn hold_domains(
    conn: &mut Conn,
    addresses: &[(&String, String)],
) -> StoreResult<()> {
    if addresses.is_empty() {
        return Ok(());
    }
    let share_rows = conn.dialect().share_rows;
    let placeholders: Vec<String> = (1..=addresses.len()).map(|i| format!("${i}")).collect();
    let mut statement = query(format!(
        "SELECT id FROM org_domains WHERE name IN ({}) ORDER BY id{share_rows}",
        placeholders.join(", ")
    ));
    for (_, domain) in addresses {
        statement = statement.bind(domain.as_str());
    }
    statement.execute(conn).await?;
    Ok(())
}

/// The addresses worth recording: those with a domain, by their domain.
pub(super) fn with_domains(addresses: &[String]) -> Vec<(&String, String)> {
    addresses
        .iter()
        .filter_map(|address| address_domain(address).map(|domain| (address, domain)))
        .collect()
}

/// Whether the recorded addresses of `identity` are exactly `addresses`.
pub(super) async fn recorded_as(
    conn: &mut Conn,
    identity: Uuid,
    addresses: &[String],
) -> StoreResult<bool> {
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
pub(super) async fn record_addresses(
    conn: &mut Conn,
    identity: Uuid,
    addresses: &[(&String, String)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let placeholders: Vec<String> = (0..addresses.len())
        .map(|i| format!("${}", i + 2))
        .collect();
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
