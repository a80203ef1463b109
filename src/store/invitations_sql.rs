//! The invitation SQL both backends share, instantiated per backend by
//! [`impl_invitation_store!`] next to [`impl_sql_store!`], whose helpers it uses.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::invitations::Invitation;
use super::StoreError;
use crate::domain::invitation::{InvitationStatus, Refusal};

pub(crate) const INVITATION_COLUMNS: &str = "i.id, i.org_id, i.email_address, i.role, i.status, \
    i.public_metadata, i.private_metadata, i.inviter_id, i.redirect_url, i.expires_at, \
    i.accepted_by, i.clerk_id, i.created_at, i.updated_at";

/// Pending and not yet expired at `$n` (the caller binds "now" there).
pub(crate) fn live_pending(n: usize) -> String {
    format!("i.status = 'pending' AND (i.expires_at IS NULL OR i.expires_at > ${n})")
}

/// The SQL condition selecting invitations whose status, as callers see it, is `status`.
pub(crate) fn status_condition(status: InvitationStatus, now_param: usize) -> String {
    match status {
        InvitationStatus::Pending => live_pending(now_param),
        InvitationStatus::Expired => format!(
            "(i.status = 'expired' OR (i.status = 'pending' AND i.expires_at <= ${now_param}))"
        ),
        other => format!("i.status = '{}'", other.as_str()),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InvitationRow {
    id: Uuid,
    org_id: Uuid,
    email_address: String,
    role: String,
    status: String,
    public_metadata: Json<Value>,
    private_metadata: Json<Value>,
    inviter_id: Option<Uuid>,
    redirect_url: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    accepted_by: Option<Uuid>,
    clerk_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl InvitationRow {
    pub(crate) fn at(self, now: DateTime<Utc>) -> Invitation {
        // The CHECK constraint admits only known statuses; anything else reads as revoked.
        let stored = InvitationStatus::parse(&self.status).unwrap_or(InvitationStatus::Revoked);
        Invitation {
            status: InvitationStatus::effective(stored, self.expires_at, now),
            id: self.id,
            org_id: self.org_id,
            email_address: self.email_address,
            role: self.role,
            public_metadata: self.public_metadata.0,
            private_metadata: self.private_metadata.0,
            inviter_id: self.inviter_id,
            redirect_url: self.redirect_url,
            expires_at: self.expires_at,
            accepted_by: self.accepted_by,
            clerk_id: self.clerk_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InvitationWithOrgRow {
    #[sqlx(flatten)]
    invitation: InvitationRow,
    org_name: String,
    org_slug: String,
    org_image_url: Option<String>,
}

impl InvitationWithOrgRow {
    pub(crate) fn split(self, now: DateTime<Utc>) -> (Invitation, super::OrgSummary) {
        let org = super::OrgSummary {
            id: self.invitation.org_id,
            name: self.org_name,
            slug: self.org_slug,
            image_url: self.org_image_url,
        };
        (self.invitation.at(now), org)
    }
}

pub(crate) fn refusal_error(refusal: Refusal) -> StoreError {
    match refusal {
        Refusal::NotPending(status) => StoreError::InvitationNotPending(status),
        Refusal::AddressNotVerified => StoreError::AddressNotVerified,
    }
}

/// Implements [`super::InvitationStore`] for a backend already given
/// [`impl_sql_store!`].
macro_rules! impl_invitation_store {
    ($store:ty, $conn:ty) => {
        impl $store {
            async fn load_invitation(
                conn: &mut $conn,
                id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Invitation> {
                let sql = format!(
                    "SELECT {} FROM invitations i WHERE i.id = $1",
                    $crate::store::invitations_sql::INVITATION_COLUMNS
                );
                sqlx::query_as::<_, $crate::store::invitations_sql::InvitationRow>(&sql)
                    .bind(id)
                    .fetch_optional(conn)
                    .await?
                    .map(|row| row.at(now))
                    .ok_or($crate::store::StoreError::InvitationNotFound)
            }

            /// Loads an invitation with its org row locked, re-reading it after the lock
            /// so the status seen is the one this transaction may change.
            async fn lock_invitation(
                conn: &mut $conn,
                id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Invitation> {
                let unlocked = Self::load_invitation(&mut *conn, id, now).await?;
                Self::lock_org(&mut *conn, unlocked.org_id).await?;
                Self::load_invitation(conn, id, now).await
            }

            async fn set_invitation_status(
                conn: &mut $conn,
                id: uuid::Uuid,
                status: $crate::domain::invitation::InvitationStatus,
                accepted_by: Option<uuid::Uuid>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE invitations SET status = $2, accepted_by = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(accepted_by)
                .bind(now)
                .execute(conn)
                .await?;
                Ok(())
            }

            async fn insert_invitation(
                conn: &mut $conn,
                org: uuid::Uuid,
                invitation: &$crate::store::NewInvitation,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<uuid::Uuid> {
                use $crate::store::StoreError;
                // An expired invitation no longer blocks a new one to the same address.
                sqlx::query(
                    "UPDATE invitations SET status = 'expired', updated_at = $3 \
                     WHERE org_id = $1 AND email_address = $2 AND status = 'pending' AND expires_at <= $3",
                )
                .bind(org)
                .bind(&invitation.email_address)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                let id = uuid::Uuid::now_v7();
                let inserted = sqlx::query(
                    "INSERT INTO invitations (id, org_id, email_address, role, status, token_hash, \
                     inviter_id, public_metadata, private_metadata, redirect_url, expires_at, \
                     created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10, $11, $11)",
                )
                .bind(id)
                .bind(org)
                .bind(&invitation.email_address)
                .bind(&invitation.role)
                .bind(&invitation.token_hash)
                .bind(invitation.inviter_id)
                .bind(sqlx::types::Json(&invitation.public_metadata))
                .bind(sqlx::types::Json(&invitation.private_metadata))
                .bind(&invitation.redirect_url)
                .bind(invitation.expires_at)
                .bind(now)
                .execute(conn)
                .await;
                match inserted {
                    Err(e) if $crate::store::violated_constraint(&e) == Some("invitations_pending_key") => {
                        Err(StoreError::InvitationExists)
                    }
                    Err(e) => Err(e.into()),
                    Ok(_) => Ok(id),
                }
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::InvitationStore for $store {
            #[tracing::instrument(skip_all, fields(org = %org, count = invitations.len()))]
            async fn create_invitations(
                &self,
                org: uuid::Uuid,
                invitations: Vec<$crate::store::NewInvitation>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Invitation>> {
                use $crate::store::StoreError;
                let mut tx = self.begin_write().await?;
                let cap = Self::lock_org(&mut tx, org).await?;
                if cap > 0 {
                    let taken = Self::seats_taken(&mut tx, org, now).await?;
                    let wanted = i64::try_from(invitations.len()).unwrap_or(i64::MAX);
                    if taken.saturating_add(wanted) > i64::from(cap) {
                        return Err(StoreError::QuotaExceeded);
                    }
                }
                let mut ids = Vec::with_capacity(invitations.len());
                for invitation in &invitations {
                    Self::role_exists(&mut tx, &invitation.role).await?;
                    if let Some(identity) = invitation.existing_identity {
                        if Self::load_membership(&mut tx, org, identity).await?.is_some() {
                            return Err(StoreError::AlreadyMember);
                        }
                    }
                    ids.push(Self::insert_invitation(&mut tx, org, invitation, now).await?);
                }
                let mut created = Vec::with_capacity(ids.len());
                for id in ids {
                    created.push(Self::load_invitation(&mut tx, id, now).await?);
                }
                tx.commit().await?;
                Ok(created)
            }

            async fn find_invitation(
                &self,
                id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<$crate::store::Invitation>> {
                let mut conn = self.pool.acquire().await?;
                match Self::load_invitation(&mut conn, id, now).await {
                    Ok(invitation) => Ok(Some(invitation)),
                    Err($crate::store::StoreError::InvitationNotFound) => Ok(None),
                    Err(e) => Err(e),
                }
            }

            async fn find_invitation_by_token(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<$crate::store::Invitation>> {
                let sql = format!(
                    "SELECT {} FROM invitations i WHERE i.token_hash = $1",
                    $crate::store::invitations_sql::INVITATION_COLUMNS
                );
                Ok(sqlx::query_as::<_, $crate::store::invitations_sql::InvitationRow>(&sql)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|row| row.at(now)))
            }

            async fn list_invitations(
                &self,
                org: uuid::Uuid,
                status: Option<$crate::domain::invitation::InvitationStatus>,
                page: $crate::store::PageRequest,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Invitation>> {
                use $crate::domain::invitation::InvitationStatus;
                let filter = status.map_or_else(String::new, |s| {
                    format!(" AND {}", $crate::store::invitations_sql::status_condition(s, 4))
                });
                let sql = format!(
                    "SELECT {} FROM invitations i WHERE i.org_id = $1 AND i.id > $2{filter} \
                     ORDER BY i.id LIMIT $3",
                    $crate::store::invitations_sql::INVITATION_COLUMNS
                );
                let mut query = sqlx::query_as::<_, $crate::store::invitations_sql::InvitationRow>(&sql)
                    .bind(org)
                    .bind(page.after.unwrap_or(uuid::Uuid::nil()))
                    .bind(i64::from(page.limit));
                if matches!(status, Some(InvitationStatus::Pending | InvitationStatus::Expired)) {
                    query = query.bind(now);
                }
                let rows = query.fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|row| row.at(now)).collect())
            }

            #[tracing::instrument(skip_all, fields(org = %org, invitation = %id))]
            async fn revoke_invitation(
                &self,
                org: uuid::Uuid,
                id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Invitation> {
                use $crate::domain::invitation::InvitationStatus;
                use $crate::store::StoreError;
                let mut tx = self.begin_write().await?;
                Self::lock_org(&mut tx, org).await?;
                let invitation = Self::load_invitation(&mut tx, id, now).await?;
                if invitation.org_id != org {
                    return Err(StoreError::InvitationNotFound);
                }
                if invitation.status != InvitationStatus::Pending {
                    return Err(StoreError::InvitationNotPending(invitation.status));
                }
                Self::set_invitation_status(&mut tx, id, InvitationStatus::Revoked, None, now).await?;
                let revoked = Self::load_invitation(&mut tx, id, now).await?;
                tx.commit().await?;
                Ok(revoked)
            }

            async fn list_invitations_for(
                &self,
                emails: &[String],
                page: $crate::store::PageRequest,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<
                Vec<($crate::store::Invitation, $crate::store::OrgSummary)>,
            > {
                if emails.is_empty() {
                    return Ok(Vec::new());
                }
                let placeholders: Vec<String> = (0..emails.len()).map(|i| format!("${}", i + 4)).collect();
                let sql = format!(
                    "SELECT {}, o.name AS org_name, o.slug AS org_slug, o.image_url AS org_image_url \
                     FROM invitations i JOIN orgs o ON o.id = i.org_id \
                     WHERE i.id > $1 AND {} AND i.email_address IN ({}) ORDER BY i.id LIMIT $2",
                    $crate::store::invitations_sql::INVITATION_COLUMNS,
                    $crate::store::invitations_sql::live_pending(3),
                    placeholders.join(", ")
                );
                let mut query = sqlx::query_as::<_, $crate::store::invitations_sql::InvitationWithOrgRow>(&sql)
                    .bind(page.after.unwrap_or(uuid::Uuid::nil()))
                    .bind(i64::from(page.limit))
                    .bind(now);
                for email in emails {
                    query = query.bind(email.to_lowercase());
                }
                let rows = query.fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|row| row.split(now)).collect())
            }

            #[tracing::instrument(skip_all, fields(invitation = %id, identity = %identity))]
            async fn accept_invitation(
                &self,
                id: uuid::Uuid,
                identity: uuid::Uuid,
                verified_emails: &[String],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Membership> {
                use $crate::domain::invitation::{check_acceptable, InvitationStatus};
                use $crate::store::invitations_sql::refusal_error;
                use $crate::store::StoreError;
                let mut tx = self.begin_write().await?;
                let invitation = Self::lock_invitation(&mut tx, id, now).await?;
                check_acceptable(invitation.status, &invitation.email_address, verified_emails)
                    .map_err(refusal_error)?;
                let org = invitation.org_id;
                if Self::load_membership(&mut tx, org, identity).await?.is_some() {
                    return Err(StoreError::AlreadyMember);
                }
                Self::role_exists(&mut tx, &invitation.role).await?;
                sqlx::query(
                    "INSERT INTO org_membership (identity_id, org_id, role, public_metadata, \
                     private_metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(identity)
                .bind(org)
                .bind(&invitation.role)
                .bind(sqlx::types::Json(&invitation.public_metadata))
                .bind(sqlx::types::Json(&invitation.private_metadata))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Self::set_invitation_status(&mut tx, id, InvitationStatus::Accepted, Some(identity), now)
                    .await?;
                let membership = Self::load_membership(&mut tx, org, identity)
                    .await?
                    .ok_or(StoreError::MemberNotFound)?;
                tx.commit().await?;
                Ok(membership)
            }

            #[tracing::instrument(skip_all, fields(invitation = %id))]
            async fn decline_invitation(
                &self,
                id: uuid::Uuid,
                verified_emails: &[String],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Invitation> {
                use $crate::domain::invitation::{check_acceptable, InvitationStatus};
                use $crate::store::invitations_sql::refusal_error;
                let mut tx = self.begin_write().await?;
                let invitation = Self::lock_invitation(&mut tx, id, now).await?;
                check_acceptable(invitation.status, &invitation.email_address, verified_emails)
                    .map_err(refusal_error)?;
                Self::set_invitation_status(&mut tx, id, InvitationStatus::Declined, None, now).await?;
                let declined = Self::load_invitation(&mut tx, id, now).await?;
                tx.commit().await?;
                Ok(declined)
            }
        }
    };
}
