//! The role catalog in memory. Every read that needs permissions fetches the catalog's
//! version with its own rows (one more column, no extra round trip); while that version
//! is the one held here, the permissions come from memory. A role edit bumps the version
//! in its transaction, so the next read on any replica sees the change and reloads the
//! catalog once. Memberships themselves are never cached.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::db::{query, Conn};
use super::{StoreError, StoreResult};

/// One version of the catalog: each role's permissions, sorted.
#[derive(Debug, Default)]
pub(super) struct Catalog {
    version: i64,
    permissions: HashMap<String, Vec<String>>,
}

impl Catalog {
    /// A role's permissions (none for a role the catalog lacks).
    pub fn permissions(&self, role: &str) -> Vec<String> {
        self.permissions.get(role).cloned().unwrap_or_default()
    }

    /// A role's permissions; refused when there is no such role.
    pub fn role(&self, role: &str) -> StoreResult<&[String]> {
        self.permissions
            .get(role)
            .map(Vec::as_slice)
            .ok_or_else(|| StoreError::UnknownRole(role.to_owned()))
    }
}

/// The copy one store (one process) holds.
#[derive(Debug, Default)]
pub(crate) struct CatalogCache {
    current: RwLock<Arc<Catalog>>,
}

impl CatalogCache {
    fn held(&self) -> Arc<Catalog> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn keep(&self, catalog: Arc<Catalog>) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if catalog.version >= current.version {
            *current = catalog;
        }
    }
}

/// The catalog at `version` (as a read just saw it): from memory, or read once.
pub(super) async fn catalog_at(conn: &mut Conn, version: i64) -> StoreResult<Arc<Catalog>> {
    let held = conn.catalog_cache().held();
    if held.version == version {
        return Ok(held);
    }
    let fresh = Arc::new(load(conn).await?);
    conn.catalog_cache().keep(fresh.clone());
    Ok(fresh)
}

/// The catalog as it is now (one round trip, none more while it is unchanged).
pub(super) async fn current_catalog(conn: &mut Conn) -> StoreResult<Arc<Catalog>> {
    let version: i64 = query("SELECT version FROM role_catalog_version WHERE id = 1")
        .scalar(conn)
        .await?;
    catalog_at(conn, version).await
}

/// The whole catalog and its version, in one statement: every role, with each of its
/// permissions (a role without any comes once, with none).
async fn load(conn: &mut Conn) -> StoreResult<Catalog> {
    let rows: Vec<(i64, Option<String>, Option<String>)> = query(
        "SELECT v.version, r.key, rp.permission FROM role_catalog_version v \
         LEFT JOIN roles r ON 1 = 1 LEFT JOIN role_permissions rp ON rp.role_key = r.key \
         WHERE v.id = 1 ORDER BY r.key, rp.permission",
    )
    .fetch_all(conn)
    .await?;
    let mut catalog = Catalog::default();
    for (version, role, permission) in rows {
        catalog.version = version;
        if let Some(role) = role {
            let permissions = catalog.permissions.entry(role).or_default();
            permissions.extend(permission);
        }
    }
    Ok(catalog)
}

/// Marks the catalog changed; called in the transaction of every role edit.
pub(super) async fn bump_version(conn: &mut Conn) -> StoreResult<()> {
    query("UPDATE role_catalog_version SET version = version + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}
