//! Where every org-scoped request starts: the org its path names and the caller's
//! membership there, with the permissions that membership grants, in one statement
//! (one round trip; the permissions come from the in-memory catalog, `catalog.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::catalog::catalog_at;
use super::db::{query, Conn};
use super::orgs::{OrgRow, ORG_COLUMNS};
use super::{Membership, Org, OrgSummary, SqlStore, StoreResult};
use crate::domain::org::OrgRef;

#[async_trait]
pub trait AccessStore: Send + Sync {
    /// The org `org` names and `identity`'s membership in it (`None`: not a member, or
    /// no identity). The org's few public fields only: nothing is counted.
    async fn org_access(
        &self,
        org: &OrgRef,
        identity: Option<Uuid>,
    ) -> StoreResult<Option<(OrgSummary, Option<Membership>)>>;
    /// The same with the whole org, `members_count` included: for reads that return it.
    async fn org_read(
        &self,
        org: &OrgRef,
        identity: Option<Uuid>,
    ) -> StoreResult<Option<(Org, Option<Membership>)>>;
}

/// The caller's membership columns, all `NULL` when it is not a member.
#[derive(sqlx::FromRow)]
struct CallerColumns {
    m_role: Option<String>,
    m_public_metadata: Option<Json<Value>>,
    m_private_metadata: Option<Json<Value>>,
    m_created_at: Option<DateTime<Utc>>,
    m_updated_at: Option<DateTime<Utc>>,
    catalog_version: i64,
}

const CALLER_COLUMNS: &str = "m.role AS m_role, m.public_metadata AS m_public_metadata, \
    m.private_metadata AS m_private_metadata, m.created_at AS m_created_at, \
    m.updated_at AS m_updated_at, \
    (SELECT version FROM role_catalog_version WHERE id = 1) AS catalog_version";

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: Uuid,
    name: String,
    slug: String,
    image_url: Option<String>,
    #[sqlx(flatten)]
    caller: CallerColumns,
}

#[derive(sqlx::FromRow)]
struct ReadRow {
    #[sqlx(flatten)]
    org: OrgRow,
    #[sqlx(flatten)]
    caller: CallerColumns,
}

/// `SELECT <columns> … FROM orgs o LEFT JOIN` the caller's membership, `WHERE` the org is
/// the one named; `$1` is the id, slug or Clerk id, `$2` the caller's identity.
fn access_sql(org: &OrgRef, org_columns: &str) -> String {
    let column = match org {
        OrgRef::Id(_) => "id",
        OrgRef::Slug(_) => "slug",
        OrgRef::ClerkId(_) => "clerk_id",
    };
    format!(
        "SELECT {org_columns}, {CALLER_COLUMNS} FROM orgs o \
         LEFT JOIN org_membership m ON m.org_id = o.id AND m.identity_id = $2 \
         WHERE o.{column} = $1"
    )
}

async fn fetch<R: super::db::Record>(
    conn: &mut Conn,
    sql: String,
    org: &OrgRef,
    identity: Option<Uuid>,
) -> StoreResult<Option<R>> {
    let statement = query(sql);
    let statement = match org {
        OrgRef::Id(id) => statement.bind(*id),
        OrgRef::Slug(value) | OrgRef::ClerkId(value) => statement.bind(value.as_str()),
    };
    Ok(statement.bind(identity).fetch_optional(conn).await?)
}

/// The membership the caller columns describe, with its permissions.
async fn membership(
    conn: &mut Conn,
    org: Uuid,
    identity: Option<Uuid>,
    caller: CallerColumns,
) -> StoreResult<Option<Membership>> {
    let (Some(identity), Some(role), Some(created_at), Some(updated_at)) = (
        identity,
        caller.m_role,
        caller.m_created_at,
        caller.m_updated_at,
    ) else {
        return Ok(None);
    };
    let catalog = catalog_at(conn, caller.catalog_version).await?;
    Ok(Some(Membership {
        org_id: org,
        identity_id: identity,
        permissions: catalog.permissions(&role),
        role,
        public_metadata: caller.m_public_metadata.map_or(Value::Null, |j| j.0),
        private_metadata: caller.m_private_metadata.map_or(Value::Null, |j| j.0),
        created_at,
        updated_at,
    }))
}

#[async_trait]
impl AccessStore for SqlStore {
    async fn org_access(
        &self,
        org: &OrgRef,
        identity: Option<Uuid>,
    ) -> StoreResult<Option<(OrgSummary, Option<Membership>)>> {
        let mut conn = self.db.acquire().await?;
        let sql = access_sql(org, "o.id, o.name, o.slug, o.image_url");
        let Some(row) = fetch::<SummaryRow>(&mut conn, sql, org, identity).await? else {
            return Ok(None);
        };
        let summary = OrgSummary {
            id: row.id,
            name: row.name,
            slug: row.slug,
            image_url: row.image_url,
        };
        let membership = membership(&mut conn, row.id, identity, row.caller).await?;
        Ok(Some((summary, membership)))
    }

    async fn org_read(
        &self,
        org: &OrgRef,
        identity: Option<Uuid>,
    ) -> StoreResult<Option<(Org, Option<Membership>)>> {
        let mut conn = self.db.acquire().await?;
        let sql = access_sql(org, ORG_COLUMNS);
        let Some(row) = fetch::<ReadRow>(&mut conn, sql, org, identity).await? else {
            return Ok(None);
        };
        let org = Org::from(row.org);
        let membership = membership(&mut conn, org.id, identity, row.caller).await?;
        Ok(Some((org, membership)))
    }
}
