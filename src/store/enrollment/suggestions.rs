//! Suggestions: orgs an `automatic_suggestion` domain suggests to an identity. Whether
//! one still stands is read from its domain's current state each time, so a domain
//! turned to `manual_invitation`, unverified or deleted hides its suggestions at once.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::requests::{load as load_request, request_event};
use super::{OrgColumns, ORG_COLUMNS};
use crate::domain::enrollment::{RequestStatus, SuggestionStatus};
use crate::store::db::{query, Conn};
use crate::store::events::{emit, EventType, Stamp};
use crate::store::members::load_membership;
use crate::store::{Change, OrgSummary, PageRequest, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub id: Uuid,
    pub identity_id: Uuid,
    /// Public fields only.
    pub org: OrgSummary,
    pub status: SuggestionStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A suggestion that still stands: shown, never withdrawn, its domain verified and
/// still suggesting, and the identity still holding a verified address there (as its
/// last session showed them: an identity whose address moved elsewhere loses it).
const STANDING: &str = "s.status IN ('pending', 'accepted') AND d.verified_at IS NOT NULL \
    AND d.enrollment_mode = 'automatic_suggestion' \
    AND EXISTS (SELECT 1 FROM identity_verified_addresses a \
                WHERE a.identity_id = s.identity_id AND a.domain = d.name)";

#[derive(sqlx::FromRow)]
struct SuggestionRow {
    id: Uuid,
    identity_id: Uuid,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[sqlx(flatten)]
    org: OrgColumns,
}

impl SuggestionRow {
    fn into_suggestion(self) -> Suggestion {
        Suggestion {
            id: self.id,
            identity_id: self.identity_id,
            status: SuggestionStatus::parse(&self.status).unwrap_or(SuggestionStatus::Withdrawn),
            created_at: self.created_at,
            updated_at: self.updated_at,
            org: self.org.summary(),
        }
    }
}

fn select(condition: &str) -> String {
    format!(
        "SELECT s.id, s.identity_id, s.status, s.created_at, s.updated_at, {ORG_COLUMNS} \
         FROM org_suggestions s JOIN org_domains d ON d.id = s.domain_id \
         JOIN orgs o ON o.id = s.org_id WHERE {STANDING} AND {condition}"
    )
}

pub(super) async fn list(
    conn: &mut Conn,
    identity: Uuid,
    page: PageRequest,
) -> StoreResult<Vec<Suggestion>> {
    let rows: Vec<SuggestionRow> = query(select(
        "s.identity_id = $1 AND s.id > $2 AND NOT EXISTS (SELECT 1 FROM org_membership m \
         WHERE m.org_id = s.org_id AND m.identity_id = s.identity_id) ORDER BY s.id LIMIT $3",
    ))
    .bind(identity)
    .bind(page.after.unwrap_or(Uuid::nil()))
    .bind(i64::from(page.limit))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(SuggestionRow::into_suggestion)
        .collect())
}

/// One standing suggestion of `identity`; anyone else's is not found.
async fn load(conn: &mut Conn, identity: Uuid, id: Uuid) -> StoreResult<Suggestion> {
    let row: Option<SuggestionRow> = query(select("s.id = $1 AND s.identity_id = $2"))
        .bind(id)
        .bind(identity)
        .fetch_optional(conn)
        .await?;
    row.map(SuggestionRow::into_suggestion)
        .ok_or(StoreError::SuggestionNotFound)
}

pub(super) async fn accept(
    conn: &mut Conn,
    identity: Uuid,
    id: Uuid,
    change: Change<'_>,
) -> StoreResult<Suggestion> {
    let now = change.now;
    let suggestion = load(conn, identity, id).await?;
    if load_membership(conn, suggestion.org.id, identity)
        .await?
        .is_some()
    {
        return Err(StoreError::AlreadyMember);
    }
    // Only the transaction that moves it from pending makes the request: a twin
    // accepting at the same moment finds it accepted and returns it as it is.
    let moved = query(
        "UPDATE org_suggestions SET status = 'accepted', updated_at = $2 \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    if moved == 1 {
        request(conn, &suggestion, change).await?;
    }
    load(conn, identity, id).await
}

/// A pending request to join the suggestion's org, unless one is pending already.
async fn request(conn: &mut Conn, suggestion: &Suggestion, change: Change<'_>) -> StoreResult<()> {
    let inserted: Option<Uuid> = query(
        "INSERT INTO membership_requests (id, org_id, identity_id, status, suggestion_id, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(suggestion.org.id)
    .bind(suggestion.identity_id)
    .bind(RequestStatus::Pending.as_str())
    .bind(suggestion.id)
    .bind(change.now)
    .optional_scalar(conn)
    .await?;
    if let Some(id) = inserted {
        let created = load_request(conn, id).await?;
        let event = request_event(EventType::MembershipRequestCreated, &created);
        emit(conn, &Stamp::from(change), event).await?;
    }
    Ok(())
}
