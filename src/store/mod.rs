//! Persistence. One [`Store`] trait; one implementation per database, chosen by the
//! scheme of `DATABASE_URL`. Each method is one use case in one transaction, and the
//! invariants of design.md §4 are enforced inside that transaction.

#[macro_use]
mod sql;
#[macro_use]
mod invitations_sql;
mod invitations;
#[macro_use]
mod import;
mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::invitation::InvitationStatus;
use crate::domain::org::{OrgRef, Slug};
use crate::domain::ApiKeyScope;

pub use import::{
    AppliedOrg, ImportStore, InvitationImport, MemberImport, OrgImport, OrgImportOutcome,
    RoleImport, RowStatus,
};
pub use invitations::{Invitation, InvitationStore, NewInvitation};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub image_url: Option<String>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub max_allowed_memberships: i32,
    pub members_count: i64,
    pub created_by: Option<Uuid>,
    pub clerk_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewOrg {
    pub name: String,
    pub slug: Slug,
    pub image_url: Option<String>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub max_allowed_memberships: i32,
    pub created_by: Option<Uuid>,
    /// The creator's first membership and its role, added in the same transaction.
    pub creator: Option<(Uuid, String)>,
}

/// Changes to an org; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub slug: Option<Slug>,
    pub image_url: Option<Option<String>>,
    pub public_metadata: Option<Value>,
    pub private_metadata: Option<Value>,
    pub max_allowed_memberships: Option<i32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub org_id: Uuid,
    pub identity_id: Uuid,
    pub role: String,
    pub permissions: Vec<String>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The few org fields shown next to a caller's own memberships.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgSummary {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub image_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub name: String,
    pub scope: ApiKeyScope,
    /// Hex SHA-256 of the key's secret part; the secret itself is never stored.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Keyset page request: at most `limit` rows strictly after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Uuid>,
}

/// Which members a listing covers.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Only members with this role key.
    pub role: Option<String>,
    /// Case-insensitive substring of the member's e-mail or name, as last seen in Kratos.
    pub query: Option<String>,
}

/// A deep-merge update of public and/or private metadata (`null` removes a key).
#[derive(Debug, Clone, Default)]
pub struct MetadataPatch {
    pub public: Option<serde_json::Map<String, Value>>,
    pub private: Option<serde_json::Map<String, Value>>,
}

/// What Polis last saw of a Kratos identity: kept to search members by e-mail or name.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityProfile {
    pub identity_id: Uuid,
    pub email: Option<String>,
    /// Lower-cased e-mail, names and username.
    pub search_text: String,
    pub traits: Value,
}

