//! The SQL both backends share. PostgreSQL and SQLite accept the same statements
//! here (`$n` placeholders, `RETURNING`, `ON CONFLICT`), so the implementation is
//! written once and instantiated per backend by [`impl_sql_store!`]; each backend
//! module supplies only what differs: how a write transaction starts, how the org row
//! is locked, and its case-insensitive `LIKE`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{permissions_of, ApiKeyRecord, Membership, Org, OrgSummary, Role};
use crate::domain::ApiKeyScope;

pub(crate) const ORG_COLUMNS: &str = "o.id, o.name, o.slug, o.image_url, o.public_metadata, \
    o.private_metadata, o.max_allowed_memberships, o.created_by, o.clerk_id, o.created_at, \
    o.updated_at, (SELECT COUNT(*) FROM org_membership c WHERE c.org_id = o.id) AS members_count";

pub(crate) const MEMBERSHIP_COLUMNS: &str = "m.org_id, m.identity_id, m.role, m.public_metadata, \
    m.private_metadata, m.created_at, m.updated_at";

/// Members of an org, other than one identity, whose role carries a permission.
pub(crate) const COUNT_OTHER_HOLDERS: &str = "SELECT COUNT(*) FROM org_membership m \
    JOIN role_permissions rp ON rp.role_key = m.role AND rp.permission = $3 \
    WHERE m.org_id = $1 AND m.identity_id <> $2";

/// Some org in which every member holding the permission has this role: taking the
/// permission away from the role would leave that org without one.
pub(crate) const ORG_ONLY_MANAGED_BY_ROLE: &str = "SELECT 1 FROM org_membership m \
    WHERE m.role = $1 AND NOT EXISTS (SELECT 1 FROM org_membership o \
    JOIN role_permissions rp ON rp.role_key = o.role AND rp.permission = $2 \
    WHERE o.org_id = m.org_id AND o.role <> $1) LIMIT 1";

