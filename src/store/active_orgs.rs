//! The active organization of each Kratos session. A row exists only beside the
//! membership it names: the foreign key deletes it with the membership (and so with the
//! org), so "cleared when the membership ends" needs no code in the write paths.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::query;
use super::orgs::OrgSummary;
use super::permission_checks::{MemberFacts, OrgMembershipFacts};
use super::{SqlStore, StoreError, StoreResult};

/// Whose active org, and for how long the session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionKey {
    pub session_id: Uuid,
    pub identity_id: Uuid,
    /// When the Kratos session expires; the row is ignored from then on.
    pub expires_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait ActiveOrgStore: Send + Sync {
    /// The session's active org as of `now`, if any.
    async fn find_active_org(
        &self,
        session: SessionKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OrgSummary>>;
    /// The session's active org with the identity's role and permissions there.
    async fn active_org_membership(
        &self,
        session: SessionKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OrgMembershipFacts>>;
    /// Makes `org` the session's active org; [`StoreError::OrgNotFound`] when the
    /// identity is not (or no longer) a member. Prunes the identity's expired rows.
    async fn set_active_org(
        &self,
        session: SessionKey,
        org: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn clear_active_org(&self, session: SessionKey) -> StoreResult<()>;
}

/// The session's row, as long as the session lives (`$1` session, `$2` identity, `$3` now).
const LIVE_ROW: &str = "a.session_id = $1 AND a.identity_id = $2 \
    AND (a.expires_at IS NULL OR a.expires_at > $3)";

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: Uuid,
    name: String,
    slug: String,
    image_url: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    org_id: Uuid,
    org_slug: String,
    role: String,
    permission: Option<String>,
}

fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}

#[async_trait]
impl ActiveOrgStore for SqlStore {
    async fn find_active_org(
        &self,
        session: SessionKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OrgSummary>> {
        let mut conn = self.db.acquire().await?;
        let row: Option<SummaryRow> = query(format!(
            "SELECT o.id, o.name, o.slug, o.image_url FROM active_orgs a \
             JOIN orgs o ON o.id = a.org_id WHERE {LIVE_ROW}"
        ))
        .bind(session.session_id)
        .bind(session.identity_id)
        .bind(now)
        .fetch_optional(&mut conn)
        .await?;
        Ok(row.map(|row| OrgSummary {
            id: row.id,
            name: row.name,
            slug: row.slug,
            image_url: row.image_url,
        }))
    }

    async fn active_org_membership(
        &self,
        session: SessionKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OrgMembershipFacts>> {
        let mut conn = self.db.acquire().await?;
        let rows: Vec<ClaimRow> = query(format!(
            "SELECT o.id AS org_id, o.slug AS org_slug, m.role, rp.permission \
             FROM active_orgs a JOIN orgs o ON o.id = a.org_id \
             JOIN org_membership m ON m.org_id = a.org_id AND m.identity_id = a.identity_id \
             LEFT JOIN role_permissions rp ON rp.role_key = m.role \
             WHERE {LIVE_ROW} ORDER BY rp.permission"
        ))
        .bind(session.session_id)
        .bind(session.identity_id)
        .bind(now)
        .fetch_all(&mut conn)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let (org_id, org_slug, role) = (first.org_id, first.org_slug.clone(), first.role.clone());
        let permissions = rows.into_iter().filter_map(|row| row.permission).collect();
        Ok(Some(OrgMembershipFacts {
            org_id,
            org_slug,
            membership: Some(MemberFacts { role, permissions }),
        }))
    }

    async fn set_active_org(
        &self,
        session: SessionKey,
        org: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut conn = self.db.acquire().await?;
        query(
            "INSERT INTO active_orgs (session_id, identity_id, org_id, expires_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id) DO UPDATE SET \
             identity_id = excluded.identity_id, org_id = excluded.org_id, \
             expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        )
        .bind(session.session_id)
        .bind(session.identity_id)
        .bind(org)
        .bind(session.expires_at)
        .bind(now)
        .execute(&mut conn)
        .await
        .map_err(|err| {
            // The membership ended after the caller's access was checked.
            if is_foreign_key_violation(&err) {
                StoreError::OrgNotFound
            } else {
                StoreError::Database(err)
            }
        })?;
        query("DELETE FROM active_orgs WHERE identity_id = $1 AND expires_at <= $2")
            .bind(session.identity_id)
            .bind(now)
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    async fn clear_active_org(&self, session: SessionKey) -> StoreResult<()> {
        let mut conn = self.db.acquire().await?;
        query("DELETE FROM active_orgs WHERE session_id = $1 AND identity_id = $2")
            .bind(session.session_id)
            .bind(session.identity_id)
            .execute(&mut conn)
            .await?;
        Ok(())
    }
}
