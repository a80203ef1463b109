//! Sending an invitation again: a new token (the old link stops working), its unsent
//! e-mails withdrawn, and a new e-mail queued, in one transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{load_invitation, Invitation};
use crate::domain::email::EmailAbout;
use crate::domain::email::{OutgoingEmail, RESEND_INTERVAL};
use crate::domain::invitation::InvitationStatus;
use crate::domain::{Action, Stakes};
use crate::store::db::{query, Conn};
use crate::store::emails::{cancel_emails, enqueue_email};
use crate::store::guard::Rights;
use crate::store::orgs::lock_org;
use crate::store::{Change, SqlStore, StoreError, StoreResult};

impl SqlStore {
    #[tracing::instrument(skip_all, fields(org = %org, invitation = %id))]
    pub(super) async fn resend(
        &self,
        org: Uuid,
        id: Uuid,
        token_hash: &str,
        email: OutgoingEmail,
        change: Change<'_>,
    ) -> StoreResult<Invitation> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        lock_org(&mut tx, org).await?;
        let rights = Rights::require(&mut tx, org, change, Action::ManageInvitations).await?;
        let invitation = load_invitation(&mut tx, id, now).await?;
        if invitation.org_id != org {
            return Err(StoreError::InvitationNotFound);
        }
        // As creating it: the caller must be able to grant the invitation's role.
        let granted = rights.catalog.role(&invitation.role)?;
        rights.check(Action::ManageInvitations, Stakes::granting(granted))?;
        if invitation.status != InvitationStatus::Pending {
            return Err(StoreError::InvitationNotPending(invitation.status));
        }
        check_interval(&mut tx, id, now).await?;
        query(
            "UPDATE invitations SET token_hash = $2, email_queued_at = $3, updated_at = $3 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(token_hash)
        .bind(now)
        .execute(&mut tx)
        .await?;
        cancel_emails(&mut tx, EmailAbout::Invitation(id), now).await?;
        let email = OutgoingEmail {
            about: Some(EmailAbout::Invitation(id)),
            ..email
        };
        enqueue_email(&mut tx, &email, now).await?;
        let resent = load_invitation(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(resent)
    }
}

/// Refuses a resend within [`RESEND_INTERVAL`] of the invitation's last e-mail.
async fn check_interval(conn: &mut Conn, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
    let last: Option<DateTime<Utc>> =
        query("SELECT email_queued_at FROM invitations WHERE id = $1")
            .bind(id)
            .scalar(conn)
            .await?;
    match last.map(|at| at + RESEND_INTERVAL - now) {
        Some(wait) if wait > chrono::Duration::zero() => Err(StoreError::ResendTooSoon {
            retry_after_secs: u64::try_from(wait.num_seconds()).unwrap_or(0) + 1,
        }),
        _ => Ok(()),
    }
}
