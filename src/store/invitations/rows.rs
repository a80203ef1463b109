//! How invitations are read: their columns, the status conditions the SQL needs, and the
//! rows as the store returns them (with expiry applied).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::Invitation;
use crate::domain::invitation::{InvitationStatus, Refusal};
use crate::store::{OrgSummary, StoreError};

pub(super) const INVITATION_COLUMNS: &str = "i.id, i.org_id, i.email_address, i.role, i.status, \
    i.public_metadata, i.private_metadata, i.inviter_id, i.redirect_url, i.expires_at, \
    i.accepted_by, i.clerk_id, i.locale, i.created_at, i.updated_at";

/// Pending and not yet expired at `$n` (the caller binds "now" there).
pub(in crate::store) fn live_pending(n: usize) -> String {
    format!("i.status = 'pending' AND (i.expires_at IS NULL OR i.expires_at > ${n})")
}

/// The SQL condition selecting invitations whose status, as callers see it, is `status`.
pub(super) fn status_condition(status: InvitationStatus, now_param: usize) -> String {
    match status {
        InvitationStatus::Pending => live_pending(now_param),
        InvitationStatus::Expired => format!(
            "(i.status = 'expired' OR (i.status = 'pending' AND i.expires_at <= ${now_param}))"
        ),
        other => format!("i.status = '{}'", other.as_str()),
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct InvitationRow {
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
    locale: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl InvitationRow {
    pub(super) fn at(self, now: DateTime<Utc>) -> Invitation {
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
            locale: self.locale,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct InvitationWithOrgRow {
    #[sqlx(flatten)]
    invitation: InvitationRow,
    org_name: String,
    org_slug: String,
    org_image_url: Option<String>,
}

impl InvitationWithOrgRow {
    pub(super) fn split(self, now: DateTime<Utc>) -> (Invitation, OrgSummary) {
        let org = OrgSummary {
            id: self.invitation.org_id,
            name: self.org_name,
            slug: self.org_slug,
            image_url: self.org_image_url,
        };
        (self.invitation.at(now), org)
    }
}

pub(super) fn refusal_error(refusal: Refusal) -> StoreError {
    match refusal {
        Refusal::NotPending(status) => StoreError::InvitationNotPending(status),
        Refusal::AddressNotVerified => StoreError::AddressNotVerified,
    }
}
