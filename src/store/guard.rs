//! Authorization once more, inside the write's own transaction. The HTTP layer decides
//! first (and answers 404/403 early); the write repeats the decision with the caller's
//! membership read, and share-locked, in the transaction that writes, so it cannot be
//! outdated by a removal or demotion committed in between on any replica. The decision
//! is the same `domain::authorize_grant`, here with the write's stakes known.

use uuid::Uuid;

use super::db::{query, Conn};
use super::roles::role_permissions;
use super::{Change, StoreError, StoreResult};
use crate::domain::{authorize_grant, Action, Stakes};

/// The caller of a write and its permissions in the org, as of this transaction.
pub(super) struct Rights<'a> {
    change: Change<'a>,
    /// `None`: not a member (or not an identity).
    own: Option<Vec<String>>,
}

impl<'a> Rights<'a> {
    /// Reads the caller's permissions in `org`, share-locking its membership row so
    /// that it stays as read until commit.
    pub async fn read(conn: &mut Conn, org: Uuid, change: Change<'a>) -> StoreResult<Rights<'a>> {
        let Some(identity) = change.by.identity_id() else {
            return Ok(Rights { change, own: None });
        };
        let share = conn.dialect().share_rows;
        let role: Option<String> = query(format!(
            "SELECT role FROM org_membership WHERE org_id = $1 AND identity_id = $2{share}"
        ))
        .bind(org)
        .bind(identity)
        .optional_scalar(conn)
        .await?;
        let own = match role {
            Some(role) => Some(role_permissions(conn, &role).await?),
            None => None,
        };
        Ok(Rights { change, own })
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
