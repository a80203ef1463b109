//! Invitations a verified domain made (`automatic_invitation`): withdrawn with the
//! domain's `delete_pending`, or when the domain is deleted.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{invitation_event, live_pending, load_invitation, set_invitation_status};
use crate::domain::invitation::InvitationStatus;
use crate::store::db::{query, Conn};
use crate::store::emails::cancel_invitation_emails;
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
    .fetch_all(conn)
    .await?;
    let mut events = Vec::with_capacity(ids.len());
    for (id,) in &ids {
        set_invitation_status(conn, *id, InvitationStatus::Revoked, None, now).await?;
        // Its link no longer works: its e-mails not yet sent are cancelled with it.
        cancel_invitation_emails(conn, *id, now).await?;
        let revoked = load_invitation(conn, *id, now).await?;
        events.push(invitation_event(EventType::InvitationRevoked, &revoked));
    }
    emit_all(conn, stamp, events).await?;
    Ok(ids.len())
}
