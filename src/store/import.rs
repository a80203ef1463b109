//! Storage side of the Clerk import: one transaction per batch of organizations, with a
//! savepoint per organization that upserts the org (keyed by its Clerk id), its
//! memberships and its pending invitations, plus the role catalog upsert. The SQL is shared by both backends like `sql.rs`, through
//! [`impl_import_store!`]; it only needs the backend's `pool`, `begin_write` and
//! `LOCK_ORG`-style row lock suffix.
//!
//! A dry run executes exactly the same statements and rolls back, so its report
//! cannot drift from what a real run would do.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::StoreResult;

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
    ) -> StoreResult<Vec<RowStatus>>;
    /// Upserts several organizations in one transaction, each with its members and
    /// invitations under its own savepoint: one org's failure rolls back only that org
    /// (its entry is the error). The outer error means the transaction itself failed
    /// and nothing of the batch was written.
    async fn apply_org_imports(
        &self,
        orgs: &[OrgImport],
        dry_run: bool,
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
pub(crate) const INSERT_CHUNK: usize = 500;

/// Whether a stored membership already equals the imported one.
pub(crate) fn member_unchanged(row: &ExistingMember, new: &MemberImport) -> bool {
    row.role == new.role
        && row.public_metadata.0 == new.public_metadata
        && row.private_metadata.0 == new.private_metadata
        && row.created_at == new.created_at
        && row.updated_at == new.updated_at
}

#[derive(sqlx::FromRow)]
pub(crate) struct ExistingMember {
    pub identity_id: Uuid,
    pub role: String,
    pub public_metadata: sqlx::types::Json<Value>,
    pub private_metadata: sqlx::types::Json<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ExistingOrg {
    pub id: Uuid,
    pub clerk_id: Option<String>,
    pub name: String,
    pub slug: String,
    pub image_url: Option<String>,
    pub public_metadata: sqlx::types::Json<Value>,
    pub private_metadata: sqlx::types::Json<Value>,
    pub max_allowed_memberships: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ExistingOrg {
    pub(crate) fn same_as(&self, new: &OrgImport) -> bool {
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
pub(crate) struct ExistingInvitation {
    pub clerk_id: Option<String>,
    pub email_address: String,
    pub role: String,
    pub status: String,
    pub inviter_id: Option<Uuid>,
    pub public_metadata: sqlx::types::Json<Value>,
    pub private_metadata: sqlx::types::Json<Value>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ExistingInvitation {
    pub(crate) fn same_as(&self, new: &InvitationImport) -> bool {
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
pub(crate) fn plan_invitations(
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
pub(crate) fn values_placeholders(rows: usize, width: usize) -> String {
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

/// Implements [`ImportStore`] for a backend struct with a `pool` field and the
/// inherent `begin_write`. `$lock` is appended to the org lookup (`FOR UPDATE` on
/// PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serializes writers). `$tx_setup`, when
/// not empty, runs first in every import transaction.
macro_rules! impl_import_store {
    ($store:ty, $conn:ty, $lock:expr, $tx_setup:expr, $parallelism:expr) => {
        impl $store {
            async fn import_ensure_role(
                conn: &mut $conn,
                role: &$crate::store::RoleImport,
            ) -> $crate::store::StoreResult<$crate::store::RowStatus> {
                use $crate::store::RowStatus;
                let now = $crate::store::now();
                let created = sqlx::query(
                    "INSERT INTO roles (key, name, description, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (key) DO NOTHING",
                )
                .bind(&role.key)
                .bind(&role.name)
                .bind(&role.description)
                .bind(now)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                    == 1;
                let mut added = 0;
                for permission in &role.permissions {
                    added += sqlx::query(
                        "INSERT INTO role_permissions (role_key, permission) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(&role.key)
                    .bind(permission)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                }
                Ok(if created {
                    RowStatus::Created
                } else if added > 0 {
                    RowStatus::Updated
                } else {
                    RowStatus::Unchanged
                })
            }

            /// Inserts or updates the org row; `None` when the slug belongs to another org.
            async fn import_upsert_org(
                conn: &mut $conn,
                org: &$crate::store::OrgImport,
            ) -> $crate::store::StoreResult<Option<(uuid::Uuid, $crate::store::RowStatus)>> {
                use $crate::store::import::ExistingOrg;
                use $crate::store::RowStatus;
                // One round trip finds (and locks) both the org with this Clerk id and
                // any other org holding the slug.
                let sql = format!(
                    "SELECT id, clerk_id, name, slug, image_url, public_metadata, private_metadata, \
                     max_allowed_memberships, created_by, created_at, updated_at \
                     FROM orgs WHERE clerk_id = $1 OR slug = $2{}",
                    $lock
                );
                let rows: Vec<ExistingOrg> = sqlx::query_as(&sql)
                    .bind(&org.clerk_id)
                    .bind(&org.slug)
                    .fetch_all(&mut *conn)
                    .await?;
                let ours = |row: &ExistingOrg| row.clerk_id.as_deref() == Some(org.clerk_id.as_str());
                if rows.iter().any(|row| row.slug == org.slug && !ours(row)) {
                    return Ok(None);
                }
                let existing = rows.into_iter().find(|row| ours(row));
                let (id, status, statement) = match &existing {
                    Some(row) if row.same_as(org) => return Ok(Some((row.id, RowStatus::Unchanged))),
                    Some(row) => (
                        row.id,
                        RowStatus::Updated,
                        "UPDATE orgs SET name = $2, slug = $3, image_url = $4, public_metadata = $5, \
                         private_metadata = $6, max_allowed_memberships = $7, created_by = $8, \
                         created_at = $9, updated_at = $10 WHERE id = $1 AND clerk_id = $11",
                    ),
                    None => (
                        uuid::Uuid::now_v7(),
                        RowStatus::Created,
                        "INSERT INTO orgs (id, name, slug, image_url, public_metadata, \
                         private_metadata, max_allowed_memberships, created_by, created_at, \
                         updated_at, clerk_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    ),
                };
                let written = sqlx::query(statement)
                    .bind(id)
                    .bind(&org.name)
                    .bind(&org.slug)
                    .bind(&org.image_url)
                    .bind(sqlx::types::Json(&org.public_metadata))
                    .bind(sqlx::types::Json(&org.private_metadata))
                    .bind(org.max_allowed_memberships)
                    .bind(org.created_by)
                    .bind(org.created_at)
                    .bind(org.updated_at)
                    .bind(&org.clerk_id)
                    .execute(&mut *conn)
                    .await;
                match written {
                    // Two imports racing for one slug: the loser sees the constraint.
                    Err(e) if $crate::store::violated_constraint(&e) == Some("orgs_slug_key") => {
                        Ok(None)
                    }
                    Err(e) => Err(e.into()),
                    Ok(_) => Ok(Some((id, status))),
                }
            }

            /// Upserts the members. An org created by this transaction has none yet: no
            /// read, and a plain INSERT (no conflict check per row).
            async fn import_members(
                conn: &mut $conn,
                org_id: uuid::Uuid,
                members: &[$crate::store::MemberImport],
                new_org: bool,
            ) -> $crate::store::StoreResult<Vec<$crate::store::RowStatus>> {
                use $crate::store::import::{member_unchanged, ExistingMember, INSERT_CHUNK};
                use $crate::store::RowStatus;
                let existing: Vec<ExistingMember> = if new_org {
                    Vec::new()
                } else {
                    sqlx::query_as(
                        "SELECT identity_id, role, public_metadata, private_metadata, created_at, \
                         updated_at FROM org_membership WHERE org_id = $1",
                    )
                    .bind(org_id)
                    .fetch_all(&mut *conn)
                    .await?
                };
                let existing: std::collections::HashMap<uuid::Uuid, ExistingMember> =
                    existing.into_iter().map(|m| (m.identity_id, m)).collect();
                let mut statuses = Vec::with_capacity(members.len());
                let mut writes = Vec::new();
                for member in members {
                    let status = match existing.get(&member.identity_id) {
                        Some(row) if member_unchanged(row, member) => RowStatus::Unchanged,
                        Some(_) => RowStatus::Updated,
                        None => RowStatus::Created,
                    };
                    if status != RowStatus::Unchanged {
                        writes.push(member);
                    }
                    statuses.push(status);
                }
                for chunk in writes.chunks(INSERT_CHUNK) {
                    Self::import_member_chunk(&mut *conn, org_id, chunk, !new_org).await?;
                }
                Ok(statuses)
            }

            async fn import_member_chunk(
                conn: &mut $conn,
                org_id: uuid::Uuid,
                chunk: &[&$crate::store::MemberImport],
                upsert: bool,
            ) -> $crate::store::StoreResult<()> {
                let sql = format!(
                    "INSERT INTO org_membership (identity_id, org_id, role, public_metadata, \
                     private_metadata, created_at, updated_at) VALUES {}{}",
                    $crate::store::import::values_placeholders(chunk.len(), 7),
                    if upsert {
                        " ON CONFLICT (identity_id, org_id) DO UPDATE SET role = excluded.role, \
                         public_metadata = excluded.public_metadata, \
                         private_metadata = excluded.private_metadata, \
                         created_at = excluded.created_at, updated_at = excluded.updated_at"
                    } else {
                        ""
                    }
                );
                let mut query = sqlx::query(&sql);
                for m in chunk {
                    query = query
                        .bind(m.identity_id)
                        .bind(org_id)
                        .bind(&m.role)
                        .bind(sqlx::types::Json(&m.public_metadata))
                        .bind(sqlx::types::Json(&m.private_metadata))
                        .bind(m.created_at)
                        .bind(m.updated_at);
                }
                query.execute(&mut *conn).await?;
                Ok(())
            }

            async fn import_invitations(
                conn: &mut $conn,
                org_id: uuid::Uuid,
                invitations: &[$crate::store::InvitationImport],
                new_org: bool,
            ) -> $crate::store::StoreResult<Vec<$crate::store::RowStatus>> {
                use $crate::store::import::{plan_invitations, ExistingInvitation};
                if invitations.is_empty() {
                    return Ok(Vec::new());
                }
                // An org created by this transaction has no invitations to read.
                let existing: Vec<ExistingInvitation> = if new_org {
                    Vec::new()
                } else {
                    sqlx::query_as(
                        "SELECT clerk_id, email_address, role, status, inviter_id, public_metadata, \
                         private_metadata, expires_at, created_at, updated_at FROM invitations \
                         WHERE org_id = $1 AND (clerk_id IS NOT NULL OR status = 'pending')",
                    )
                    .bind(org_id)
                    .fetch_all(&mut *conn)
                    .await?
                };
                let (statuses, writes) = plan_invitations(&existing, invitations);
                for i in writes {
                    let inv = &invitations[i];
                    let written = sqlx::query(
                        "INSERT INTO invitations (id, org_id, email_address, role, status, \
                         token_hash, inviter_id, public_metadata, private_metadata, expires_at, \
                         clerk_id, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, 'pending', NULL, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (clerk_id) DO UPDATE SET email_address = excluded.email_address, \
                         role = excluded.role, inviter_id = excluded.inviter_id, \
                         public_metadata = excluded.public_metadata, \
                         private_metadata = excluded.private_metadata, \
                         expires_at = excluded.expires_at, created_at = excluded.created_at, \
                         updated_at = excluded.updated_at \
                         WHERE invitations.org_id = excluded.org_id",
                    )
                    .bind(uuid::Uuid::now_v7())
                    .bind(org_id)
                    .bind(&inv.email_address)
                    .bind(&inv.role)
                    .bind(inv.inviter_id)
                    .bind(sqlx::types::Json(&inv.public_metadata))
                    .bind(sqlx::types::Json(&inv.private_metadata))
                    .bind(inv.expires_at)
                    .bind(&inv.clerk_id)
                    .bind(inv.created_at)
                    .bind(inv.updated_at)
                    .execute(&mut *conn)
                    .await?;
                    // The Clerk id is another org's invitation: never rewrite it from here.
                    if written.rows_affected() == 0 {
                        return Err($crate::store::StoreError::ClerkIdConflict(inv.clerk_id.clone()));
                    }
                }
                Ok(statuses)
            }

            async fn import_has_admin(
                conn: &mut $conn,
                org_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<bool> {
                let found: Option<i32> = sqlx::query_scalar(
                    "SELECT 1 FROM org_membership m JOIN role_permissions rp \
                     ON rp.role_key = m.role AND rp.permission = $2 WHERE m.org_id = $1 LIMIT 1",
                )
                .bind(org_id)
                .bind($crate::domain::role::MEMBERSHIPS_MANAGE)
                .fetch_optional(conn)
                .await?;
                Ok(found.is_some())
            }
            /// Roles holding the permission to manage members, read inside the batch's
            /// transaction so that a dry run sees the roles it has just created.
            async fn import_admin_roles(
                conn: &mut $conn,
            ) -> $crate::store::StoreResult<std::collections::HashSet<String>> {
                let roles: Vec<String> = sqlx::query_scalar(
                    "SELECT role_key FROM role_permissions WHERE permission = $1",
                )
                .bind($crate::domain::role::MEMBERSHIPS_MANAGE)
                .fetch_all(conn)
                .await?;
                Ok(roles.into_iter().collect())
            }

            /// Writes one org under a savepoint. The inner result is the org's own: on
            /// its failure (or a slug conflict) only its savepoint is rolled back. The
            /// outer error means the savepoint could not be handled, which dooms the batch.
            async fn import_in_savepoint(
                conn: &mut $conn,
                org: &$crate::store::OrgImport,
                admin_roles: &std::collections::HashSet<String>,
            ) -> $crate::store::StoreResult<
                $crate::store::StoreResult<$crate::store::OrgImportOutcome>,
            > {
                use $crate::store::OrgImportOutcome;
                sqlx::query("SAVEPOINT import_org").execute(&mut *conn).await?;
                let outcome = Self::import_one_org(&mut *conn, org, admin_roles).await;
                if !matches!(outcome, Ok(OrgImportOutcome::Applied(_))) {
                    // A slug conflict may come from a failed INSERT, which leaves a
                    // PostgreSQL transaction unusable until rolled back.
                    sqlx::query("ROLLBACK TO SAVEPOINT import_org")
                        .execute(&mut *conn)
                        .await?;
                }
                sqlx::query("RELEASE SAVEPOINT import_org")
                    .execute(&mut *conn)
                    .await?;
                Ok(outcome)
            }

            async fn import_one_org(
                conn: &mut $conn,
                org: &$crate::store::OrgImport,
                admin_roles: &std::collections::HashSet<String>,
            ) -> $crate::store::StoreResult<$crate::store::OrgImportOutcome> {
                use $crate::store::{AppliedOrg, OrgImportOutcome, RowStatus};
                let Some((org_id, status)) = Self::import_upsert_org(&mut *conn, org).await? else {
                    return Ok(OrgImportOutcome::SlugConflict);
                };
                let new_org = status == RowStatus::Created;
                let members = Self::import_members(&mut *conn, org_id, &org.members, new_org).await?;
                let invitations =
                    Self::import_invitations(&mut *conn, org_id, &org.invitations, new_org).await?;
                // Every imported member holds its planned role once this is in: when one
                // of them can manage members, there is nothing to ask; a new org has no
                // other members to ask about.
                let has_admin = org.members.iter().any(|m| admin_roles.contains(&m.role))
                    || (!new_org && Self::import_has_admin(&mut *conn, org_id).await?);
                Ok(OrgImportOutcome::Applied(AppliedOrg {
                    org_id,
                    status,
                    members,
                    invitations,
                    has_admin,
                }))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::ImportStore for $store {
            async fn import_roles(
                &self,
                roles: &[$crate::store::RoleImport],
                dry_run: bool,
            ) -> $crate::store::StoreResult<Vec<$crate::store::RowStatus>> {
                let mut tx = self.begin_write().await?;
                let mut statuses = Vec::with_capacity(roles.len());
                for role in roles {
                    statuses.push(Self::import_ensure_role(&mut tx, role).await?);
                }
                if dry_run {
                    tx.rollback().await?;
                } else {
                    tx.commit().await?;
                }
                Ok(statuses)
            }

            #[tracing::instrument(skip_all, fields(orgs = orgs.len()))]
            async fn apply_org_imports(
                &self,
                orgs: &[$crate::store::OrgImport],
                dry_run: bool,
            ) -> $crate::store::StoreResult<
                Vec<$crate::store::StoreResult<$crate::store::OrgImportOutcome>>,
            > {
                let mut tx = self.begin_write().await?;
                if !$tx_setup.is_empty() {
                    sqlx::query($tx_setup).execute(&mut *tx).await?;
                }
                // Every org of a run carries the same roles (a dry run's only): once a batch.
                let mut ensured = std::collections::HashSet::new();
                for role in orgs.iter().flat_map(|org| &org.ensure_roles) {
                    if ensured.insert(role.key.as_str()) {
                        Self::import_ensure_role(&mut tx, role).await?;
                    }
                }
                let admin_roles = Self::import_admin_roles(&mut tx).await?;
                let mut outcomes = Vec::with_capacity(orgs.len());
                for org in orgs {
                    outcomes.push(Self::import_in_savepoint(&mut tx, org, &admin_roles).await?);
                }
                if dry_run {
                    tx.rollback().await?;
                } else {
                    tx.commit().await?;
                }
                Ok(outcomes)
            }

            async fn list_clerk_org_ids(
                &self,
                after: Option<&str>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<(String, uuid::Uuid)>> {
                Ok(sqlx::query_as(
                    "SELECT clerk_id, id FROM orgs WHERE clerk_id IS NOT NULL AND clerk_id > $1 \
                     ORDER BY clerk_id LIMIT $2",
                )
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?)
            }

            fn import_parallelism(&self) -> usize {
                $parallelism
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(values_placeholders(2, 2), "($1, $2), ($3, $4)");
    }
}
