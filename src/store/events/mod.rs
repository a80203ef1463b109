//! The outbox. Every write transaction that changes an org, a membership, an invitation
//! or a role records its event here, in that same transaction: no change commits without
//! its event, and no event exists for a change that rolled back. In the same statement
//! (or the next, on SQLite) each enabled webhook endpoint that wants the type gets a
//! pending delivery, so no committed event is missed by an endpoint that existed.

mod audit;
mod payloads;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

pub use audit::{AuditEntry, AuditQuery, AuditStore};
pub use payloads::public_user_data;
pub(super) use payloads::{
    deleted, domain, invitation, membership, membership_request, organization, role, EventContext,
};

use super::db::{query, Conn};
use super::{Change, RequestOrigin, StoreResult};
use crate::domain::Caller;

/// The event types, by Clerk's names (`organizationInvitation.declined` and the
/// `organizationMembershipRequest.*` types are Polis's own: Clerk has no webhook for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    OrganizationCreated,
    OrganizationUpdated,
    OrganizationDeleted,
    MembershipCreated,
    MembershipUpdated,
    MembershipDeleted,
    InvitationCreated,
    InvitationAccepted,
    InvitationRevoked,
    InvitationDeclined,
    RoleCreated,
    RoleUpdated,
    RoleDeleted,
    MembershipRequestCreated,
    MembershipRequestAccepted,
    MembershipRequestRejected,
    MembershipRequestWithdrawn,
    DomainCreated,
    DomainUpdated,
    DomainDeleted,
}

impl EventType {
    /// Every type, for checking webhook endpoints' type filters.
    pub const ALL: [EventType; 20] = [
        EventType::OrganizationCreated,
        EventType::OrganizationUpdated,
        EventType::OrganizationDeleted,
        EventType::MembershipCreated,
        EventType::MembershipUpdated,
        EventType::MembershipDeleted,
        EventType::InvitationCreated,
        EventType::InvitationAccepted,
        EventType::InvitationRevoked,
        EventType::InvitationDeclined,
        EventType::RoleCreated,
        EventType::RoleUpdated,
        EventType::RoleDeleted,
        EventType::MembershipRequestCreated,
        EventType::MembershipRequestAccepted,
        EventType::MembershipRequestRejected,
        EventType::MembershipRequestWithdrawn,
        EventType::DomainCreated,
        EventType::DomainUpdated,
        EventType::DomainDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrganizationCreated => "organization.created",
            EventType::OrganizationUpdated => "organization.updated",
            EventType::OrganizationDeleted => "organization.deleted",
            EventType::MembershipCreated => "organizationMembership.created",
            EventType::MembershipUpdated => "organizationMembership.updated",
            EventType::MembershipDeleted => "organizationMembership.deleted",
            EventType::InvitationCreated => "organizationInvitation.created",
            EventType::InvitationAccepted => "organizationInvitation.accepted",
            EventType::InvitationRevoked => "organizationInvitation.revoked",
            EventType::InvitationDeclined => "organizationInvitation.declined",
            EventType::RoleCreated => "role.created",
            EventType::RoleUpdated => "role.updated",
            EventType::RoleDeleted => "role.deleted",
            EventType::MembershipRequestCreated => "organizationMembershipRequest.created",
            EventType::MembershipRequestAccepted => "organizationMembershipRequest.accepted",
            EventType::MembershipRequestRejected => "organizationMembershipRequest.rejected",
            EventType::MembershipRequestWithdrawn => "organizationMembershipRequest.withdrawn",
            EventType::DomainCreated => "organizationDomain.created",
            EventType::DomainUpdated => "organizationDomain.updated",
            EventType::DomainDeleted => "organizationDomain.deleted",
        }
    }
}

/// Who made a change: an identity, an API key, the Clerk import or Polis itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: &'static str,
    pub id: Option<String>,
}

impl Actor {
    pub fn of(caller: &Caller) -> Actor {
        match caller {
            Caller::Identity(identity) => Actor {
                kind: "identity",
                id: Some(identity.id.to_string()),
            },
            Caller::ApiKey(key) => Actor {
                kind: "api_key",
                id: Some(key.id.to_string()),
            },
        }
    }

    pub fn import() -> Actor {
        Actor {
            kind: "import",
            id: None,
        }
    }

