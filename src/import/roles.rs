//! The role catalog part of an import: Clerk's roles (instance-wide, like Polis's) that
//! Polis lacks are created, and permissions Polis lacks are added to existing roles.
//! Nothing is removed: that could strand an org without a member able to manage it.

use std::collections::HashSet;

use super::clerk::{normalize_role_key, ClerkRole};
use super::report::{ImportProblem, RoleReport};
use super::ImportOptions;
use crate::domain::role::{validate_permission_key, validate_role_key};
use crate::store::{RoleImport, Store, StoreResult};

pub struct Catalog {
    /// Every role key a membership or invitation may use.
    pub known: HashSet<String>,
    pub imports: Vec<RoleImport>,
    pub reports: Vec<RoleReport>,
    pub problems: Vec<ImportProblem>,
}

/// Validates the document's roles and writes them (rolled back by a dry run).
pub async fn settle(
    store: &dyn Store,
    roles: &[ClerkRole],
    options: ImportOptions,
) -> StoreResult<Catalog> {
    let mut known: HashSet<String> = store
        .list_roles()
        .await?
        .into_iter()
        .map(|r| r.key)
        .collect();
    let mut imports = Vec::new();
    let mut problems = Vec::new();
    for role in roles {
        match role_import(role) {
            Ok(import) => {
                known.insert(import.key.clone());
                imports.push(import);
            }
            Err(problem) => problems.push(problem),
        }
    }
    let statuses = store
        .import_roles(&imports, options.dry_run, options.now)
        .await?;
    let reports = imports
        .iter()
        .zip(statuses)
        .map(|(role, status)| RoleReport {
            key: role.key.clone(),
            status,
        })
        .collect();
    Ok(Catalog {
        known,
        imports,
        reports,
        problems,
    })
}

fn role_import(role: &ClerkRole) -> Result<RoleImport, ImportProblem> {
    let key = normalize_role_key(&role.key).to_owned();
    validate_role_key(&key).map_err(|m| ImportProblem::field(&role.key, "key", m))?;
    let mut permissions = Vec::new();
    for permission in &role.permissions {
        validate_permission_key(permission)
            .map_err(|m| ImportProblem::field(&role.key, "permissions", m))?;
        if !permissions.contains(permission) {
            permissions.push(permission.clone());
        }
    }
    let name = if role.name.trim().is_empty() {
        key.clone()
    } else {
        role.name.clone()
    };
    Ok(RoleImport {
        key,
        name,
        description: role.description.clone(),
        permissions,
    })
}
