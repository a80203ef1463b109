//! Writing a new invitation (and queueing its e-mail), and the seat check before it.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::by_domain::supersede_domain_invitation;
use super::NewInvitation;
use crate::domain::email::{EmailAbout, OutgoingEmail};
use crate::store::db::{query, Conn};
use crate::store::emails::enqueue_email;
use crate::store::events::Stamp;
use crate::store::invariants::seats_taken;
use crate::store::{OnUnique, StoreError, StoreResult, Unique};

/// Marks the invitation to `address` in `org` that is still stored `pending` but has
/// expired by `now` as `expired`, so that it no longer holds the one pending place a
/// new invitation (a manager's or a domain's) needs.
pub(in crate::store) async fn expire_stale_invitation(
    conn: &mut Conn,
    org: Uuid,
    address: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    query(
        "UPDATE invitations SET status = 'expired', updated_at = $3 WHERE org_id = $1 \
         AND email_address = $2 AND status = 'pending' AND expires_at <= $3",
    )
    .bind(org)
    .bind(address)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a manager's invitation (and queues its e-mail). An expired invitation to the
/// address no longer blocks it, and one a verified domain made is revoked in its favour
/// (with its event, stamped `stamp`).
pub(super) async fn insert_invitation(
    conn: &mut Conn,
    org: Uuid,
    invitation: &NewInvitation,
    stamp: &Stamp<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Uuid> {
    expire_stale_invitation(conn, org, &invitation.email_address, now).await?;
    supersede_domain_invitation(conn, org, &invitation.email_address, stamp, now).await?;
    let id = Uuid::now_v7();
    let emailed = invitation.email.as_ref().map(|_| now);
    query(
        "INSERT INTO invitations (id, org_id, email_address, role, status, token_hash, \
         inviter_id, public_metadata, private_metadata, redirect_url, expires_at, \
         created_at, updated_at, locale, email_queued_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)",
    )
    .bind(id)
    .bind(org)
    .bind(&invitation.email_address)
    .bind(&invitation.role)
    .bind(&invitation.token_hash)
    .bind(invitation.inviter_id)
    .bind(Json(&invitation.public_metadata))
    .bind(Json(&invitation.private_metadata))
    .bind(&invitation.redirect_url)
    .bind(invitation.expires_at)
    .bind(now)
    .bind(&invitation.locale)
    .bind(emailed)
    .execute(conn)
    .await
    .on_unique(Unique::PendingInvitation, StoreError::InvitationExists)?;
    if let Some(email) = &invitation.email {
        let email = OutgoingEmail {
            about: Some(EmailAbout::Invitation(id)),
            ..email.clone()
        };
        enqueue_email(conn, &email, now).await?;
    }
    Ok(id)
}

/// Refuses invitations that would push the org past its cap (0: no cap).
pub(super) async fn ensure_seats_for(
    conn: &mut Conn,
    org: Uuid,
    cap: i32,
    wanted: usize,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if cap == 0 {
        return Ok(());
    }
    let taken = seats_taken(conn, org, now).await?;
    let wanted = i64::try_from(wanted).unwrap_or(i64::MAX);
    if taken.saturating_add(wanted) > i64::from(cap) {
        return Err(StoreError::QuotaExceeded);
    }
    Ok(())
}
