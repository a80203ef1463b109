//! Storage side of the Clerk import: one transaction per batch of organizations, with a
//! savepoint per organization that upserts the org (keyed by its Clerk id), its
//! memberships and its pending invitations, plus the role catalog upsert. This module
//! holds the types and the pure decisions; `apply.rs` the statements.
//!
//! A dry run executes exactly the same statements and rolls back, so its report
//! cannot drift from what a real run would do.

mod apply;
mod enrollment;
mod events;
mod roles;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::StoreResult;
pub use enrollment::{AppliedDomain, AppliedRequest, DomainImport, DomainNote, RequestImport};
use sqlx::types::Json;

/// What happened to one imported row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    Created,
    Updated,
    Unchanged,
    Skipped,
}

/// A role (or the permissions of one) to create when Polis lacks it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleImport {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberImport {
    pub identity_id: Uuid,
    pub role: String,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InvitationImport {
    pub clerk_id: String,
    /// Lower-cased.
    pub email_address: String,
    pub role: String,
    pub inviter_id: Option<Uuid>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One organization with everything that goes in with it, already validated and mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgImport {
    pub clerk_id: String,
    pub name: String,
    pub slug: String,
    pub image_url: Option<String>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub max_allowed_memberships: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// At most one per identity.
    pub members: Vec<MemberImport>,
    pub invitations: Vec<InvitationImport>,
    pub domains: Vec<DomainImport>,
    /// Pending requests to join, by identities that are not members.
    pub requests: Vec<RequestImport>,
    /// Roles the members need, created inside this transaction when missing. Only a dry
    /// run needs them: a real run has created them beforehand in their own transaction.
    pub ensure_roles: Vec<RoleImport>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OrgImportOutcome {
    Applied(AppliedOrg),
    /// Another organization (not imported from this Clerk id) has the slug.
    SlugConflict,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppliedOrg {
    pub org_id: Uuid,
    pub status: RowStatus,
    /// Parallel to [`OrgImport::members`].
    pub members: Vec<RowStatus>,
    /// Parallel to [`OrgImport::invitations`]; `Skipped` when the address already has
    /// another pending invitation to the org.
    pub invitations: Vec<RowStatus>,
    /// Parallel to [`OrgImport::domains`].
    pub domains: Vec<AppliedDomain>,
    /// Parallel to [`OrgImport::requests`].
    pub requests: Vec<AppliedRequest>,
    /// Whether some member can manage members once the import is in.
    pub has_admin: bool,
}

#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
    /// Creates missing roles and adds missing permissions to existing ones (never removes
    /// any). Returns one status per role. `dry_run` rolls back.
    async fn import_roles(
        &self,
        roles: &[RoleImport],
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<RowStatus>>;
    /// Upserts several organizations in one transaction, each with its members and
    /// invitations under its own savepoint: one org's failure rolls back only that org
    /// (its entry is the error). The outer error means the transaction itself failed
    /// and nothing of the batch was written. `now` stamps the roles a dry run creates.
    async fn apply_org_imports(
        &self,
        orgs: &[OrgImport],
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoreResult<OrgImportOutcome>>>;
    /// `(clerk_id, id)` of imported orgs, ordered by Clerk id, after `after`.
    async fn list_clerk_org_ids(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, Uuid)>>;
    /// How many org imports may usefully run at once on this backend.
    fn import_parallelism(&self) -> usize;
}

/// Rows per multi-row INSERT: 8 binds each stays far below both databases' limits.
const INSERT_CHUNK: usize = 500;

/// Whether a stored membership already equals the imported one.
fn member_unchanged(row: &ExistingMember, new: &MemberImport) -> bool {
    row.role == new.role
        && row.public_metadata.0 == new.public_metadata
        && row.private_metadata.0 == new.private_metadata
        && row.created_at == new.created_at
        && row.updated_at == new.updated_at
}

#[derive(sqlx::FromRow)]
struct ExistingMember {
    identity_id: Uuid,
    role: String,
    public_metadata: Json<Value>,
    private_metadata: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ExistingOrg {
    id: Uuid,
    clerk_id: Option<String>,
    name: String,
    slug: String,
    image_url: Option<String>,
    public_metadata: Json<Value>,
    private_metadata: Json<Value>,
    max_allowed_memberships: i32,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ExistingOrg {
    fn same_as(&self, new: &OrgImport) -> bool {
        self.name == new.name
            && self.slug == new.slug
            && self.image_url == new.image_url
            && self.public_metadata.0 == new.public_metadata
            && self.private_metadata.0 == new.private_metadata
            && self.max_allowed_memberships == new.max_allowed_memberships
            && self.created_by == new.created_by
            && self.created_at == new.created_at
            && self.updated_at == new.updated_at
    }
}

#[derive(sqlx::FromRow)]
struct ExistingInvitation {
    clerk_id: Option<String>,
    email_address: String,
    role: String,
    status: String,
    inviter_id: Option<Uuid>,
    public_metadata: Json<Value>,
    private_metadata: Json<Value>,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ExistingInvitation {
    fn same_as(&self, new: &InvitationImport) -> bool {
        self.email_address == new.email_address
            && self.role == new.role
            && self.inviter_id == new.inviter_id
            && self.public_metadata.0 == new.public_metadata
            && self.private_metadata.0 == new.private_metadata
            && self.expires_at == new.expires_at
            && self.created_at == new.created_at
            && self.updated_at == new.updated_at
    }
}

/// What to do with each imported invitation, given those the org already has.
/// Returns the statuses and the indexes to write (insert or update).
fn plan_invitations(
    existing: &[ExistingInvitation],
    new: &[InvitationImport],
) -> (Vec<RowStatus>, Vec<usize>) {
    let mut statuses = Vec::with_capacity(new.len());
    let mut writes = Vec::new();
    for (i, inv) in new.iter().enumerate() {
        let same_id = existing
            .iter()
            .find(|e| e.clerk_id.as_deref() == Some(inv.clerk_id.as_str()));
        let status = match same_id {
            // Accepted, revoked or declined in Polis since: Polis's state wins.
            Some(e) if e.status != "pending" => RowStatus::Unchanged,
            Some(e) if e.same_as(inv) => RowStatus::Unchanged,
            Some(_) => RowStatus::Updated,
            None => {
                let taken = existing.iter().any(|e| {
                    e.status == "pending"
                        && e.email_address == inv.email_address
                        && e.clerk_id.as_deref() != Some(inv.clerk_id.as_str())
                });
                if taken {
                    RowStatus::Skipped
                } else {
                    RowStatus::Created
                }
            }
        };
        if matches!(status, RowStatus::Created | RowStatus::Updated) {
            writes.push(i);
        }
        statuses.push(status);
    }
    (statuses, writes)
}

/// `($1, $2, …), (…)` for `rows` rows of `width` binds, numbered from `$1`.
fn values_placeholders(rows: usize, width: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * width + c + 1));
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(values_placeholders(2, 2), "($1, $2), ($3, $4)");
    }
}
