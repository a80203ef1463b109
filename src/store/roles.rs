//! The instance-wide role catalog: roles and the permissions each grants, and the
//! catalog lock that keeps "this role grants that" stable for a transaction relying on it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::catalog::{bump_version, current_catalog};
use super::db::{query, Conn};
use super::events::{self, emit, Event, EventType, Stamp};
use super::{Change, OnUnique, SqlStore, StoreError, StoreResult, Unique};
use crate::domain::role::MEMBERSHIPS_MANAGE;

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

#[async_trait]
pub trait RoleStore: Send + Sync {
    async fn list_roles(&self) -> StoreResult<Vec<Role>>;
    async fn find_role(&self, key: &str) -> StoreResult<Option<Role>>;
    /// Role edits are for admin API keys, which the HTTP layer checks; `change` names
    /// the editor in the role's event.
    async fn create_role(&self, role: Role, change: Change<'_>) -> StoreResult<Role>;
    async fn update_role(
        &self,
        key: &str,
        patch: RolePatch,
        change: Change<'_>,
    ) -> StoreResult<Role>;
    /// Refused while members hold the role or pending invitations offer it.
    async fn delete_role(&self, key: &str, change: Change<'_>) -> StoreResult<()>;
}

/// Some org in which every member holding the permission has this role: taking the
/// permission away from the role would leave that org without one.
const ORG_ONLY_MANAGED_BY_ROLE: &str = "SELECT 1 FROM org_membership m \
    WHERE m.role = $1 AND NOT EXISTS (SELECT 1 FROM org_membership o \
    JOIN role_permissions rp ON rp.role_key = o.role AND rp.permission = $2 \
    WHERE o.org_id = m.org_id AND o.role <> $1) LIMIT 1";

#[derive(sqlx::FromRow)]
struct RoleRow {
    key: String,
    name: String,
    description: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl RoleRow {
    fn with_permissions(self, catalog: &[(String, String)]) -> Role {
        Role {
            permissions: permissions_of(catalog, &self.key),
            key: self.key,
            name: self.name,
            description: self.description,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Every `(role, permission)` pair of the catalog.
pub(super) async fn role_permission_rows(conn: &mut Conn) -> StoreResult<Vec<(String, String)>> {
    Ok(
        query("SELECT role_key, permission FROM role_permissions ORDER BY role_key, permission")
            .fetch_all(conn)
            .await?,
    )
}

/// A role's permission list from `(role, permission)` rows.
pub(super) fn permissions_of(catalog: &[(String, String)], role: &str) -> Vec<String> {
    catalog
        .iter()
        .filter(|(r, _)| r == role)
        .map(|(_, p)| p.clone())
        .collect()
}

/// Refuses an unknown role; returns the role's permissions. Writes hold the catalog
/// still with `begin_write`'s shared lock, so the role stays as read until commit.
pub(super) async fn role_exists(conn: &mut Conn, role: &str) -> StoreResult<Vec<String>> {
    Ok(current_catalog(conn).await?.role(role)?.to_vec())
}

/// Adds permissions to a role (those it has already are kept); returns how many were new.
pub(super) async fn add_role_permissions(
    conn: &mut Conn,
    role: &str,
    permissions: &[String],
) -> StoreResult<u64> {
    let mut added = 0;
    for permission in permissions {
        added += query(
            "INSERT INTO role_permissions (role_key, permission) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(role)
        .bind(permission)
        .execute(conn)
        .await?;
    }
    Ok(added)
}

pub(super) async fn load_role(conn: &mut Conn, key: &str) -> StoreResult<Option<Role>> {
    let row: Option<RoleRow> =
        query("SELECT key, name, description, created_at, updated_at FROM roles WHERE key = $1")
            .bind(key)
            .fetch_optional(conn)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let catalog = role_permission_rows(conn).await?;
    Ok(Some(row.with_permissions(&catalog)))
}

/// Refuses to take the manage permission away from a role when some org has no other
/// member who could manage members.
async fn ensure_role_keeps_a_manager(
    conn: &mut Conn,
    current: &Role,
    permissions: &[String],
) -> StoreResult<()> {
    let has = |list: &[String]| list.iter().any(|p| p == MEMBERSHIPS_MANAGE);
    if !has(&current.permissions) || has(permissions) {
        return Ok(());
    }
    let stranded: Option<i32> = query(ORG_ONLY_MANAGED_BY_ROLE)
        .bind(&current.key)
        .bind(MEMBERSHIPS_MANAGE)
        .optional_scalar(conn)
        .await?;
    match stranded {
        Some(_) => Err(StoreError::LastAdmin),
        None => Ok(()),
    }
}

#[async_trait]
impl RoleStore for SqlStore {
    async fn list_roles(&self) -> StoreResult<Vec<Role>> {
        let mut conn = self.db.acquire().await?;
        let rows: Vec<RoleRow> =
            query("SELECT key, name, description, created_at, updated_at FROM roles ORDER BY key")
                .fetch_all(&mut conn)
                .await?;
        let catalog = role_permission_rows(&mut conn).await?;
        Ok(rows
            .into_iter()
            .map(|r| r.with_permissions(&catalog))
            .collect())
    }

    async fn find_role(&self, key: &str) -> StoreResult<Option<Role>> {
        let mut conn = self.db.acquire().await?;
        load_role(&mut conn, key).await
    }

    #[tracing::instrument(skip_all, fields(role = %role.key))]
    async fn create_role(&self, role: Role, change: Change<'_>) -> StoreResult<Role> {
        let mut tx = self.db.begin_catalog_write().await?;
        query(
            "INSERT INTO roles (key, name, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&role.key)
        .bind(&role.name)
        .bind(&role.description)
        .bind(role.created_at)
        .execute(&mut tx)
        .await
        .on_unique(Unique::RoleKey, StoreError::RoleExists)?;
        add_role_permissions(&mut tx, &role.key, &role.permissions).await?;
        bump_version(&mut tx).await?;
        let created = load_role(&mut tx, &role.key)
            .await?
            .ok_or(StoreError::RoleNotFound)?;
        emit(
            &mut tx,
            &Stamp::from(change),
            role_event(EventType::RoleCreated, &created),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    #[tracing::instrument(skip_all, fields(role = %key))]
    async fn update_role(
        &self,
        key: &str,
        patch: RolePatch,
        change: Change<'_>,
    ) -> StoreResult<Role> {
        let now = change.now;
        let mut tx = self.db.begin_catalog_write().await?;
        let current = load_role(&mut tx, key)
            .await?
            .ok_or(StoreError::RoleNotFound)?;
        if let Some(permissions) = &patch.permissions {
            ensure_role_keeps_a_manager(&mut tx, &current, permissions).await?;
            query("DELETE FROM role_permissions WHERE role_key = $1")
                .bind(key)
                .execute(&mut tx)
                .await?;
            add_role_permissions(&mut tx, key, permissions).await?;
            bump_version(&mut tx).await?;
        }
        let description = patch.description.unwrap_or(current.description);
        query("UPDATE roles SET name = $2, description = $3, updated_at = $4 WHERE key = $1")
            .bind(key)
            .bind(patch.name.unwrap_or(current.name))
            .bind(description)
            .bind(now)
            .execute(&mut tx)
            .await?;
        let role = load_role(&mut tx, key)
            .await?
            .ok_or(StoreError::RoleNotFound)?;
        emit(
            &mut tx,
            &Stamp::from(change),
            role_event(EventType::RoleUpdated, &role),
        )
        .await?;
        tx.commit().await?;
        Ok(role)
    }

    #[tracing::instrument(skip_all, fields(role = %key))]
    async fn delete_role(&self, key: &str, change: Change<'_>) -> StoreResult<()> {
        let mut tx = self.db.begin_catalog_write().await?;
        let in_use: Option<i32> = query(
            "SELECT 1 FROM org_membership WHERE role = $1 \
             UNION ALL SELECT 1 FROM invitations WHERE role = $1 AND status = 'pending' LIMIT 1",
        )
        .bind(key)
        .optional_scalar(&mut tx)
        .await?;
        if in_use.is_some() {
            return Err(StoreError::RoleInUse);
        }
        let deleted = query("DELETE FROM roles WHERE key = $1")
            .bind(key)
            .execute(&mut tx)
            .await?;
        if deleted == 0 {
            return Err(StoreError::RoleNotFound);
        }
        let event = Event {
            kind: EventType::RoleDeleted,
            org_id: None,
            target: ("role", key.to_owned()),
            data: events::deleted("role", key, None),
        };
        emit(&mut tx, &Stamp::from(change), event).await?;
        bump_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A role's event (`role.created|updated`).
pub(super) fn role_event(kind: EventType, role: &Role) -> Event {
    Event {
        kind,
        org_id: None,
        target: ("role", role.key.clone()),
        data: events::role(role),
    }
}
