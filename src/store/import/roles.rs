//! The role catalog part of the import: roles created when Polis lacks them, and
//! permissions added to existing ones, each with its `role.*` event.

use chrono::{DateTime, Utc};

use super::{RoleImport, RowStatus};
use crate::store::catalog::bump_version;
use crate::store::db::{query, Conn};
use crate::store::events::{Event, EventType};
use crate::store::roles::{add_role_permissions, load_role, role_event};
use crate::store::{StoreError, StoreResult};

pub(super) async fn ensure_role(
    conn: &mut Conn,
    role: &RoleImport,
    now: DateTime<Utc>,
) -> StoreResult<RowStatus> {
    let created = query(
        "INSERT INTO roles (key, name, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (key) DO NOTHING",
    )
    .bind(&role.key)
    .bind(&role.name)
    .bind(&role.description)
    .bind(now)
    .execute(conn)
    .await?
        == 1;
    let added = add_role_permissions(conn, &role.key, &role.permissions).await?;
    if created || added > 0 {
        bump_version(conn).await?;
    }
    Ok(if created {
        RowStatus::Created
    } else if added > 0 {
        RowStatus::Updated
    } else {
        RowStatus::Unchanged
    })
}

/// `role.created` or `role.updated` for a role the import created or added permissions to.
pub(super) async fn role_import_event(
    conn: &mut Conn,
    key: &str,
    status: RowStatus,
) -> StoreResult<Option<Event>> {
    let kind = match status {
        RowStatus::Created => EventType::RoleCreated,
        RowStatus::Updated => EventType::RoleUpdated,
        RowStatus::Unchanged | RowStatus::Skipped => return Ok(None),
    };
    let role = load_role(conn, key)
        .await?
        .ok_or(StoreError::RoleNotFound)?;
    Ok(Some(role_event(kind, &role)))
}
