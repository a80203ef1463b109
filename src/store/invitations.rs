//! Storage of invitations: the trait and its types. The SQL is in
//! `invitations_sql.rs`, shared by both backends like `sql.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Membership, OrgSummary, PageRequest, StoreResult};
use crate::domain::invitation::InvitationStatus;

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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
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
}

#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Creates all the invitations or none: refused when one address already has a
    /// pending invitation or is a member, or when the org's cap would be exceeded.
    async fn create_invitations(
        &self,
        org: Uuid,
        invitations: Vec<NewInvitation>,
        now: DateTime<Utc>,
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
        now: DateTime<Utc>,
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
        now: DateTime<Utc>,
    ) -> StoreResult<Membership>;
    async fn decline_invitation(
        &self,
        id: Uuid,
        verified_emails: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Invitation>;
}