    pub fn system() -> Actor {
        Actor {
            kind: "system",
            id: None,
        }
    }
}

/// Who, when and from which request: what every event of one change shares.
#[derive(Debug, Clone)]
pub struct Stamp<'a> {
    pub actor: Actor,
    pub at: DateTime<Utc>,
    pub origin: Option<&'a RequestOrigin>,
}

impl<'a> From<Change<'a>> for Stamp<'a> {
    fn from(change: Change<'a>) -> Self {
        Stamp {
            actor: if change.by_system {
                Actor::system()
            } else {
                Actor::of(change.by)
            },
            at: change.now,
            origin: change.origin,
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    pub org_id: Option<Uuid>,
    /// What changed: its type (`organization`, `organization_membership`, …) and id.
    pub target: (&'static str, String),
    /// Clerk's object for the change, private metadata included.
    pub data: Value,
}

/// Records `event`, and a pending delivery for each endpoint that wants it.
pub(super) async fn emit(conn: &mut Conn, stamp: &Stamp<'_>, event: Event) -> StoreResult<()> {
    emit_all(conn, stamp, vec![event]).await
}

/// Rows per multi-row statement: 12 binds each stays far below both databases' limits.
const CHUNK: usize = 500;

/// Records many events of one change (an import batch) in multi-row statements.
pub(super) async fn emit_all(
    conn: &mut Conn,
    stamp: &Stamp<'_>,
    events: Vec<Event>,
) -> StoreResult<()> {
    let origin = stamp.origin.cloned().unwrap_or_default();
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<Event> = events.by_ref().take(CHUNK).collect();
        emit_chunk(conn, stamp, &origin, chunk).await?;
    }
    Ok(())
}

async fn emit_chunk(
    conn: &mut Conn,
    stamp: &Stamp<'_>,
    origin: &RequestOrigin,
    chunk: Vec<Event>,
) -> StoreResult<()> {
    let now_param = chunk.len() * 12 + 1;
    let insert = format!(
        "INSERT INTO events (id, type, occurred_at, org_id, actor_type, actor_id, \
         target_type, target_id, request_id, client_ip, user_agent, data) VALUES {} \
         RETURNING seq, type",
        values_placeholders(chunk.len(), 12)
    );
    let cte = conn.dialect().writable_ctes;
    let statement = if cte {
        format!(
            "WITH e AS ({insert}) {}",
            fan_out_sql("e.seq", "e.type", ", e", now_param)
        )
    } else {
        insert
    };
    let mut recorded = query(statement);
    for event in chunk {
        recorded = recorded
            .bind(Uuid::now_v7())
            .bind(event.kind.as_str())
            .bind(stamp.at)
            .bind(event.org_id)
            .bind(stamp.actor.kind)
            .bind(stamp.actor.id.clone())
            .bind(event.target.0)
            .bind(event.target.1)
            .bind(origin.request_id.clone())
            .bind(origin.client_ip.clone())
            .bind(origin.user_agent.clone())
            .bind(Json(event.data));
    }
    if cte {
        recorded.bind(stamp.at).execute(conn).await?;
        return Ok(());
    }
    let rows: Vec<(i64, String)> = recorded.fetch_all(conn).await?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(());
    };
    query(fan_out_sql("ev.seq", "ev.type", ", events ev", 1) + " AND ev.seq BETWEEN $2 AND $3")
        .bind(stamp.at)
        .bind(first.0)
        .bind(last.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// A pending delivery, due at `$now`, for every enabled endpoint listening to the
/// event's type; `seq` and `kind` name the event's columns, `from` adds its table.
fn fan_out_sql(seq: &str, kind: &str, from: &str, now: usize) -> String {
    format!(
        "INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, attempts, \
         next_attempt_at, created_at, updated_at) \
         SELECT w.id, {seq}, 'pending', 0, ${now}, ${now}, ${now} FROM webhook_endpoints w{from} \
         WHERE w.disabled_at IS NULL AND (NOT EXISTS (SELECT 1 FROM webhook_endpoint_types t \
         WHERE t.endpoint_id = w.id) OR EXISTS (SELECT 1 FROM webhook_endpoint_types t \
         WHERE t.endpoint_id = w.id AND t.type = {kind}))"
    )
}

/// `($1, …, $width), (…)` for `rows` rows, numbered from `$1`.
fn values_placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
