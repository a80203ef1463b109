//! Organizations: create, find (by id, slug or Clerk id), list, update, delete, and
//! deep-merge their metadata.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::db::{query, Conn};
use super::events::{self, emit, Event, EventType, Stamp};
use super::guard::Rights;
use super::members::{
    insert_membership, members_for_events, membership_event_with, record_membership_event,
};
use super::members::{Membership, MetadataPatch};
use super::roles::role_exists;
use super::{Change, OnUnique, PageRequest, SqlStore, StoreError, StoreResult, Unique};
use crate::domain::metadata::merged;
use crate::domain::org::{OrgRef, Slug};
use crate::domain::validation::validate_metadata;
use crate::domain::Action;

#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub image_url: Option<String>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub max_allowed_memberships: i32,
    pub members_count: i64,
    pub created_by: Option<Uuid>,
    pub clerk_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewOrg {
    pub name: String,
    pub slug: Slug,
    pub image_url: Option<String>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub max_allowed_memberships: i32,
    pub created_by: Option<Uuid>,
    /// The creator's first membership and its role, added in the same transaction.
    pub creator: Option<(Uuid, String)>,
}

/// Changes to an org; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub slug: Option<Slug>,
    pub image_url: Option<Option<String>>,
    pub public_metadata: Option<Value>,
    pub private_metadata: Option<Value>,
    pub max_allowed_memberships: Option<i32>,
}

/// The few org fields shown next to a caller's own memberships and invitations.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgSummary {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub image_url: Option<String>,
}

/// Which orgs a listing covers.
#[derive(Debug, Clone, Default)]
pub struct OrgFilter {
    /// Only orgs this identity belongs to.
    pub member: Option<Uuid>,
    /// Case-insensitive substring of the name or slug.
    pub query: Option<String>,
}

