//! Invitations a verified domain made (`automatic_invitation`): withdrawn with the
//! domain's `delete_pending`, when the domain is deleted, or when a manager invites the
//! same address.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{invitation_event, live_pending, load_invitation, set_invitation_status};
use crate::domain::email::EmailAbout;
use crate::domain::invitation::InvitationStatus;
use crate::store::db::{query, Conn};
use crate::store::emails::cancel_emails;
use crate::store::events::{emit_all, EventType, Stamp};
use crate::store::StoreResult;

/// Revokes the live pending invitations of domain `domain`, each with its
/// `organizationInvitation.revoked` event; returns how many.
pub(in crate::store) async fn revoke_for_domain(
    conn: &mut Conn,
    domain: Uuid,
    stamp: &Stamp<'_>,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let ids: Vec<(Uuid,)> = query(format!(
        "SELECT i.id FROM invitations i WHERE i.domain_id = $1 AND {}",
        live_pending(2)
    ))
    .bind(domain)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    revoke_all(conn, &ids, stamp, now).await
}

/// Revokes the live pending invitation a domain made to `address` in `org`, if there is
/// one, with its event: a manager inviting that address replaces it (it is not listed
/// with the org's invitations, so it must not stand in the way). Returns how many (0 or 1).
pub(super) async fn supersede_domain_invitation(
    conn: &mut Conn,
    org: Uuid,
    address: &str,
    stamp: &Stamp<'_>,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let ids: Vec<(Uuid,)> = query(format!(
        "SELECT i.id FROM invitations i WHERE i.org_id = $1 AND i.email_address = $2 \
         AND i.domain_id IS NOT NULL AND {}",
        live_pending(3)
    ))
    .bind(org)
    .bind(address)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    revoke_all(conn, &ids, stamp, now).await
}

/// Revokes the invitations `ids` (pending), cancelling their unsent e-mails, each with
/// its `organizationInvitation.revoked` event.
async fn revoke_all(
    conn: &mut Conn,
    ids: &[(Uuid,)],
    stamp: &Stamp<'_>,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let mut events = Vec::with_capacity(ids.len());
    for (id,) in ids {
        set_invitation_status(conn, *id, InvitationStatus::Revoked, None, now).await?;
        // Its link no longer works: its e-mails not yet sent are cancelled with it.
        cancel_emails(conn, EmailAbout::Invitation(*id), now).await?;
        let revoked = load_invitation(conn, *id, now).await?;
        events.push(invitation_event(EventType::InvitationRevoked, &revoked));
    }
    emit_all(conn, stamp, events).await?;
    Ok(ids.len())
}