#[derive(sqlx::FromRow)]
pub(crate) struct OrgRow {
    id: Uuid,
    name: String,
    slug: String,
    image_url: Option<String>,
    public_metadata: Json<Value>,
    private_metadata: Json<Value>,
    max_allowed_memberships: i32,
    members_count: i64,
    created_by: Option<Uuid>,
    clerk_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<OrgRow> for Org {
    fn from(row: OrgRow) -> Org {
        Org {
            id: row.id,
            name: row.name,
            slug: row.slug,
            image_url: row.image_url,
            public_metadata: row.public_metadata.0,
            private_metadata: row.private_metadata.0,
            max_allowed_memberships: row.max_allowed_memberships,
            members_count: row.members_count,
            created_by: row.created_by,
            clerk_id: row.clerk_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MembershipRow {
    org_id: Uuid,
    identity_id: Uuid,
    role: String,
    public_metadata: Json<Value>,
    private_metadata: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl MembershipRow {
    /// Attaches the role's permissions, taken from `(role, permission)` rows.
    pub(crate) fn with_permissions(self, role_permissions: &[(String, String)]) -> Membership {
        Membership {
            permissions: permissions_of(role_permissions, &self.role),
            org_id: self.org_id,
            identity_id: self.identity_id,
            role: self.role,
            public_metadata: self.public_metadata.0,
            private_metadata: self.private_metadata.0,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MembershipWithOrgRow {
    #[sqlx(flatten)]
    membership: MembershipRow,
    org_name: String,
    org_slug: String,
    org_image_url: Option<String>,
}

impl MembershipWithOrgRow {
    pub(crate) fn split(self, role_permissions: &[(String, String)]) -> (Membership, OrgSummary) {
        let org = OrgSummary {
            id: self.membership.org_id,
            name: self.org_name,
            slug: self.org_slug,
            image_url: self.org_image_url,
        };
        (self.membership.with_permissions(role_permissions), org)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RoleRow {
    key: String,
    name: String,
    description: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl RoleRow {
    pub(crate) fn with_permissions(self, role_permissions: &[(String, String)]) -> Role {
        Role {
            permissions: permissions_of(role_permissions, &self.key),
            key: self.key,
            name: self.name,
            description: self.description,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: Uuid,
    name: String,
    scope: String,
    secret_hash: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyRow {
    /// A row whose scope the code does not know grants nothing: it reads as read-only
    /// and revoked.
    pub(crate) fn into_record(self) -> ApiKeyRecord {
        let scope = ApiKeyScope::parse(&self.scope);
        ApiKeyRecord {
            id: self.id,
            name: self.name,
            scope: scope.unwrap_or(ApiKeyScope::Read),
            secret_hash: self.secret_hash,
            created_at: self.created_at,
            revoked_at: if scope.is_some() {
                self.revoked_at
            } else {
                Some(self.created_at)
            },
        }
    }
}

/// Escapes `LIKE` wildcards so a search string matches literally (with `ESCAPE '\'`).
pub(crate) fn like_pattern(query: &str) -> String {
    let mut pattern = String::with_capacity(query.len() + 2);
    pattern.push('%');
    for c in query.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Implements [`super::Store`] for a backend struct with a `pool` field and the
/// inherent items `begin_write`, `LOCK_ORG`, `SHARE_ROLES`, `LOCK_ROLES` and `LIKE`.
macro_rules! impl_sql_store {
    ($store:ty, $conn:ty) => {
        impl $store {
            async fn role_permission_rows(
                conn: &mut $conn,
            ) -> $crate::store::StoreResult<Vec<(String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT role_key, permission FROM role_permissions ORDER BY role_key, permission",
                )
                .fetch_all(conn)
                .await?)
            }

            async fn load_org(
                conn: &mut $conn,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<$crate::store::Org> {
                let sql = format!("SELECT {} FROM orgs o WHERE o.id = $1", $crate::store::sql::ORG_COLUMNS);
                sqlx::query_as::<_, $crate::store::sql::OrgRow>(&sql)
                    .bind(id)
                    .fetch_optional(conn)
                    .await?
                    .map($crate::store::Org::from)
                    .ok_or($crate::store::StoreError::OrgNotFound)
            }

            async fn load_membership(
                conn: &mut $conn,
                org: uuid::Uuid,
                identity: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::Membership>> {
                let sql = format!(
                    "SELECT {} FROM org_membership m WHERE m.org_id = $1 AND m.identity_id = $2",
                    $crate::store::sql::MEMBERSHIP_COLUMNS
                );
                let row = sqlx::query_as::<_, $crate::store::sql::MembershipRow>(&sql)
                    .bind(org)
                    .bind(identity)
                    .fetch_optional(&mut *conn)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let perms = Self::role_permission_rows(conn).await?;
                Ok(Some(row.with_permissions(&perms)))
            }

            /// Locks the org row for the rest of the transaction and returns its cap.
            async fn lock_org(
                conn: &mut $conn,
                org: uuid::Uuid,
            ) -> $crate::store::StoreResult<i32> {
                sqlx::query_scalar::<_, i32>(Self::LOCK_ORG)
                    .bind(org)
                    .fetch_optional(conn)
                    .await?
                    .ok_or($crate::store::StoreError::OrgNotFound)
            }

            /// Seats an org's cap counts: its members plus invitations still pending at `now`.
            async fn seats_taken(
                conn: &mut $conn,
                org: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<i64> {
                let sql = format!(
                    "SELECT (SELECT COUNT(*) FROM org_membership WHERE org_id = $1) + \
                     (SELECT COUNT(*) FROM invitations i WHERE i.org_id = $1 AND {})",
                    $crate::store::invitations_sql::live_pending(2)
                );
                Ok(sqlx::query_scalar::<_, i64>(&sql)
                    .bind(org)
                    .bind(now)
                    .fetch_one(conn)
                    .await?)
            }

            /// Loads the org under lock, merges `patch` into a metadata value and checks
            /// its size; returns the merged public and private values.
            fn merge_metadata(
                public: &serde_json::Value,
                private: &serde_json::Value,
                patch: $crate::store::MetadataPatch,
            ) -> $crate::store::StoreResult<(serde_json::Value, serde_json::Value)> {
                use $crate::domain::metadata::merged;
                use $crate::domain::validation::validate_metadata;
                use $crate::store::StoreError;
                let public = patch.public.map_or_else(|| public.clone(), |p| merged(public, p));
                let private = patch.private.map_or_else(|| private.clone(), |p| merged(private, p));
                validate_metadata(&public).map_err(|_| StoreError::MetadataTooLarge("public_metadata"))?;
                validate_metadata(&private).map_err(|_| StoreError::MetadataTooLarge("private_metadata"))?;
                Ok((public, private))
            }

            /// Shares the role catalog for the rest of the transaction: a role this
            /// transaction relies on (exists, grants a permission) cannot change or go
            /// away under it. Role edits take the same lock exclusively.
            async fn share_role_catalog(conn: &mut $conn) -> $crate::store::StoreResult<()> {
                sqlx::query(Self::SHARE_ROLES).execute(conn).await?;
                Ok(())
            }

            async fn lock_role_catalog(conn: &mut $conn) -> $crate::store::StoreResult<()> {
                sqlx::query(Self::LOCK_ROLES).execute(conn).await?;
                Ok(())
            }

            async fn role_exists(conn: &mut $conn, role: &str) -> $crate::store::StoreResult<()> {
                Self::share_role_catalog(&mut *conn).await?;
                let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM roles WHERE key = $1")
                    .bind(role)
                    .fetch_optional(conn)
                    .await?;
                match found {
                    Some(_) => Ok(()),
                    None => Err($crate::store::StoreError::UnknownRole(role.to_owned())),
                }
            }

            async fn role_has(
                conn: &mut $conn,
                role: &str,
                permission: &str,
            ) -> $crate::store::StoreResult<bool> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM role_permissions WHERE role_key = $1 AND permission = $2",
                )
                .bind(role)
                .bind(permission)
                .fetch_one(conn)
                .await?;
                Ok(n > 0)
            }

            /// Refuses when `identity` is the org's last member able to manage members
            /// and is about to lose that ability.
            async fn ensure_not_last_manager(
                conn: &mut $conn,
                org: uuid::Uuid,
                identity: uuid::Uuid,
                current_role: &str,
                new_role: Option<&str>,
            ) -> $crate::store::StoreResult<()> {
                use $crate::domain::role::MEMBERSHIPS_MANAGE;
                Self::share_role_catalog(&mut *conn).await?;
                if !Self::role_has(&mut *conn, current_role, MEMBERSHIPS_MANAGE).await? {
                    return Ok(());
                }
                if let Some(new_role) = new_role {
                    if Self::role_has(&mut *conn, new_role, MEMBERSHIPS_MANAGE).await? {
                        return Ok(());
                    }
                }
                let others: i64 = sqlx::query_scalar($crate::store::sql::COUNT_OTHER_HOLDERS)
                    .bind(org)
                    .bind(identity)
                    .bind(MEMBERSHIPS_MANAGE)
                    .fetch_one(conn)
                    .await?;
                if others == 0 {
                    Err($crate::store::StoreError::LastAdmin)
                } else {
                    Ok(())
                }
            }

            async fn insert_role_permissions(
                conn: &mut $conn,
                role: &str,
                permissions: &[String],
            ) -> $crate::store::StoreResult<()> {
                for permission in permissions {
                    sqlx::query(
                        "INSERT INTO role_permissions (role_key, permission) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(role)
                    .bind(permission)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            }

            async fn load_role(
                conn: &mut $conn,
                key: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::Role>> {
                let row = sqlx::query_as::<_, $crate::store::sql::RoleRow>(
                    "SELECT key, name, description, created_at, updated_at FROM roles WHERE key = $1",
                )
                .bind(key)
                .fetch_optional(&mut *conn)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let perms = Self::role_permission_rows(conn).await?;
                Ok(Some(row.with_permissions(&perms)))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn migrate(&self) -> $crate::store::StoreResult<()> {
                Self::MIGRATOR.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> $crate::store::StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(skip_all, fields(slug = %org.slug.as_str()))]
            async fn create_org(
                &self,
                org: $crate::store::NewOrg,
            ) -> $crate::store::StoreResult<$crate::store::Org> {
                use $crate::store::{violated_constraint, StoreError};
                let mut tx = self.begin_write().await?;
                if let Some((_, role)) = &org.creator {
                    Self::role_exists(&mut tx, role).await?;
                }
                let id = uuid::Uuid::now_v7();
                let now = $crate::store::now();
                let inserted = sqlx::query(
                    "INSERT INTO orgs (id, name, slug, image_url, public_metadata, private_metadata, \
                     max_allowed_memberships, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                )
                .bind(id)
                .bind(&org.name)
                .bind(org.slug.as_str())
                .bind(&org.image_url)
                .bind(sqlx::types::Json(&org.public_metadata))
                .bind(sqlx::types::Json(&org.private_metadata))
                .bind(org.max_allowed_memberships)
                .bind(org.created_by)
                .bind(now)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Err(e) if violated_constraint(&e) == Some("orgs_slug_key") => {
                        return Err(StoreError::SlugTaken)
                    }
                    other => other?,
                };
                if let Some((identity, role)) = &org.creator {
                    sqlx::query(
                        "INSERT INTO org_membership (identity_id, org_id, role, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4)",
                    )
                    .bind(identity)
                    .bind(id)
                    .bind(role)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                let created = Self::load_org(&mut tx, id).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn find_org(
                &self,
                org: &$crate::domain::org::OrgRef,
            ) -> $crate::store::StoreResult<Option<$crate::store::Org>> {
                use $crate::domain::org::OrgRef;
                let (column, value): (&str, String) = match org {
                    OrgRef::Id(id) => {
                        let mut conn = self.pool.acquire().await?;
                        return match Self::load_org(&mut conn, *id).await {
                            Ok(org) => Ok(Some(org)),
                            Err($crate::store::StoreError::OrgNotFound) => Ok(None),
                            Err(e) => Err(e),
                        };
                    }
                    OrgRef::Slug(slug) => ("slug", slug.clone()),
                    OrgRef::ClerkId(clerk_id) => ("clerk_id", clerk_id.clone()),
                };
                let sql = format!(
                    "SELECT {} FROM orgs o WHERE o.{column} = $1",
                    $crate::store::sql::ORG_COLUMNS
                );
                Ok(sqlx::query_as::<_, $crate::store::sql::OrgRow>(&sql)
                    .bind(value)
                    .fetch_optional(&self.pool)
                    .await?
                    .map($crate::store::Org::from))
            }

            async fn list_orgs(
                &self,
                filter: &$crate::store::OrgFilter,
                page: $crate::store::PageRequest,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Org>> {
                let mut sql = format!("SELECT {} FROM orgs o", $crate::store::sql::ORG_COLUMNS);
                let mut n = 0;
                let mut conditions = Vec::new();
                if filter.member.is_some() {
                    n += 1;
                    sql.push_str(&format!(
                        " JOIN org_membership mm ON mm.org_id = o.id AND mm.identity_id = ${n}"
                    ));
                }
                if page.after.is_some() {
                    n += 1;
                    conditions.push(format!("o.id > ${n}"));
                }
                if filter.query.is_some() {
                    n += 1;
                    conditions.push(format!(
                        "(o.name {like} ${n} ESCAPE '\\' OR o.slug {like} ${n} ESCAPE '\\')",
                        like = Self::LIKE
                    ));
                }
                if !conditions.is_empty() {
                    sql.push_str(" WHERE ");
                    sql.push_str(&conditions.join(" AND "));
                }
                sql.push_str(&format!(" ORDER BY o.id LIMIT ${}", n + 1));
                let mut query = sqlx::query_as::<_, $crate::store::sql::OrgRow>(&sql);
                if let Some(member) = filter.member {
                    query = query.bind(member);
                }
                if let Some(after) = page.after {
                    query = query.bind(after);
                }
                if let Some(q) = &filter.query {
                    query = query.bind($crate::store::sql::like_pattern(q));
                }
                let rows = query.bind(i64::from(page.limit)).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map($crate::store::Org::from).collect())
            }

            #[tracing::instrument(skip_all, fields(org = %id))]
            async fn update_org(
                &self,
                id: uuid::Uuid,
                patch: $crate::store::OrgPatch,
            ) -> $crate::store::StoreResult<$crate::store::Org> {
                use $crate::store::{violated_constraint, StoreError};
                let mut tx = self.begin_write().await?;
                // Locked so a concurrent metadata merge is not overwritten by this
                // read-modify-write of the whole row.
                Self::lock_org(&mut tx, id).await?;
                let current = Self::load_org(&mut tx, id).await?;
                let image_url = match patch.image_url {
                    Some(new) => new,
                    None => current.image_url,
                };
                let updated = sqlx::query(
                    "UPDATE orgs SET name = $2, slug = $3, image_url = $4, public_metadata = $5, \
                     private_metadata = $6, max_allowed_memberships = $7, updated_at = $8 WHERE id = $1",
                )
                .bind(id)
                .bind(patch.name.unwrap_or(current.name))
                .bind(patch.slug.map_or(current.slug, |s| s.as_str().to_owned()))
                .bind(image_url)
                .bind(sqlx::types::Json(patch.public_metadata.unwrap_or(current.public_metadata)))
                .bind(sqlx::types::Json(patch.private_metadata.unwrap_or(current.private_metadata)))
                .bind(patch.max_allowed_memberships.unwrap_or(current.max_allowed_memberships))
                .bind($crate::store::now())
                .execute(&mut *tx)
                .await;
                match updated {
                    Err(e) if violated_constraint(&e) == Some("orgs_slug_key") => {
                        return Err(StoreError::SlugTaken)
                    }
                    other => other?,
                };
                let org = Self::load_org(&mut tx, id).await?;
                tx.commit().await?;
                Ok(org)
            }

            #[tracing::instrument(skip_all, fields(org = %id))]
            async fn delete_org(&self, id: uuid::Uuid) -> $crate::store::StoreResult<()> {
                let mut tx = self.begin_write().await?;
                // Memberships go by ON DELETE CASCADE, in this same statement.
                let done = sqlx::query("DELETE FROM orgs WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::OrgNotFound);
                }
                tx.commit().await?;
                Ok(())
            }

            async fn find_membership(
                &self,
                org: uuid::Uuid,
                identity: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::Membership>> {
                let mut conn = self.pool.acquire().await?;
                Self::load_membership(&mut conn, org, identity).await
            }

            async fn list_members(
                &self,
                org: uuid::Uuid,
                filter: &$crate::store::MemberFilter,
                page: $crate::store::PageRequest,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Membership>> {
                let mut sql = format!(
                    "SELECT {} FROM org_membership m",
                    $crate::store::sql::MEMBERSHIP_COLUMNS
                );
                if filter.query.is_some() {
                    sql.push_str(" JOIN identity_profiles p ON p.identity_id = m.identity_id");
                }
                sql.push_str(" WHERE m.org_id = $1 AND m.identity_id > $2");
                let mut n = 3;
                if filter.role.is_some() {
                    sql.push_str(&format!(" AND m.role = ${n}"));
                    n += 1;
                }
                if filter.query.is_some() {
                    sql.push_str(&format!(" AND p.search_text LIKE ${n} ESCAPE '\\'"));
                    n += 1;
                }
                sql.push_str(&format!(" ORDER BY m.identity_id LIMIT ${n}"));
                let mut query = sqlx::query_as::<_, $crate::store::sql::MembershipRow>(&sql)
                    .bind(org)
                    .bind(page.after.unwrap_or(uuid::Uuid::nil()));
                if let Some(role) = &filter.role {
                    query = query.bind(role);
                }
                if let Some(q) = &filter.query {
                    query = query.bind($crate::store::sql::like_pattern(&q.to_lowercase()));
                }
                let mut conn = self.pool.acquire().await?;
                let rows = query.bind(i64::from(page.limit)).fetch_all(&mut *conn).await?;
                let perms = Self::role_permission_rows(&mut conn).await?;
                Ok(rows.into_iter().map(|r| r.with_permissions(&perms)).collect())
            }

            #[tracing::instrument(skip_all, fields(org = %id))]
            async fn merge_org_metadata(
                &self,
                id: uuid::Uuid,
                patch: $crate::store::MetadataPatch,
            ) -> $crate::store::StoreResult<$crate::store::Org> {
                let mut tx = self.begin_write().await?;
                Self::lock_org(&mut tx, id).await?;
                let current = Self::load_org(&mut tx, id).await?;
                let (public, private) =
                    Self::merge_metadata(&current.public_metadata, &current.private_metadata, patch)?;
                sqlx::query(
                    "UPDATE orgs SET public_metadata = $2, private_metadata = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(sqlx::types::Json(&public))
                .bind(sqlx::types::Json(&private))
                .bind($crate::store::now())
                .execute(&mut *tx)
                .await?;
                let org = Self::load_org(&mut tx, id).await?;
                tx.commit().await?;
                Ok(org)
            }

            #[tracing::instrument(skip_all, fields(org = %org, identity = %identity))]
            async fn merge_member_metadata(
                &self,
                org: uuid::Uuid,
                identity: uuid::Uuid,
                patch: $crate::store::MetadataPatch,
            ) -> $crate::store::StoreResult<$crate::store::Membership> {
                use $crate::store::StoreError;
                let mut tx = self.begin_write().await?;
                Self::lock_org(&mut tx, org).await?;
                let current = Self::load_membership(&mut tx, org, identity)
                    .await?
                    .ok_or(StoreError::MemberNotFound)?;
                let (public, private) =
                    Self::merge_metadata(&current.public_metadata, &current.private_metadata, patch)?;
                sqlx::query(
                    "UPDATE org_membership SET public_metadata = $3, private_metadata = $4, updated_at = $5 \
                     WHERE org_id = $1 AND identity_id = $2",
                )
                .bind(org)
                .bind(identity)
                .bind(sqlx::types::Json(&public))
                .bind(sqlx::types::Json(&private))
                .bind($crate::store::now())
                .execute(&mut *tx)
                .await?;
                let membership = Self::load_membership(&mut tx, org, identity)
                    .await?
                    .ok_or(StoreError::MemberNotFound)?;
                tx.commit().await?;
                Ok(membership)
            }

            async fn save_identity_profiles(
                &self,
                profiles: &[$crate::store::IdentityProfile],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                if profiles.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                for profile in profiles {
                    sqlx::query(
                        "INSERT INTO identity_profiles (identity_id, email, search_text, traits, refreshed_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (identity_id) DO UPDATE SET \
                         email = excluded.email, search_text = excluded.search_text, \
                         traits = excluded.traits, refreshed_at = excluded.refreshed_at",
                    )
                    .bind(profile.identity_id)
                    .bind(&profile.email)
                    .bind(&profile.search_text)
                    .bind(sqlx::types::Json(&profile.traits))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all, fields(org = %org, identity = %identity))]
            async fn add_member(
                &self,
                org: uuid::Uuid,
                identity: uuid::Uuid,
                role: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Membership> {
                use $crate::store::StoreError;
                let mut tx = self.begin_write().await?;
                let cap = Self::lock_org(&mut tx, org).await?;
                if Self::load_membership(&mut tx, org, identity).await?.is_some() {
                    return Err(StoreError::AlreadyMember);
                }
                Self::role_exists(&mut tx, role).await?;
                if cap > 0 && Self::seats_taken(&mut tx, org, now).await? >= i64::from(cap) {
                    return Err(StoreError::QuotaExceeded);
                }
                let inserted = sqlx::query(
                    "INSERT INTO org_membership (identity_id, org_id, role, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(identity)
                .bind(org)
                .bind(role)
                .bind(now)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Err(e) if $crate::store::violated_constraint(&e) == Some("org_membership_pkey") => {
                        return Err(StoreError::AlreadyMember)
                    }
                    other => other?,
                };
                let membership = Self::load_membership(&mut tx, org, identity)
                    .await?
                    .ok_or(StoreError::MemberNotFound)?;
                tx.commit().await?;
                Ok(membership)
            }

            #[tracing::instrument(skip_all, fields(org = %org, identity = %identity))]
            async fn change_role(
                &self,
                org: uuid::Uuid,
                identity: uuid::Uuid,
                role: &str,
            ) -> $crate::store::StoreResult<$crate::store::Membership> {
                use $crate::store::StoreError;
                let mut tx = self.begin_write().await?;
                Self::lock_org(&mut tx, org).await?;
                let current = Self::load_membership(&mut tx, org, identity)
                    .await?
                    .ok_or(StoreError::MemberNotFound)?;
                Self::role_exists(&mut tx, role).await?;
                Self::ensure_not_last_manager(&mut tx, org, identity, &current.role, Some(role))
                    .await?;
                sqlx::query(
                    "UPDATE org_membership SET role = $3, updated_at = $4 \
                     WHERE org_id = $1 AND identity_id = $2",
                )
                .bind(org)
                .bind(identity)
                .bind(role)
                .bind($crate::store::now())
                .execute(&mut *tx)
                .await?;
                let membership = Self::load_membership(&mut tx, org, identity)
                    .await?
                    .ok_or(StoreError::MemberNotFound)?;
                tx.commit().await?;
                Ok(membership)
            }

            #[tracing::instrument(skip_all, fields(org = %org, identity = %identity))]
            async fn remove_member(
                &self,
                org: uuid::Uuid,
                identity: uuid::Uuid,
            ) -> $crate::store::StoreResult<()> {
                use $crate::store::StoreError;
                let mut tx = self.begin_write().await?;
                Self::lock_org(&mut tx, org).await?;
                let current = Self::load_membership(&mut tx, org, identity)
                    .await?
                    .ok_or(StoreError::MemberNotFound)?;
                Self::ensure_not_last_manager(&mut tx, org, identity, &current.role, None).await?;
                sqlx::query("DELETE FROM org_membership WHERE org_id = $1 AND identity_id = $2")
                    .bind(org)
                    .bind(identity)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_memberships_of(
                &self,
                identity: uuid::Uuid,
                page: $crate::store::PageRequest,
            ) -> $crate::store::StoreResult<Vec<($crate::store::Membership, $crate::store::OrgSummary)>>
            {
                let sql = format!(
                    "SELECT {}, o.name AS org_name, o.slug AS org_slug, o.image_url AS org_image_url \
                     FROM org_membership m JOIN orgs o ON o.id = m.org_id \
                     WHERE m.identity_id = $1 AND m.org_id > $2 ORDER BY m.org_id LIMIT $3",
                    $crate::store::sql::MEMBERSHIP_COLUMNS
                );
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query_as::<_, $crate::store::sql::MembershipWithOrgRow>(&sql)
                    .bind(identity)
                    .bind(page.after.unwrap_or(uuid::Uuid::nil()))
                    .bind(i64::from(page.limit))
                    .fetch_all(&mut *conn)
                    .await?;
                let perms = Self::role_permission_rows(&mut conn).await?;
                Ok(rows.into_iter().map(|r| r.split(&perms)).collect())
            }

            async fn list_roles(&self) -> $crate::store::StoreResult<Vec<$crate::store::Role>> {
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query_as::<_, $crate::store::sql::RoleRow>(
                    "SELECT key, name, description, created_at, updated_at FROM roles ORDER BY key",
                )
                .fetch_all(&mut *conn)
                .await?;
                let perms = Self::role_permission_rows(&mut conn).await?;
                Ok(rows.into_iter().map(|r| r.with_permissions(&perms)).collect())
            }

            async fn find_role(
                &self,
                key: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::Role>> {
                let mut conn = self.pool.acquire().await?;
                Self::load_role(&mut conn, key).await
            }

            #[tracing::instrument(skip_all, fields(role = %role.key))]
            async fn create_role(
                &self,
                role: $crate::store::Role,
            ) -> $crate::store::StoreResult<$crate::store::Role> {
                use $crate::store::StoreError;
                let mut tx = self.begin_write().await?;
                Self::lock_role_catalog(&mut tx).await?;
                let inserted = sqlx::query(
                    "INSERT INTO roles (key, name, description, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(&role.key)
                .bind(&role.name)
                .bind(&role.description)
                .bind(role.created_at)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Err(e) if $crate::store::violated_constraint(&e) == Some("roles_pkey") => {
                        return Err(StoreError::RoleExists)
                    }
                    other => other?,
                };
                Self::insert_role_permissions(&mut tx, &role.key, &role.permissions).await?;
                let created = Self::load_role(&mut tx, &role.key)
                    .await?
                    .ok_or(StoreError::RoleNotFound)?;
                tx.commit().await?;
                Ok(created)
            }

            #[tracing::instrument(skip_all, fields(role = %key))]
            async fn update_role(
                &self,
                key: &str,
                patch: $crate::store::RolePatch,
            ) -> $crate::store::StoreResult<$crate::store::Role> {
                use $crate::domain::role::MEMBERSHIPS_MANAGE;
                use $crate::store::StoreError;
                let mut tx = self.begin_write().await?;
                Self::lock_role_catalog(&mut tx).await?;
                let current = Self::load_role(&mut tx, key).await?.ok_or(StoreError::RoleNotFound)?;
                if let Some(permissions) = &patch.permissions {
                    let loses_manage = current.permissions.iter().any(|p| p == MEMBERSHIPS_MANAGE)
                        && !permissions.iter().any(|p| p == MEMBERSHIPS_MANAGE);
                    if loses_manage {
                        let stranded: Option<i32> =
                            sqlx::query_scalar($crate::store::sql::ORG_ONLY_MANAGED_BY_ROLE)
                                .bind(key)
                                .bind(MEMBERSHIPS_MANAGE)
                                .fetch_optional(&mut *tx)
                                .await?;
                        if stranded.is_some() {
                            return Err(StoreError::LastAdmin);
                        }
                    }
                    sqlx::query("DELETE FROM role_permissions WHERE role_key = $1")
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                    Self::insert_role_permissions(&mut tx, key, permissions).await?;
                }
                let description = match patch.description {
                    Some(new) => new,
                    None => current.description,
                };
                sqlx::query(
                    "UPDATE roles SET name = $2, description = $3, updated_at = $4 WHERE key = $1",
                )
                .bind(key)
                .bind(patch.name.unwrap_or(current.name))
                .bind(description)
                .bind($crate::store::now())
                .execute(&mut *tx)
                .await?;
                let role = Self::load_role(&mut tx, key).await?.ok_or(StoreError::RoleNotFound)?;
                tx.commit().await?;
                Ok(role)
            }

            #[tracing::instrument(skip_all, fields(role = %key))]
            async fn delete_role(&self, key: &str) -> $crate::store::StoreResult<()> {
                use $crate::store::StoreError;
                let mut tx = self.begin_write().await?;
                Self::lock_role_catalog(&mut tx).await?;
                let in_use: Option<i32> = sqlx::query_scalar(
                    "SELECT 1 FROM org_membership WHERE role = $1 \
                     UNION ALL SELECT 1 FROM invitations WHERE role = $1 AND status = 'pending' LIMIT 1",
                )
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
                if in_use.is_some() {
                    return Err(StoreError::RoleInUse);
                }
                let done = sqlx::query("DELETE FROM roles WHERE key = $1")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::RoleNotFound);
                }
                tx.commit().await?;
                Ok(())
            }

            async fn create_api_key(
                &self,
                key: $crate::store::ApiKeyRecord,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, name, scope, secret_hash, created_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(key.id)
                .bind(&key.name)
                .bind(key.scope.as_str())
                .bind(&key.secret_hash)
                .bind(key.created_at)
                .bind(key.revoked_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn find_api_key(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::ApiKeyRecord>> {
                Ok(sqlx::query_as::<_, $crate::store::sql::ApiKeyRow>(
                    "SELECT id, name, scope, secret_hash, created_at, revoked_at FROM api_keys WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map($crate::store::sql::ApiKeyRow::into_record))
            }

            async fn list_api_keys(
                &self,
            ) -> $crate::store::StoreResult<Vec<$crate::store::ApiKeyRecord>> {
                Ok(sqlx::query_as::<_, $crate::store::sql::ApiKeyRow>(
                    "SELECT id, name, scope, secret_hash, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map($crate::store::sql::ApiKeyRow::into_record)
                .collect())
            }

            async fn revoke_api_key(&self, id: uuid::Uuid) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind($crate::store::now())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
