//! The events of membership changes: Clerk's `organization_membership` with its org and
//! the member's last-seen profile.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Membership, MembershipRow, MEMBERSHIP_COLUMNS};
use crate::store::catalog::catalog_at;
use crate::store::db::{query, Conn};
use crate::store::events::{self, emit, Event, EventContext, EventType, Stamp};
use crate::store::{Change, StoreResult};

/// A membership's event, its data built with the org and the member's profile (one
/// read).
async fn membership_event(
    conn: &mut Conn,
    kind: EventType,
    membership: &Membership,
) -> StoreResult<Event> {
    let context = EventContext::read(conn, membership.org_id, membership.identity_id).await?;
    let data = events::membership(membership, &context);
    Ok(membership_event_with(kind, membership, data))
}

/// Records a membership's event in the change's transaction.
pub(in crate::store) async fn record_membership_event(
    conn: &mut Conn,
    change: Change<'_>,
    kind: EventType,
    membership: &Membership,
) -> StoreResult<()> {
    let event = membership_event(conn, kind, membership).await?;
    emit(conn, &Stamp::from(change), event).await
}

pub(in crate::store) fn membership_event_with(
    kind: EventType,
    membership: &Membership,
    data: Value,
) -> Event {
    Event {
        kind,
        org_id: Some(membership.org_id),
        target: (
            "organization_membership",
            format!("{}:{}", membership.org_id, membership.identity_id),
        ),
        data,
    }
}

#[derive(sqlx::FromRow)]
struct MemberWithTraits {
    #[sqlx(flatten)]
    membership: MembershipRow,
    traits: Option<Json<Value>>,
}

/// Every member of an org with the context of its event, for deleting the org.
pub(in crate::store) async fn members_for_events(
    conn: &mut Conn,
    org: Uuid,
) -> StoreResult<Vec<(Membership, EventContext)>> {
    let rows: Vec<MemberWithTraits> = query(format!(
        "SELECT {MEMBERSHIP_COLUMNS}, p.traits FROM org_membership m \
         LEFT JOIN identity_profiles p ON p.identity_id = m.identity_id \
         WHERE m.org_id = $1 ORDER BY m.identity_id"
    ))
    .bind(org)
    .fetch_all(&mut *conn)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let catalog = catalog_at(conn, first.membership.catalog_version).await?;
    let Some(first_identity) = rows.first().map(|r| r.membership.identity_id) else {
        return Ok(Vec::new());
    };
    let base = EventContext::read(conn, org, first_identity).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let traits = row.traits.map_or(Value::Null, |traits| traits.0);
            (
                row.membership.with_permissions(&catalog),
                base.for_traits(traits),
            )
        })
        .collect())
}
