//! What enrollment keeps of an identity that Kratos no longer has: its recorded verified
//! addresses are deleted, its standing suggestions withdrawn, and its pending membership
//! requests withdrawn, each with an `organizationMembershipRequest.withdrawn` event, so
//! managers are not left deciding for someone who is gone. The reconciler calls it.

use uuid::Uuid;

use super::requests::{decide, lock_pending};
use crate::domain::enrollment::RequestStatus;
use crate::store::db::{query, Conn};
use crate::store::{Change, StoreError, StoreResult};

/// Forgets `identity` in the caller's transaction; returns how many requests it withdrew.
pub(super) async fn forget(
    conn: &mut Conn,
    identity: Uuid,
    change: Change<'_>,
) -> StoreResult<usize> {
    // The orgs first, in id order, as every request decision locks its org first.
    let pending: Vec<(Uuid, Uuid)> = query(
        "SELECT org_id, id FROM membership_requests WHERE identity_id = $1 \
         AND status = 'pending' ORDER BY org_id, id",
    )
    .bind(identity)
    .fetch_all(&mut *conn)
    .await?;
    let mut withdrawn = 0;
    for (org, id) in pending {
        match lock_pending(conn, org, id, change).await {
            Ok(_) => {
                decide(conn, id, RequestStatus::Withdrawn, change).await?;
                withdrawn += 1;
            }
            // Decided meanwhile, or gone with its org.
            Err(
                StoreError::MembershipRequestNotPending(_)
                | StoreError::MembershipRequestNotFound
                | StoreError::OrgNotFound,
            ) => {}
            Err(other) => return Err(other),
        }
    }
    query(
        "UPDATE org_suggestions SET status = 'withdrawn', updated_at = $2 \
         WHERE identity_id = $1 AND status IN ('pending', 'accepted')",
    )
    .bind(identity)
    .bind(change.now)
    .execute(conn)
    .await?;
    query("DELETE FROM identity_verified_addresses WHERE identity_id = $1")
        .bind(identity)
        .execute(conn)
        .await?;
    Ok(withdrawn)
}
