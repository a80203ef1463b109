//! The two invariants that guard memberships (design.md §4), checked inside the write's
//! transaction: an org's cap on members plus pending invitations, and "some member can
//! always manage members".

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::{query, Conn};
use super::invitations::live_pending;
use super::{StoreError, StoreResult};
use crate::domain::role::MEMBERSHIPS_MANAGE;

/// Members of an org, other than one identity, whose role carries a permission.
const COUNT_OTHER_HOLDERS: &str = "SELECT COUNT(*) FROM org_membership m \
    JOIN role_permissions rp ON rp.role_key = m.role AND rp.permission = $3 \
    WHERE m.org_id = $1 AND m.identity_id <> $2";

pub(super) async fn members_count(conn: &mut Conn, org: Uuid) -> StoreResult<i64> {
    Ok(
        query("SELECT COUNT(*) FROM org_membership WHERE org_id = $1")
            .bind(org)
            .scalar(conn)
            .await?,
    )
}

/// Seats an org's cap counts: its members plus invitations still pending at `now`,
/// except those a verified domain created (they take a seat only when accepted).
pub(super) async fn seats_taken(
    conn: &mut Conn,
    org: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    let pending = live_pending(2);
    Ok(query(format!(
        "SELECT (SELECT COUNT(*) FROM org_membership WHERE org_id = $1) + \
         (SELECT COUNT(*) FROM invitations i WHERE i.org_id = $1 AND i.domain_id IS NULL \
         AND {pending})"
    ))
    .bind(org)
    .bind(now)
    .scalar(conn)
    .await?)
}

/// Refuses when no member other than `identity` can manage members: `identity`, which
/// can, is about to lose that (demoted or removed). The org lock must be held, so that
/// two such changes cannot each count the other.
pub(super) async fn ensure_another_manager(
    conn: &mut Conn,
    org: Uuid,
    identity: Uuid,
) -> StoreResult<()> {
    let others: i64 = query(COUNT_OTHER_HOLDERS)
        .bind(org)
        .bind(identity)
        .bind(MEMBERSHIPS_MANAGE)
        .scalar(conn)
        .await?;
    if others == 0 {
        Err(StoreError::LastAdmin)
    } else {
        Ok(())
    }
}
