//! Persistence. One [`Store`] made of one trait per aggregate (orgs, members, roles,
//! API keys, invitations, the Clerk import), each implemented once in its own module by
//! [`SqlStore`] over either database. The backend is chosen by the scheme of
//! `DATABASE_URL`; `postgres.rs` and `sqlite.rs` hold only what differs between the
//! two. Each method is one use case in one transaction, and the invariants of
//! design.md §4 are enforced inside that transaction. Time always comes from the
//! caller (the application's clock), never from here.

mod access;
mod active_orgs;
mod api_keys;
mod catalog;
mod db;
mod domains;
mod emails;
mod enrollment;
mod events;
mod guard;
mod import;
mod invariants;
mod invitations;
mod locking;
mod members;
mod orgs;
mod permission_checks;
mod postgres;
mod roles;
mod signing_keys;
mod sqlite;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::enrollment::RequestStatus;
use crate::domain::invitation::InvitationStatus;
use crate::domain::{Caller, Denied};
use db::Db;

pub use access::AccessStore;
pub use active_orgs::{ActiveOrgStore, SessionKey};
pub use api_keys::{ApiKeyRecord, ApiKeyStore};
pub use domains::{Domain, DomainStore, NewDomain, VerificationRequest};
pub use emails::{ClaimedEmail, EmailOutcome, EmailQueueCounts, EmailStore};
pub use enrollment::{
    DomainEnrollmentJob, Enrolled, EnrollmentProgress, EnrollmentStore, MembershipRequest,
    RequestWithOrg, Suggestion,
};
pub use events::{public_user_data, EventType};
pub use events::{AuditEntry, AuditQuery, AuditStore};
pub use import::{
    AppliedDomain, AppliedOrg, AppliedRequest, DomainImport, DomainNote, ImportStore,
    InvitationImport, MemberImport, OrgImport, OrgImportOutcome, RequestImport, RoleImport,
    RowStatus,
};
pub use invitations::{Invitation, InvitationStore, NewInvitation};
pub use members::{IdentityProfile, MemberFilter, MemberStore, Membership, MetadataPatch};
pub use orgs::{NewOrg, Org, OrgFilter, OrgPatch, OrgStore, OrgSummary};
pub use permission_checks::{
    MemberFacts, MembershipQuery, OrgMembershipFacts, PermissionCheckStore,
};
pub use roles::{Role, RolePatch, RoleStore};
pub use signing_keys::{Rotation, SigningKeyRecord, SigningKeyStore};
pub use webhooks::{
    AttemptOutcome, AttemptRecord, ClaimedDelivery, DeliveryAttempt, NewWebhookEndpoint,
    OutboxStore, Replay, WebhookEndpoint, WebhookEndpointPatch, WebhookStore,
};

/// Who asks for a write, and when. Every write that needs a right in an org checks that
/// right again inside its own transaction (`guard.rs`), with the caller's membership
/// read there: a caller removed or demoted a moment earlier on another replica is
/// refused once the locks are held. `now` stamps the change, and the change's events
/// name `by` and `origin`.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub by: &'a Caller,
    pub now: chrono::DateTime<chrono::Utc>,
    pub origin: Option<&'a RequestOrigin>,
    /// Polis acting on its own (the identity reconciler): its events name the `system`
    /// actor rather than `by`, which only carries the rights it acts with.
    pub by_system: bool,
}

impl<'a> Change<'a> {
    pub fn new(by: &'a Caller, now: chrono::DateTime<chrono::Utc>) -> Self {
        Change {
            by,
            now,
            origin: None,
            by_system: false,
        }
    }

    /// A change Polis makes on its own, with an admin key's rights.
    pub fn by_system(now: chrono::DateTime<chrono::Utc>) -> Change<'static> {
        static SYSTEM: std::sync::LazyLock<Caller> = std::sync::LazyLock::new(|| {
            Caller::ApiKey(crate::domain::caller::ApiKeyCaller {
                id: uuid::Uuid::nil(),
                name: "polis".into(),
                scope: crate::domain::ApiKeyScope::Admin,
            })
        });
        Change {
            by_system: true,
            ..Change::new(&SYSTEM, now)
        }
    }

    /// The same change, made by the request `origin` describes.
    pub fn from_request(mut self, origin: &'a RequestOrigin) -> Self {
        self.origin = Some(origin);
        self
    }
}