#[async_trait]
pub trait OrgStore: Send + Sync {
    async fn create_org(&self, org: NewOrg, change: Change<'_>) -> StoreResult<Org>;
    async fn find_org(&self, org: &OrgRef) -> StoreResult<Option<Org>>;
    async fn list_orgs(&self, filter: &OrgFilter, page: PageRequest) -> StoreResult<Vec<Org>>;
    /// Each write to an existing org re-checks the caller's right inside its
    /// transaction (`guard.rs`).
    async fn update_org(&self, id: Uuid, patch: OrgPatch, change: Change<'_>) -> StoreResult<Org>;
    /// Deletes the org and, by cascade in the same statement, its memberships and
    /// invitations.
    async fn delete_org(&self, id: Uuid, change: Change<'_>) -> StoreResult<()>;
    /// Deep-merges metadata into the org's, under the org lock.
    async fn merge_org_metadata(
        &self,
        id: Uuid,
        patch: MetadataPatch,
        change: Change<'_>,
    ) -> StoreResult<Org>;
}

pub(super) const ORG_COLUMNS: &str = "o.id, o.name, o.slug, o.image_url, o.public_metadata, \
    o.private_metadata, o.max_allowed_memberships, o.created_by, o.clerk_id, o.created_at, \
    o.updated_at, (SELECT COUNT(*) FROM org_membership c WHERE c.org_id = o.id) AS members_count";

#[derive(sqlx::FromRow)]
pub(super) struct OrgRow {
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

async fn load_org(conn: &mut Conn, id: Uuid) -> StoreResult<Org> {
    query(format!("SELECT {ORG_COLUMNS} FROM orgs o WHERE o.id = $1"))
        .bind(id)
        .fetch_optional::<OrgRow>(conn)
        .await?
        .map(Org::from)
        .ok_or(StoreError::OrgNotFound)
}

/// Locks the org row for the rest of the transaction and returns its member cap.
pub(super) async fn lock_org(conn: &mut Conn, org: Uuid) -> StoreResult<i32> {
    let lock = conn.dialect().lock_rows;
    query(format!(
        "SELECT max_allowed_memberships FROM orgs WHERE id = $1{lock}"
    ))
    .bind(org)
    .optional_scalar(conn)
    .await?
    .ok_or(StoreError::OrgNotFound)
}

/// Deep-merges `patch` into the current public and private metadata and checks the
/// size of each result.
pub(super) fn merge_metadata(
    public: &Value,
    private: &Value,
    patch: MetadataPatch,
) -> StoreResult<(Value, Value)> {
    let public = patch
        .public
        .map_or_else(|| public.clone(), |p| merged(public, p));
    let private = patch
        .private
        .map_or_else(|| private.clone(), |p| merged(private, p));
    for (field, value) in [("public_metadata", &public), ("private_metadata", &private)] {
        validate_metadata(value).map_err(|message| StoreError::InvalidMetadata {
            field,
            message: format!("after merging, {message}"),
        })?;
    }
    Ok((public, private))
}

/// `SELECT … FROM orgs` for a listing, with its placeholders numbered in bind order:
/// member, after, query, limit (each only when present).
fn list_orgs_sql(filter: &OrgFilter, page: PageRequest, like: &str) -> String {
    let mut sql = format!("SELECT {ORG_COLUMNS} FROM orgs o");
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
            "(o.name {like} ${n} ESCAPE '\\' OR o.slug {like} ${n} ESCAPE '\\')"
        ));
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY o.id LIMIT ${}", n + 1));
    sql
}

/// Escapes `LIKE` wildcards so a search string matches literally (with `ESCAPE '\'`).
pub(super) fn like_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[async_trait]
impl OrgStore for SqlStore {
    #[tracing::instrument(skip_all, fields(slug = %org.slug.as_str()))]
    async fn create_org(&self, org: NewOrg, change: Change<'_>) -> StoreResult<Org> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        let creator_permissions = match &org.creator {
            Some((_, role)) => role_exists(&mut tx, role).await?,
            None => Vec::new(),
        };
        let id = Uuid::now_v7();
        query(
            "INSERT INTO orgs (id, name, slug, image_url, public_metadata, private_metadata, \
             max_allowed_memberships, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(id)
        .bind(&org.name)
        .bind(org.slug.as_str())
        .bind(&org.image_url)
        .bind(Json(&org.public_metadata))
        .bind(Json(&org.private_metadata))
        .bind(org.max_allowed_memberships)
        .bind(org.created_by)
        .bind(now)
        .execute(&mut tx)
        .await
        .on_unique(Unique::OrgSlug, StoreError::SlugTaken)?;
        let creator = match &org.creator {
            Some((identity, role)) => {
                let empty = Value::Object(serde_json::Map::new());
                insert_membership(&mut tx, id, *identity, role, (&empty, &empty), now).await?;
                Some(Membership {
                    org_id: id,
                    identity_id: *identity,
                    role: role.clone(),
                    permissions: creator_permissions,
                    public_metadata: empty.clone(),
                    private_metadata: empty,
                    created_at: now,
                    updated_at: now,
                })
            }
            None => None,
        };
        // Read once the creator is in, so the org's event counts its first member.
        let created = load_org(&mut tx, id).await?;
        let stamp = Stamp::from(change);
        emit(
            &mut tx,
            &stamp,
            org_event(EventType::OrganizationCreated, &created),
        )
        .await?;
        if let Some(membership) = creator {
            record_membership_event(&mut tx, change, EventType::MembershipCreated, &membership)
                .await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn find_org(&self, org: &OrgRef) -> StoreResult<Option<Org>> {
        let (column, value) = match org {
            OrgRef::Id(id) => {
                let mut conn = self.db.acquire().await?;
                return match load_org(&mut conn, *id).await {
                    Ok(org) => Ok(Some(org)),
                    Err(StoreError::OrgNotFound) => Ok(None),
                    Err(e) => Err(e),
                };
            }
            OrgRef::Slug(slug) => ("slug", slug),
            OrgRef::ClerkId(clerk_id) => ("clerk_id", clerk_id),
        };
        let mut conn = self.db.acquire().await?;
        Ok(query(format!(
            "SELECT {ORG_COLUMNS} FROM orgs o WHERE o.{column} = $1"
        ))
        .bind(value)
        .fetch_optional::<OrgRow>(&mut conn)
        .await?
        .map(Org::from))
    }

    async fn list_orgs(&self, filter: &OrgFilter, page: PageRequest) -> StoreResult<Vec<Org>> {
        let mut statement = query(list_orgs_sql(filter, page, self.db.dialect().like));
        if let Some(member) = filter.member {
            statement = statement.bind(member);
        }
        if let Some(after) = page.after {
            statement = statement.bind(after);
        }
        if let Some(search) = &filter.query {
            statement = statement.bind(like_pattern(search));
        }
        let mut conn = self.db.acquire().await?;
        let rows: Vec<OrgRow> = statement
            .bind(i64::from(page.limit))
            .fetch_all(&mut conn)
            .await?;
        Ok(rows.into_iter().map(Org::from).collect())
    }

    #[tracing::instrument(skip_all, fields(org = %id))]
    async fn update_org(&self, id: Uuid, patch: OrgPatch, change: Change<'_>) -> StoreResult<Org> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        // Locked so a concurrent metadata merge is not overwritten by this
        // read-modify-write of the whole row.
        lock_org(&mut tx, id).await?;
        Rights::require(&mut tx, id, change, Action::UpdateOrg).await?;
        let current = load_org(&mut tx, id).await?;
        query(
            "UPDATE orgs SET name = $2, slug = $3, image_url = $4, public_metadata = $5, \
             private_metadata = $6, max_allowed_memberships = $7, updated_at = $8 WHERE id = $1",
        )
        .bind(id)
        .bind(patch.name.unwrap_or(current.name))
        .bind(patch.slug.map_or(current.slug, |s| s.as_str().to_owned()))
        .bind(patch.image_url.unwrap_or(current.image_url))
        .bind(Json(
            patch.public_metadata.unwrap_or(current.public_metadata),
        ))
        .bind(Json(
            patch.private_metadata.unwrap_or(current.private_metadata),
        ))
        .bind(
            patch
                .max_allowed_memberships
                .unwrap_or(current.max_allowed_memberships),
        )
        .bind(now)
        .execute(&mut tx)
        .await
        .on_unique(Unique::OrgSlug, StoreError::SlugTaken)?;
        let org = load_org(&mut tx, id).await?;
        let event = org_event(EventType::OrganizationUpdated, &org);
        emit(&mut tx, &Stamp::from(change), event).await?;
        tx.commit().await?;
        Ok(org)
    }

    #[tracing::instrument(skip_all, fields(org = %id))]
    async fn delete_org(&self, id: Uuid, change: Change<'_>) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        lock_org(&mut tx, id).await?;
        Rights::require(&mut tx, id, change, Action::DeleteOrg).await?;
        let org = load_org(&mut tx, id).await?;
        let stamp = Stamp::from(change);
        for (membership, context) in members_for_events(&mut tx, id).await? {
            let data = events::membership(&membership, &context);
            emit(
                &mut tx,
                &stamp,
                membership_event_with(EventType::MembershipDeleted, &membership, data),
            )
            .await?;
        }
        let gone = events::deleted("organization", &id.to_string(), Some(&org.slug));
        emit(
            &mut tx,
            &stamp,
            Event {
                kind: EventType::OrganizationDeleted,
                org_id: Some(id),
                target: ("organization", id.to_string()),
                data: gone,
            },
        )
        .await?;
        // Memberships and invitations go by ON DELETE CASCADE, in this same statement.
        let deleted = query("DELETE FROM orgs WHERE id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        if deleted == 0 {
            return Err(StoreError::OrgNotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(org = %id))]
    async fn merge_org_metadata(
        &self,
        id: Uuid,
        patch: MetadataPatch,
        change: Change<'_>,
    ) -> StoreResult<Org> {
        let now = change.now;
        let mut tx = self.db.begin_write().await?;
        lock_org(&mut tx, id).await?;
        Rights::require(&mut tx, id, change, Action::UpdateOrg).await?;
        let current = load_org(&mut tx, id).await?;
        let (public, private) =
            merge_metadata(&current.public_metadata, &current.private_metadata, patch)?;
        query(
            "UPDATE orgs SET public_metadata = $2, private_metadata = $3, updated_at = $4 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(Json(&public))
        .bind(Json(&private))
        .bind(now)
        .execute(&mut tx)
        .await?;
        let org = load_org(&mut tx, id).await?;
        let event = org_event(EventType::OrganizationUpdated, &org);
        emit(&mut tx, &Stamp::from(change), event).await?;
        tx.commit().await?;
        Ok(org)
    }
}

/// An org's own event (`organization.created|updated`).
fn org_event(kind: EventType, org: &Org) -> Event {
    Event {
        kind,
        org_id: Some(org.id),
        target: ("organization", org.id.to_string()),
        data: events::organization(org),
    }
}