/// Which orgs a listing covers.
#[derive(Debug, Clone, Default)]
pub struct OrgFilter {
    /// Only orgs this identity belongs to.
    pub member: Option<Uuid>,
    /// Case-insensitive substring of the name or slug.
    pub query: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("organization not found")]
    OrgNotFound,
    #[error("membership not found")]
    MemberNotFound,
    #[error("role not found")]
    RoleNotFound,
    #[error("slug already taken")]
    SlugTaken,
    #[error("already a member")]
    AlreadyMember,
    #[error("unknown role {0}")]
    UnknownRole(String),
    #[error("membership quota exceeded")]
    QuotaExceeded,
    #[error("would leave the organization without a member who can manage members")]
    LastAdmin,
    #[error("role is assigned to members")]
    RoleInUse,
    #[error("role already exists")]
    RoleExists,
    #[error("invitation not found")]
    InvitationNotFound,
    #[error("a pending invitation for this address exists")]
    InvitationExists,
    #[error("the invitation is {0:?}, not pending")]
    InvitationNotPending(InvitationStatus),
    #[error("no verified address of the caller matches the invitation")]
    AddressNotVerified,
    #[error("Clerk id {0} already belongs to another organization's record")]
    ClerkIdConflict(String),
    #[error("{0} would exceed the metadata size limit")]
    MetadataTooLarge(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: InvitationStore + ImportStore + Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Answers when the database does.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_org(&self, org: NewOrg) -> StoreResult<Org>;
    async fn find_org(&self, org: &OrgRef) -> StoreResult<Option<Org>>;
    async fn list_orgs(&self, filter: &OrgFilter, page: PageRequest) -> StoreResult<Vec<Org>>;
    async fn update_org(&self, id: Uuid, patch: OrgPatch) -> StoreResult<Org>;
    /// Deletes the org and, by cascade in the same statement, its memberships and
    /// invitations.
    async fn delete_org(&self, id: Uuid) -> StoreResult<()>;
    /// Deep-merges metadata into the org's, under the org lock.
    async fn merge_org_metadata(&self, id: Uuid, patch: MetadataPatch) -> StoreResult<Org>;
    /// Deep-merges metadata into a membership's, under the org lock.
    async fn merge_member_metadata(
        &self,
        org: Uuid,
        identity: Uuid,
        patch: MetadataPatch,
    ) -> StoreResult<Membership>;
    /// Records what Kratos said about these identities.
    async fn save_identity_profiles(
        &self,
        profiles: &[IdentityProfile],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn find_membership(&self, org: Uuid, identity: Uuid) -> StoreResult<Option<Membership>>;
    async fn list_members(
        &self,
        org: Uuid,
        filter: &MemberFilter,
        page: PageRequest,
    ) -> StoreResult<Vec<Membership>>;
    /// Adds a member unless that would exceed the org's cap (members plus pending
    /// invitations not yet expired at `now`).
    async fn add_member(
        &self,
        org: Uuid,
        identity: Uuid,
        role: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Membership>;
    /// Changes a role unless that would leave no member able to manage members.
    async fn change_role(&self, org: Uuid, identity: Uuid, role: &str) -> StoreResult<Membership>;
    /// Removes a member unless that would leave no member able to manage members.
    async fn remove_member(&self, org: Uuid, identity: Uuid) -> StoreResult<()>;
    /// The identity's memberships with their orgs, ordered by org id.
    async fn list_memberships_of(
        &self,
        identity: Uuid,
        page: PageRequest,
    ) -> StoreResult<Vec<(Membership, OrgSummary)>>;

    async fn list_roles(&self) -> StoreResult<Vec<Role>>;
    async fn find_role(&self, key: &str) -> StoreResult<Option<Role>>;
    async fn create_role(&self, role: Role) -> StoreResult<Role>;
    async fn update_role(&self, key: &str, patch: RolePatch) -> StoreResult<Role>;
    async fn delete_role(&self, key: &str) -> StoreResult<()>;

    async fn create_api_key(&self, key: ApiKeyRecord) -> StoreResult<()>;
    async fn find_api_key(&self, id: Uuid) -> StoreResult<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Marks the key revoked; false when no active key has that id.
    async fn revoke_api_key(&self, id: Uuid) -> StoreResult<bool>;
}

/// Opens the store named by `database_url`: `postgres://…`/`postgresql://…` or `sqlite://…`.
pub async fn connect(database_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(database_url).await?))
    } else if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(database_url).await?))
    } else {
        anyhow::bail!("DATABASE_URL must start with postgres://, postgresql:// or sqlite://")
    }
}

/// Timestamps are kept to the microsecond so both databases store the same value.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Names the constraint a database error violated, the same on both backends:
/// PostgreSQL reports constraint names, SQLite only `table.column` lists.
pub(crate) fn violated_constraint(err: &sqlx::Error) -> Option<&'static str> {
    let db = err.as_database_error()?;
    let text = db.constraint().unwrap_or_else(|| db.message());
    [
        ("orgs_slug_key", "orgs.slug"),
        ("orgs_clerk_id_key", "orgs.clerk_id"),
        ("org_membership_pkey", "org_membership.identity_id"),
        ("roles_pkey", "roles.key"),
        ("invitations_pending_key", "invitations.org_id"),
    ]
    .into_iter()
    .find(|(pg, sqlite)| text == *pg || text.contains(sqlite))
    .map(|(pg, _)| pg)
}

/// Builds a role's permission list from `(role, permission)` rows.
pub(crate) fn permissions_of(rows: &[(String, String)], role: &str) -> Vec<String> {
    rows.iter()
        .filter(|(r, _)| r == role)
        .map(|(_, p)| p.clone())
        .collect()
}