/// Where a request that changes something came from, as its events record it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Keyset page request: at most `limit` rows strictly after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<uuid::Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The caller's right, checked again inside the write's transaction, is gone (a
    /// moment ago it was removed or demoted) or does not cover this write's stakes.
    #[error("refused: {0:?}")]
    Denied(Denied),
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
    #[error("the invitation's last e-mail was queued less than a minute ago")]
    ResendTooSoon { retry_after_secs: u64 },
    #[error("no verified address of the caller matches the invitation")]
    AddressNotVerified,
    #[error("suggestion not found")]
    SuggestionNotFound,
    #[error("membership request not found")]
    MembershipRequestNotFound,
    #[error("the membership request is {0:?}, not pending")]
    MembershipRequestNotPending(RequestStatus),
    #[error("domain not found")]
    DomainNotFound,
    #[error("the organization already has this domain")]
    DomainExists,
    #[error("the organization has the most domains allowed")]
    DomainQuotaExceeded,
    /// Another org of the instance has verified this name.
    #[error("the domain cannot be verified by this organization")]
    DomainTaken,
    #[error("the domain is already verified")]
    DomainAlreadyVerified,
    #[error("the address is not at the domain")]
    DomainAddressMismatch,
    #[error("a code was sent less than a minute ago")]
    CodeRecentlySent { retry_after: u64 },
    #[error("no verification code is live")]
    VerificationCodeMissing,
    #[error("the verification code expired")]
    VerificationCodeExpired,
    #[error("wrong verification code")]
    VerificationCodeInvalid { remaining: i32 },
    #[error("Clerk id {0} already belongs to another organization's record")]
    ClerkIdConflict(String),
    /// Merged metadata that breaks a rule of `validate_metadata` (the message says which).
    #[error("{field} {message}")]
    InvalidMetadata {
        field: &'static str,
        message: String,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything Polis keeps, as one object the application holds as `Arc<dyn Store>`.
#[async_trait]
pub trait Store:
    AccessStore
    + OrgStore
    + MemberStore
    + RoleStore
    + ApiKeyStore
    + InvitationStore
    + EnrollmentStore
    + DomainStore
    + ImportStore
    + SigningKeyStore
    + ActiveOrgStore
    + PermissionCheckStore
    + AuditStore
    + WebhookStore
    + OutboxStore
    + EmailStore
{
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Answers when the database does.
    async fn ping(&self) -> StoreResult<()>;
    /// The connection pool right now (for metrics).
    fn pool_status(&self) -> PoolStatus;
    /// Closes the pool once the connections in use come back (at shutdown).
    async fn close(&self);
}

/// How the connection pool is sized and bounded (the `POLIS_DB_*` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// `None`: the backend's default.
    pub max_connections: Option<u32>,
    /// How long a caller waits for a free connection before the pool gives up.
    pub acquire_timeout: Duration,
    /// PostgreSQL's `statement_timeout` for every statement; ignored by SQLite.
    pub statement_timeout: Option<Duration>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: None,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: None,
        }
    }
}

/// What the pool's connections are doing at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    pub in_use: u32,
    pub idle: u32,
    /// Requests waiting for a connection.
    pub waiting: u32,
    pub max: u32,
}

/// The store over either database: every aggregate module implements its trait for it.
pub struct SqlStore {
    db: Db,
}

impl SqlStore {
    fn over(db: Db) -> SqlStore {
        SqlStore { db }
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn migrate(&self) -> StoreResult<()> {
        Ok(self.db.migrate().await?)
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.db.acquire().await?;
        db::query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }

    fn pool_status(&self) -> PoolStatus {
        self.db.status()
    }

    async fn close(&self) {
        self.db.close().await;
    }
}

/// Opens the store named by `database_url`: `postgres://…`/`postgresql://…` or `sqlite://…`.
pub async fn connect(database_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    connect_with(database_url, &PoolSettings::default()).await
}

/// [`connect`] with a pool sized and bounded by `pool`.
pub async fn connect_with(
    database_url: &str,
    pool: &PoolSettings,
) -> anyhow::Result<Arc<dyn Store>> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        let options = database_url.parse()?;
        Ok(Arc::new(
            SqlStore::connect_postgres_pooled(options, pool).await?,
        ))
    } else if database_url.starts_with("sqlite:") {
        Ok(Arc::new(
            SqlStore::connect_sqlite_pooled(database_url, pool).await?,
        ))
    } else {
        anyhow::bail!("DATABASE_URL must start with postgres://, postgresql:// or sqlite://")
    }
}

/// The unique constraints whose violation means something to callers, named once for
/// both backends: PostgreSQL reports the constraint's name, SQLite only `table.column`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unique {
    OrgSlug,
    Membership,
    RoleKey,
    PendingInvitation,
    /// One name per org.
    OrgDomain,
    /// A name is verified by at most one org.
    VerifiedDomain,
}

impl Unique {
    fn is_violated_by(self, err: &sqlx::Error) -> bool {
        let (postgres, sqlite) = match self {
            Unique::OrgSlug => ("orgs_slug_key", "orgs.slug"),
            Unique::Membership => ("org_membership_pkey", "org_membership.identity_id"),
            Unique::RoleKey => ("roles_pkey", "roles.key"),
            Unique::PendingInvitation => ("invitations_pending_key", "invitations.org_id"),
            Unique::OrgDomain => ("org_domains_org_name_key", "org_domains.org_id"),
            Unique::VerifiedDomain => ("org_domains_verified_name_key", "failed: org_domains.name"),
        };
        let Some(db) = err.as_database_error() else {
            return false;
        };
        match db.constraint() {
            Some(name) => name == postgres,
            None => {
                db.kind() == sqlx::error::ErrorKind::UniqueViolation
                    && db.message().contains(sqlite)
            }
        }
    }
}

/// Turns a unique-constraint violation into the domain error it means (habit: one
/// mapping, never string matching at call sites).
pub(crate) trait OnUnique<T> {
    fn on_unique(self, constraint: Unique, error: StoreError) -> StoreResult<T>;
}

impl<T> OnUnique<T> for Result<T, sqlx::Error> {
    fn on_unique(self, constraint: Unique, error: StoreError) -> StoreResult<T> {
        self.map_err(|err| {
            if constraint.is_violated_by(&err) {
                error
            } else {
                StoreError::Database(err)
            }
        })
    }
}
