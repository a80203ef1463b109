//! Invitations: created by managers (counting toward the org's cap), listed, revoked,
//! and accepted or declined by the invitee, whose acceptance creates the membership in
//! the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

mod by_domain;
mod insert;
mod resend;
mod rows;

use crate::domain::email::EmailAbout;
use crate::domain::email::OutgoingEmail;
use crate::domain::invitation::{check_acceptable, InvitationStatus};
use crate::domain::{Action, Stakes};
use crate::store::db::{query, Conn};
use crate::store::emails::cancel_emails;
use crate::store::events::{self, emit, Event, EventType, Stamp};
use crate::store::guard::Rights;
use crate::store::invariants::{members_count, seats_taken};
use crate::store::members::{insert_membership, load_membership, record_membership_event};
use crate::store::orgs::{lock_org, OrgSummary};
use crate::store::roles::role_exists;
use crate::store::{Change, Membership, PageRequest, SqlStore, StoreError, StoreResult};
pub(in crate::store) use by_domain::revoke_for_domain;
pub(in crate::store) use insert::expire_stale_invitation;
use insert::{ensure_seats_for, insert_invitation};
pub(in crate::store) use rows::live_pending;
use rows::{
    refusal_error, status_condition, InvitationRow, InvitationWithOrgRow, INVITATION_COLUMNS,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email_address: String,
    pub role: String,
    /// As callers see it: expiry already applied.
    pub status: InvitationStatus,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub inviter_id: Option<Uuid>,
    pub redirect_url: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub accepted_by: Option<Uuid>,
    pub clerk_id: Option<String>,
    /// The language of its e-mails (BCP-47).
    pub locale: Option<String>,
    /// The verified domain whose `automatic_invitation` mode created it: such an
    /// invitation holds no seat while pending and is not listed with the org's own.
    pub domain_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewInvitation {
    /// Normalized (lower-case).
    pub email_address: String,
    pub role: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub redirect_url: Option<String>,
    pub inviter_id: Option<Uuid>,
    /// SHA-256 of the acceptance token.
    pub token_hash: Option<String>,
    /// The Kratos identity that already holds this address, if any: inviting a member
    /// is refused.
    pub existing_identity: Option<Uuid>,
    /// The language of its e-mails (BCP-47).
    pub locale: Option<String>,
    /// The e-mail to queue with it, in the same transaction (its `invitation_id` is
    /// filled in here); `None`: none is sent.
    pub email: Option<OutgoingEmail>,
}

#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Creates all the invitations or none: refused when one address already has a
    /// pending invitation or is a member, or when the org's cap would be exceeded.
    async fn create_invitations(
        &self,
        org: Uuid,
        invitations: Vec<NewInvitation>,
        change: Change<'_>,
    ) -> StoreResult<Vec<Invitation>>;
    async fn find_invitation(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Invitation>>;
    async fn find_invitation_by_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Invitation>>;
    async fn list_invitations(
        &self,
        org: Uuid,
        status: Option<InvitationStatus>,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Invitation>>;
    /// Revokes a pending invitation of `org`.
    async fn revoke_invitation(
        &self,
        org: Uuid,
        id: Uuid,
        change: Change<'_>,
    ) -> StoreResult<Invitation>;
    /// Pending invitations addressed to any of `emails`, with their orgs.
    async fn list_invitations_for(
        &self,
        emails: &[String],
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(Invitation, OrgSummary)>>;
    /// Accepts: creates the membership with the invitation's role and metadata and
    /// marks the invitation accepted, in one transaction.
    async fn accept_invitation(
        &self,
        id: Uuid,
        identity: Uuid,
        verified_emails: &[String],
        change: Change<'_>,
    ) -> StoreResult<Membership>;
    async fn decline_invitation(
        &self,
        id: Uuid,
        verified_emails: &[String],
        change: Change<'_>,
    ) -> StoreResult<Invitation>;
    /// Replaces a pending invitation's token with `token_hash` (the old link stops
    /// working), withdraws its unsent e-mails and queues `email`, in one transaction.
    /// Refused within `domain::email::RESEND_INTERVAL` of the last e-mail queued for it.
    async fn resend_invitation(
        &self,
        org: Uuid,
        id: Uuid,
        token_hash: &str,
        email: OutgoingEmail,
        change: Change<'_>,
    ) -> StoreResult<Invitation>;
}

async fn load_invitation(conn: &mut Conn, id: Uuid, now: DateTime<Utc>) -> StoreResult<Invitation> {
    query(format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations i WHERE i.id = $1"
    ))
    .bind(id)
    .fetch_optional::<InvitationRow>(conn)
    .await?
    .map(|row| row.at(now))
    .ok_or(StoreError::InvitationNotFound)
}

/// Loads an invitation with its org row locked, re-reading it after the lock so the
/// status seen is the one this transaction may change.
/// Also returns the org's member cap.
async fn lock_invitation(
    conn: &mut Conn,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<(Invitation, i32)> {
    let unlocked = load_invitation(conn, id, now).await?;
    let cap = lock_org(conn, unlocked.org_id).await?;
    Ok((load_invitation(conn, id, now).await?, cap))
}

/// Locks an invitation the caller wants to accept or decline, and checks it is theirs
/// to answer and still pending. Also returns the org's member cap.
async fn lock_for_invitee(
    conn: &mut Conn,
    id: Uuid,
    verified_emails: &[String],
    now: DateTime<Utc>,
) -> StoreResult<(Invitation, i32)> {
    let (invitation, cap) = lock_invitation(conn, id, now).await?;
    check_acceptable(
        invitation.status,
        &invitation.email_address,
        verified_emails,
    )
    .map_err(refusal_error)?;
    Ok((invitation, cap))
}

async fn set_invitation_status(
    conn: &mut Conn,
    id: Uuid,
    status: InvitationStatus,
    accepted_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    query("UPDATE invitations SET status = $2, accepted_by = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(accepted_by)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl InvitationStore for SqlStore {
    #[tracing::instrument(skip_all, fields(org = %org, count = invitations.len()))]
    async fn create_invitations(
        &self,
        org: Uuid,
        invitations: Vec<NewInvitation>,
        change: Change<'_>,
    ) -> StoreResult<Vec<Invitation>> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        let cap = lock_org(&mut tx, org).await?;
        let rights = Rights::require(&mut tx, org, change, Action::ManageInvitations).await?;
        ensure_seats_for(&mut tx, org, cap, invitations.len(), now).await?;
        let stamp = Stamp::from(change);
        let mut created = Vec::with_capacity(invitations.len());
        for invitation in &invitations {
            let granted = rights.catalog.role(&invitation.role)?;
            rights.check(Action::ManageInvitations, Stakes::granting(granted))?;
            if let Some(identity) = invitation.existing_identity {
                if load_membership(&mut tx, org, identity).await?.is_some() {
                    return Err(StoreError::AlreadyMember);
                }
            }
            created.push(insert_invitation(&mut tx, org, invitation, &stamp, now).await?);
        }
        let mut loaded = Vec::with_capacity(created.len());
        for id in created {
            let invitation = load_invitation(&mut tx, id, now).await?;
            emit(
                &mut tx,
                &stamp,
                invitation_event(EventType::InvitationCreated, &invitation),
            )
            .await?;
            loaded.push(invitation);
        }
        tx.commit().await?;
        Ok(loaded)
    }

    async fn find_invitation(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Invitation>> {
        let mut conn = self.db.acquire().await?;
        match load_invitation(&mut conn, id, now).await {
            Ok(invitation) => Ok(Some(invitation)),
            Err(StoreError::InvitationNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn find_invitation_by_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Invitation>> {
        let mut conn = self.db.acquire().await?;
        let row: Option<InvitationRow> = query(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations i WHERE i.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&mut conn)
        .await?;
        Ok(row.map(|row| row.at(now)))
    }

    async fn list_invitations(
        &self,
        org: Uuid,
        status: Option<InvitationStatus>,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Invitation>> {
        let filter =
            status.map_or_else(String::new, |s| format!(" AND {}", status_condition(s, 4)));
        let mut statement = query(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations i WHERE i.org_id = $1 AND i.id > $2 \
             AND i.domain_id IS NULL{filter} ORDER BY i.id LIMIT $3"
        ))
        .bind(org)
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(i64::from(page.limit));
        if matches!(
            status,
            Some(InvitationStatus::Pending | InvitationStatus::Expired)
        ) {
            statement = statement.bind(now);
        }
        let mut conn = self.db.acquire().await?;
        let rows: Vec<InvitationRow> = statement.fetch_all(&mut conn).await?;
        Ok(rows.into_iter().map(|row| row.at(now)).collect())
    }

    #[tracing::instrument(skip_all, fields(org = %org, invitation = %id))]
    async fn revoke_invitation(
        &self,
        org: Uuid,
        id: Uuid,
        change: Change<'_>,
    ) -> StoreResult<Invitation> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        lock_org(&mut tx, org).await?;
        Rights::require(&mut tx, org, change, Action::ManageInvitations).await?;
        let invitation = load_invitation(&mut tx, id, now).await?;
        if invitation.org_id != org {
            return Err(StoreError::InvitationNotFound);
        }
        if invitation.status != InvitationStatus::Pending {
            return Err(StoreError::InvitationNotPending(invitation.status));
        }
        set_invitation_status(&mut tx, id, InvitationStatus::Revoked, None, now).await?;
        cancel_emails(&mut tx, EmailAbout::Invitation(id), now).await?;
        let revoked = load_invitation(&mut tx, id, now).await?;
        let event = invitation_event(EventType::InvitationRevoked, &revoked);
        emit(&mut tx, &Stamp::from(change), event).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    async fn list_invitations_for(
        &self,
        emails: &[String],
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(Invitation, OrgSummary)>> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..emails.len()).map(|i| format!("${}", i + 4)).collect();
        let mut statement = query(format!(
            "SELECT {INVITATION_COLUMNS}, o.name AS org_name, o.slug AS org_slug, \
             o.image_url AS org_image_url FROM invitations i JOIN orgs o ON o.id = i.org_id \
             WHERE i.id > $1 AND {} AND i.email_address IN ({}) ORDER BY i.id LIMIT $2",
            live_pending(3),
            placeholders.join(", ")
        ))
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(i64::from(page.limit))
        .bind(now);
        for email in emails {
            statement = statement.bind(email);
        }
        let mut conn = self.db.acquire().await?;
        let rows: Vec<InvitationWithOrgRow> = statement.fetch_all(&mut conn).await?;
        Ok(rows.into_iter().map(|row| row.split(now)).collect())
    }

    #[tracing::instrument(skip_all, fields(invitation = %id, identity = %identity))]
    async fn accept_invitation(
        &self,
        id: Uuid,
        identity: Uuid,
        verified_emails: &[String],
        change: Change<'_>,
    ) -> StoreResult<Membership> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        let (invitation, cap) = lock_for_invitee(&mut tx, id, verified_emails, now).await?;
        let org = invitation.org_id;
        if load_membership(&mut tx, org, identity).await?.is_some() {
            return Err(StoreError::AlreadyMember);
        }
        // A manager's invitation held a seat, but the cap may have been lowered since it
        // was sent: as Clerk does, the cap wins over a promise it no longer covers. A
        // domain's invitation held none: it takes a free seat, or none is left.
        if cap > 0 {
            let taken = match invitation.domain_id {
                None => members_count(&mut tx, org).await?,
                Some(_) => seats_taken(&mut tx, org, now).await?,
            };
            if taken >= i64::from(cap) {
                return Err(StoreError::QuotaExceeded);
            }
        }
        role_exists(&mut tx, &invitation.role).await?;
        let metadata = (&invitation.public_metadata, &invitation.private_metadata);
        insert_membership(&mut tx, org, identity, &invitation.role, metadata, now).await?;
        set_invitation_status(&mut tx, id, InvitationStatus::Accepted, Some(identity), now).await?;
        cancel_emails(&mut tx, EmailAbout::Invitation(id), now).await?;
        let membership = load_membership(&mut tx, org, identity)
            .await?
            .ok_or(StoreError::MemberNotFound)?;
        let stamp = Stamp::from(change);
        let accepted = load_invitation(&mut tx, id, now).await?;
        emit(
            &mut tx,
            &stamp,
            invitation_event(EventType::InvitationAccepted, &accepted),
        )
        .await?;
        record_membership_event(&mut tx, change, EventType::MembershipCreated, &membership).await?;
        tx.commit().await?;
        Ok(membership)
    }

    #[tracing::instrument(skip_all, fields(invitation = %id))]
    async fn decline_invitation(
        &self,
        id: Uuid,
        verified_emails: &[String],
        change: Change<'_>,
    ) -> StoreResult<Invitation> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        lock_for_invitee(&mut tx, id, verified_emails, now).await?;
        set_invitation_status(&mut tx, id, InvitationStatus::Declined, None, now).await?;
        cancel_emails(&mut tx, EmailAbout::Invitation(id), now).await?;
        let declined = load_invitation(&mut tx, id, now).await?;
        let event = invitation_event(EventType::InvitationDeclined, &declined);
        emit(&mut tx, &Stamp::from(change), event).await?;
        tx.commit().await?;
        Ok(declined)
    }

    async fn resend_invitation(
        &self,
        org: Uuid,
        id: Uuid,
        token_hash: &str,
        email: OutgoingEmail,
        change: Change<'_>,
    ) -> StoreResult<Invitation> {
        self.resend(org, id, token_hash, email, change).await
    }
}

/// An invitation's event.
pub(in crate::store) fn invitation_event(kind: EventType, invitation: &Invitation) -> Event {
    Event {
        kind,
        org_id: Some(invitation.org_id),
        target: ("organization_invitation", invitation.id.to_string()),
        data: events::invitation(invitation),
    }
}
