//! Membership requests: made by accepting a suggestion, accepted or rejected by the
//! org's managers. Accepting creates the membership in the same transaction, under the
//! org lock, counting toward the org's cap.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{OrgColumns, ORG_COLUMNS};
use crate::domain::enrollment::{check_decidable, RequestStatus};
use crate::domain::{Action, Stakes};
use crate::store::db::{query, Conn};
use crate::store::events::{self, emit, Event, EventType, Stamp};
use crate::store::guard::Rights;
use crate::store::invariants::seats_taken;
use crate::store::members::{insert_membership, load_membership, record_membership_event};
use crate::store::orgs::lock_org;
use crate::store::{Change, Membership, OrgSummary, PageRequest, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct MembershipRequest {
    pub id: Uuid,
    pub org_id: Uuid,
    pub identity_id: Uuid,
    pub status: RequestStatus,
    /// The requester's traits as Polis last saw them (`null`: never seen).
    pub traits: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One of an identity's own requests, with the org it is for.
pub type RequestWithOrg = (MembershipRequest, OrgSummary);

const REQUEST_COLUMNS: &str = "r.id, r.org_id, r.identity_id, r.status, r.created_at, \
    r.updated_at, p.traits";

#[derive(sqlx::FromRow)]
struct RequestRow {
    id: Uuid,
    org_id: Uuid,
    identity_id: Uuid,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    traits: Option<Json<Value>>,
}

impl RequestRow {
    fn into_request(self) -> MembershipRequest {
        MembershipRequest {
            id: self.id,
            org_id: self.org_id,
            identity_id: self.identity_id,
            status: RequestStatus::parse(&self.status).unwrap_or(RequestStatus::Withdrawn),
            traits: self.traits.map_or(Value::Null, |traits| traits.0),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct RequestWithOrgRow {
    #[sqlx(flatten)]
    request: RequestRow,
    #[sqlx(flatten)]
    org: OrgColumns,
}

fn select(condition: &str) -> String {
    format!(
        "SELECT {REQUEST_COLUMNS} FROM membership_requests r \
         LEFT JOIN identity_profiles p ON p.identity_id = r.identity_id WHERE {condition}"
    )
}

pub(super) async fn load(conn: &mut Conn, id: Uuid) -> StoreResult<MembershipRequest> {
    let row: Option<RequestRow> = query(select("r.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(RequestRow::into_request)
        .ok_or(StoreError::MembershipRequestNotFound)
}

/// A request's event: Polis's own types (Clerk has no webhook for requests).
pub(super) fn request_event(kind: EventType, request: &MembershipRequest) -> Event {
    Event {
        kind,
        org_id: Some(request.org_id),
        target: ("organization_membership_request", request.id.to_string()),
        data: events::membership_request(request, &request.traits),
    }
}

pub(super) async fn list(
    conn: &mut Conn,
    org: Uuid,
    status: Option<RequestStatus>,
    page: PageRequest,
) -> StoreResult<Vec<MembershipRequest>> {
    let filter = if status.is_some() {
        " AND r.status = $4"
    } else {
        ""
    };
    let mut statement = query(select(&format!(
        "r.org_id = $1 AND r.id > $2{filter} ORDER BY r.id LIMIT $3"
    )))
    .bind(org)
    .bind(page.after.unwrap_or(Uuid::nil()))
    .bind(i64::from(page.limit));
    if let Some(status) = status {
        statement = statement.bind(status.as_str());
    }
    let rows: Vec<RequestRow> = statement.fetch_all(conn).await?;
    Ok(rows.into_iter().map(RequestRow::into_request).collect())
}

pub(super) async fn list_of(
    conn: &mut Conn,
    identity: Uuid,
    page: PageRequest,
) -> StoreResult<Vec<RequestWithOrg>> {
    let rows: Vec<RequestWithOrgRow> = query(format!(
        "SELECT {REQUEST_COLUMNS}, {ORG_COLUMNS} FROM membership_requests r \
         JOIN orgs o ON o.id = r.org_id \
         LEFT JOIN identity_profiles p ON p.identity_id = r.identity_id \
         WHERE r.identity_id = $1 AND r.id > $2 ORDER BY r.id LIMIT $3"
    ))
    .bind(identity)
    .bind(page.after.unwrap_or(Uuid::nil()))
    .bind(i64::from(page.limit))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.request.into_request(), row.org.summary()))
        .collect())
}

/// Locks the org, checks the caller may decide requests, and loads a pending request
/// of the org. Returns the org's cap and the caller's rights.
pub(super) async fn lock_pending<'a>(
    conn: &mut Conn,
    org: Uuid,
    id: Uuid,
    change: Change<'a>,
) -> StoreResult<(MembershipRequest, i32, Rights<'a>)> {
    let cap = lock_org(conn, org).await?;
    let rights = Rights::require(conn, org, change, Action::ManageMembershipRequests).await?;
    let request = load(conn, id).await?;
    if request.org_id != org {
        return Err(StoreError::MembershipRequestNotFound);
    }
    check_decidable(request.status).map_err(StoreError::MembershipRequestNotPending)?;
    Ok((request, cap, rights))
}

pub(super) async fn decide(
    conn: &mut Conn,
    id: Uuid,
    status: RequestStatus,
    change: Change<'_>,
) -> StoreResult<MembershipRequest> {
    query(
        "UPDATE membership_requests SET status = $2, decided_by = $3, updated_at = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(change.by.identity_id())
    .bind(change.now)
    .execute(conn)
    .await?;
    let decided = load(conn, id).await?;
    let kind = match status {
        RequestStatus::Accepted => EventType::MembershipRequestAccepted,
        RequestStatus::Withdrawn => EventType::MembershipRequestWithdrawn,
        RequestStatus::Pending | RequestStatus::Rejected => EventType::MembershipRequestRejected,
    };
    emit(conn, &Stamp::from(change), request_event(kind, &decided)).await?;
    Ok(decided)
}

pub(super) async fn accept(
    conn: &mut Conn,
    org: Uuid,
    id: Uuid,
    role: &str,
    change: Change<'_>,
) -> StoreResult<(MembershipRequest, Membership)> {
    let now = change.now;
    let (request, cap, rights) = lock_pending(conn, org, id, change).await?;
    let granted = rights.catalog.role(role)?.to_vec();
    rights.check(Action::ManageMembershipRequests, Stakes::granting(&granted))?;
    let identity = request.identity_id;
    if load_membership(conn, org, identity).await?.is_some() {
        return Err(StoreError::AlreadyMember);
    }
    if cap > 0 && seats_taken(conn, org, now).await? >= i64::from(cap) {
        return Err(StoreError::QuotaExceeded);
    }
    let empty = Value::Object(serde_json::Map::new());
    insert_membership(conn, org, identity, role, (&empty, &empty), now).await?;
    let membership = load_membership(conn, org, identity)
        .await?
        .ok_or(StoreError::MemberNotFound)?;
    record_membership_event(conn, change, EventType::MembershipCreated, &membership).await?;
    let accepted = decide(conn, id, RequestStatus::Accepted, change).await?;
    Ok((accepted, membership))
}

pub(super) async fn reject(
    conn: &mut Conn,
    org: Uuid,
    id: Uuid,
    change: Change<'_>,
) -> StoreResult<MembershipRequest> {
    let (request, ..) = lock_pending(conn, org, id, change).await?;
    // The suggestion that led here is answered: no longer listed (as "requested"), and
    // the domain does not suggest the org again. The request itself stays, rejected.
    query(
        "UPDATE org_suggestions SET status = 'withdrawn', updated_at = $3 \
         WHERE org_id = $1 AND identity_id = $2 AND status = 'accepted'",
    )
    .bind(org)
    .bind(request.identity_id)
    .bind(change.now)
    .execute(conn)
    .await?;
    decide(conn, id, RequestStatus::Rejected, change).await
}
