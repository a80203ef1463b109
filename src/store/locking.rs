//! How membership writes lock, so that they queue only where an invariant needs it.
//!
//! - Adding to an org without a cap takes the org row in shared mode: adds to one org
//!   run side by side, while a change to the org itself (setting a cap) waits for them
//!   and they for it. An org with a cap is locked exclusively: counting its seats and
//!   inserting must not interleave with another add.
//! - Changing or removing a member who cannot manage members locks that member's row
//!   alone. A member who can manage members may be the org's last one: that write takes
//!   the org lock first, so such writes queue and the last-manager check is exact.
//!
//! Locks are always taken org first, then rows; a write that finds out only after
//! locking a row that it needs the org lock starts again instead of reaching back.
//! On SQLite the write transaction already excludes every other writer.

use uuid::Uuid;

use super::db::{query, Db, Tx};
use super::guard::Rights;
use super::members::{MembershipRow, MEMBERSHIP_COLUMNS};
use super::orgs::lock_org;
use super::{Change, Membership, StoreError, StoreResult};
use crate::domain::role::{has_permission, MEMBERSHIPS_MANAGE};
use crate::domain::Action;

/// Whether a member with these permissions counts for "someone can manage members".
pub(super) fn manages(permissions: &[String]) -> bool {
    has_permission(permissions, MEMBERSHIPS_MANAGE)
}

/// A write transaction about to add members to `org`, with the org's cap (0: none)
/// and the caller's rights, the org row locked as adding needs.
pub(super) async fn begin_adding<'a>(
    db: &Db,
    org: Uuid,
    change: Change<'a>,
    action: Action,
) -> StoreResult<(Tx, i32, Rights<'a>)> {
    for exclusive in [false, true] {
        let mut tx = db.begin_write().await?;
        let cap = if exclusive {
            lock_org(&mut tx, org).await?
        } else {
            share_org(&mut tx, org).await?
        };
        if cap > 0 && !exclusive {
            // A capped org: counting and inserting must exclude other adds.
            tx.rollback().await?;
            continue;
        }
        let rights = Rights::require(&mut tx, org, change, action).await?;
        return Ok((tx, cap, rights));
    }
    unreachable!("the exclusive attempt always returns")
}

/// A write transaction about to change or remove `identity`'s membership of `org`:
/// the caller's rights (checked for `action` before telling whether the member
/// exists) and the membership, its row locked, and the org too when it manages.
pub(super) async fn begin_changing<'a>(
    db: &Db,
    org: Uuid,
    identity: Uuid,
    change: Change<'a>,
    action: Action,
) -> StoreResult<(Tx, Rights<'a>, Membership)> {
    for with_org in [false, true] {
        let mut tx = db.begin_write().await?;
        if with_org {
            lock_org(&mut tx, org).await?;
        }
        let rights = Rights::require(&mut tx, org, change, action).await?;
        if !with_org {
            // Look before locking: locking a manager's row without the org lock could
            // hold it against a write that has the org lock and waits for this row.
            let seen = read_member(&mut tx, org, identity, &rights, "").await?;
            if manages(&seen.permissions) {
                tx.rollback().await?;
                continue;
            }
        }
        let lock = tx.dialect().lock_rows;
        let current = read_member(&mut tx, org, identity, &rights, lock).await?;
        if with_org || !manages(&current.permissions) {
            return Ok((tx, rights, current));
        }
        // It became a manager meanwhile: its change must queue on the org lock.
        tx.rollback().await?;
    }
    unreachable!("the attempt with the org lock always returns")
}

/// Share-locks the org row (see the module docs) and returns its cap.
async fn share_org(tx: &mut Tx, org: Uuid) -> StoreResult<i32> {
    let share = tx.dialect().share_rows;
    query(format!(
        "SELECT max_allowed_memberships FROM orgs WHERE id = $1{share}"
    ))
    .bind(org)
    .optional_scalar(tx)
    .await?
    .ok_or(StoreError::OrgNotFound)
}

/// Reads one membership, with `lock` appended (`FOR UPDATE`, or nothing).
async fn read_member(
    tx: &mut Tx,
    org: Uuid,
    identity: Uuid,
    rights: &Rights<'_>,
    lock: &str,
) -> StoreResult<Membership> {
    let row: Option<MembershipRow> = query(format!(
        "SELECT {MEMBERSHIP_COLUMNS} FROM org_membership m \
         WHERE m.org_id = $1 AND m.identity_id = $2{lock}"
    ))
    .bind(org)
    .bind(identity)
    .fetch_optional(tx)
    .await?;
    let row = row.ok_or(StoreError::MemberNotFound)?;
    Ok(row.with_permissions(&rights.catalog))
}
