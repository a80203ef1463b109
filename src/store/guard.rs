//! Authorization once more, inside the write's own transaction. The HTTP layer decides
//! first (and answers 404/403 early); the write repeats the decision with the caller's
//! membership read, and share-locked, in the transaction that writes, so it cannot be
//! outdated by a removal or demotion committed in between on any replica. The decision
//! is the same `domain::authorize_grant`, here with the write's stakes known.

use std::sync::Arc;

use uuid::Uuid;

use super::catalog::{catalog_at, current_catalog, Catalog};
use super::db::{query, Conn};
use super::{Change, StoreError, StoreResult};
use crate::domain::{authorize_grant, Action, Stakes};

/// The caller of a write and its permissions in the org, as of this transaction, with
/// the role catalog the write relies on (held still by `begin_write`'s shared lock).
pub(super) struct Rights<'a> {
    change: Change<'a>,
    /// `None`: not a member (or not an identity).
    own: Option<Vec<String>>,
    pub catalog: Arc<Catalog>,
}

impl<'a> Rights<'a> {
    /// Reads the caller's permissions in `org`, share-locking its membership row so
    /// that it stays as read until commit: one round trip.
    pub async fn read(conn: &mut Conn, org: Uuid, change: Change<'a>) -> StoreResult<Rights<'a>> {
        let row: Option<(String, i64)> = match change.by.identity_id() {
            Some(identity) => {
                let share = conn.dialect().share_rows;
                query(format!(
                    "SELECT role, (SELECT version FROM role_catalog_version WHERE id = 1) \
                     FROM org_membership WHERE org_id = $1 AND identity_id = $2{share}"
                ))
                .bind(org)
                .bind(identity)
                .fetch_optional(conn)
                .await?
            }
            None => None,
        };
        let (own, catalog) = match row {
            Some((role, version)) => {
                let catalog = catalog_at(conn, version).await?;
                (Some(catalog.permissions(&role)), catalog)
            }
            None => (None, current_catalog(conn).await?),
        };
        Ok(Rights {
            change,
            own,
            catalog,
        })
    }

    /// Reads the caller's rights and refuses at once unless it may do `action` at all.
    pub async fn require(
        conn: &mut Conn,
        org: Uuid,
        change: Change<'a>,
        action: Action,
    ) -> StoreResult<Rights<'a>> {
        let rights = Self::read(conn, org, change).await?;
        rights.check(action, Stakes::default())?;
        Ok(rights)
    }

    /// Refuses unless the caller may do `action` with these stakes.
    pub fn check(&self, action: Action, stakes: Stakes<'_>) -> StoreResult<()> {
        authorize_grant(self.change.by, action, self.own.as_deref(), stakes)
            .map_err(StoreError::Denied)
    }
}
