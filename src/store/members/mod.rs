//! Memberships: who belongs to which org with which role, the two invariants that
//! guard them (the member cap and "someone can always manage members"), and the
//! profile snapshots that member search reads.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

mod events;

use super::catalog::{catalog_at, Catalog};
use super::db::{query, Conn};
use super::events::EventType;
use super::invariants::{ensure_another_manager, seats_taken};
use super::locking::{begin_adding, begin_changing, manages};
use super::orgs::{like_pattern, merge_metadata, OrgSummary};
use super::{Change, OnUnique, PageRequest, SqlStore, StoreError, StoreResult, Unique};
use crate::domain::{Action, Stakes};
pub(super) use events::{members_for_events, membership_event_with, record_membership_event};

#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub org_id: Uuid,
    pub identity_id: Uuid,
    pub role: String,
    pub permissions: Vec<String>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which members a listing covers.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Only members with this role key.
    pub role: Option<String>,
    /// Case-insensitive substring of the member's e-mail or name, as last seen in Kratos.
    pub query: Option<String>,
    /// Only snapshots made of these traits are searched (`IdentityProfile::search_fields`).
    pub search_fields: String,
}

/// A deep-merge update of public and/or private metadata (`null` removes a key).
#[derive(Debug, Clone, Default)]
pub struct MetadataPatch {
    pub public: Option<serde_json::Map<String, Value>>,
    pub private: Option<serde_json::Map<String, Value>>,
}

/// What Polis last saw of a Kratos identity: kept to search members by e-mail or name.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityProfile {
    pub identity_id: Uuid,
    pub email: Option<String>,
    /// Lower-cased e-mail, names and username, as far as the deployment shows them.
    pub search_text: String,
    /// Which traits `search_text` was made of, comma-joined.
    pub search_fields: String,
    pub traits: Value,
}

#[async_trait]
pub trait MemberStore: Send + Sync {
    async fn find_membership(&self, org: Uuid, identity: Uuid) -> StoreResult<Option<Membership>>;
    async fn list_members(
        &self,
        org: Uuid,
        filter: &MemberFilter,
        page: PageRequest,
    ) -> StoreResult<Vec<Membership>>;
    /// Adds a member unless that would exceed the org's cap (members plus pending
    /// invitations not yet expired at `change.now`). Each write re-checks the
    /// caller's right and the grant rule inside its transaction (`guard.rs`).
    async fn add_member(
        &self,
        org: Uuid,
        identity: Uuid,
        role: &str,
        change: Change<'_>,
    ) -> StoreResult<Membership>;
    /// Changes a role unless that would leave no member able to manage members.
    async fn change_role(
        &self,
        org: Uuid,
        identity: Uuid,
        role: &str,
        change: Change<'_>,
    ) -> StoreResult<Membership>;
    /// Removes a member unless that would leave no member able to manage members.
    async fn remove_member(&self, org: Uuid, identity: Uuid, change: Change<'_>)
        -> StoreResult<()>;
    /// Deep-merges metadata into a membership's, under the org lock.
    async fn merge_member_metadata(
        &self,
        org: Uuid,
        identity: Uuid,
        patch: MetadataPatch,
        change: Change<'_>,
    ) -> StoreResult<Membership>;
    /// The identity's memberships with their orgs, ordered by org id.
    async fn list_memberships_of(
        &self,
        identity: Uuid,
        page: PageRequest,
    ) -> StoreResult<Vec<(Membership, OrgSummary)>>;
    /// Identities Polis holds something of — a membership, recorded verified addresses,
    /// a standing suggestion or a pending membership request — in id order, after `after`.
    async fn known_identities(&self, after: Option<Uuid>, limit: u32) -> StoreResult<Vec<Uuid>>;
    /// Records what Kratos said about these identities.
    async fn save_identity_profiles(
        &self,
        profiles: &[IdentityProfile],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// With the role catalog's version, so permissions come from memory (`catalog.rs`).
pub(super) const MEMBERSHIP_COLUMNS: &str = "m.org_id, m.identity_id, m.role, \
    m.public_metadata, m.private_metadata, m.created_at, m.updated_at, \
    (SELECT version FROM role_catalog_version WHERE id = 1) AS catalog_version";

#[derive(sqlx::FromRow)]
pub(super) struct MembershipRow {
    org_id: Uuid,
    identity_id: Uuid,
    role: String,
    public_metadata: Json<Value>,
    private_metadata: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    catalog_version: i64,
}

impl MembershipRow {
    /// Attaches the role's permissions from the catalog.
    pub(super) fn with_permissions(self, catalog: &Catalog) -> Membership {
        Membership {
            permissions: catalog.permissions(&self.role),
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
struct MembershipWithOrgRow {
    #[sqlx(flatten)]
    membership: MembershipRow,
    org_name: String,
    org_slug: String,
    org_image_url: Option<String>,
}

impl MembershipWithOrgRow {
    fn split(self, catalog: &Catalog) -> (Membership, OrgSummary) {
        let org = OrgSummary {
            id: self.membership.org_id,
            name: self.org_name,
            slug: self.org_slug,
            image_url: self.org_image_url,
        };
        (self.membership.with_permissions(catalog), org)
    }
}

pub(super) async fn load_membership(
    conn: &mut Conn,
    org: Uuid,
    identity: Uuid,
) -> StoreResult<Option<Membership>> {
    let row: Option<MembershipRow> = query(format!(
        "SELECT {MEMBERSHIP_COLUMNS} FROM org_membership m \
         WHERE m.org_id = $1 AND m.identity_id = $2"
    ))
    .bind(org)
    .bind(identity)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let catalog = catalog_at(conn, row.catalog_version).await?;
    Ok(Some(row.with_permissions(&catalog)))
}

/// Inserts a membership, refusing a second one for the same identity.
pub(super) async fn insert_membership(
    conn: &mut Conn,
    org: Uuid,
    identity: Uuid,
    role: &str,
    metadata: (&Value, &Value),
    now: DateTime<Utc>,
) -> StoreResult<()> {
    query(
        "INSERT INTO org_membership (identity_id, org_id, role, public_metadata, \
         private_metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(identity)
    .bind(org)
    .bind(role)
    .bind(Json(metadata.0))
    .bind(Json(metadata.1))
    .bind(now)
    .execute(conn)
    .await
    .on_unique(Unique::Membership, StoreError::AlreadyMember)?;
    Ok(())
}

/// `SELECT … FROM org_membership` for one org's listing, placeholders in bind order:
/// org, after, role, query and its fields, limit (role and query only when present).
fn list_members_sql(filter: &MemberFilter) -> String {
    let mut sql = format!("SELECT {MEMBERSHIP_COLUMNS} FROM org_membership m");
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
        sql.push_str(&format!(
            " AND p.search_text LIKE ${n} ESCAPE '\\' AND p.search_fields = ${}",
            n + 1
        ));
        n += 2;
    }
    sql.push_str(&format!(" ORDER BY m.identity_id LIMIT ${n}"));
    sql
}

#[async_trait]
impl MemberStore for SqlStore {
    async fn find_membership(&self, org: Uuid, identity: Uuid) -> StoreResult<Option<Membership>> {
        let mut conn = self.db.acquire().await?;
        load_membership(&mut conn, org, identity).await
    }

    async fn list_members(
        &self,
        org: Uuid,
        filter: &MemberFilter,
        page: PageRequest,
    ) -> StoreResult<Vec<Membership>> {
        let mut statement = query(list_members_sql(filter))
            .bind(org)
            .bind(page.after.unwrap_or(Uuid::nil()));
        if let Some(role) = &filter.role {
            statement = statement.bind(role);
        }
        if let Some(search) = &filter.query {
            statement = statement
                .bind(like_pattern(&search.to_lowercase()))
                .bind(&filter.search_fields);
        }
        let mut conn = self.db.acquire().await?;
        let rows: Vec<MembershipRow> = statement
            .bind(i64::from(page.limit))
            .fetch_all(&mut conn)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let catalog = catalog_at(&mut conn, first.catalog_version).await?;
        Ok(rows
            .into_iter()
            .map(|r| r.with_permissions(&catalog))
            .collect())
    }

    #[tracing::instrument(skip_all, fields(org = %org, identity = %identity))]
    async fn add_member(
        &self,
        org: Uuid,
        identity: Uuid,
        role: &str,
        change: Change<'_>,
    ) -> StoreResult<Membership> {
        let now = change.now;
        let (mut tx, cap, rights) = begin_adding(&self.db, org, change, Action::AddMember).await?;
        let granted = rights.catalog.role(role)?.to_vec();
        rights.check(Action::AddMember, Stakes::granting(&granted))?;
        if cap > 0 {
            if load_membership(&mut tx, org, identity).await?.is_some() {
                return Err(StoreError::AlreadyMember);
            }
            if seats_taken(&mut tx, org, now).await? >= i64::from(cap) {
                return Err(StoreError::QuotaExceeded);
            }
        }
        let empty = Value::Object(serde_json::Map::new());
        insert_membership(&mut tx, org, identity, role, (&empty, &empty), now).await?;
        let added = Membership {
            org_id: org,
            identity_id: identity,
            role: role.to_owned(),
            permissions: granted,
            public_metadata: empty.clone(),
            private_metadata: empty,
            created_at: now,
            updated_at: now,
        };
        record_membership_event(&mut tx, change, EventType::MembershipCreated, &added).await?;
        tx.commit().await?;
        Ok(added)
    }

    #[tracing::instrument(skip_all, fields(org = %org, identity = %identity))]
    async fn change_role(
        &self,
        org: Uuid,
        identity: Uuid,
        role: &str,
        change: Change<'_>,
    ) -> StoreResult<Membership> {
        let now = change.now;
        let (mut tx, rights, current) =
            begin_changing(&self.db, org, identity, change, Action::ChangeRole).await?;
        let granted = rights.catalog.role(role)?.to_vec();
        let stakes = Stakes {
            granted: Some(&granted),
            target: Some(&current.permissions),
        };
        rights.check(Action::ChangeRole, stakes)?;
        if manages(&current.permissions) && !manages(&granted) {
            ensure_another_manager(&mut tx, org, identity).await?;
        }
        query(
            "UPDATE org_membership SET role = $3, updated_at = $4 \
             WHERE org_id = $1 AND identity_id = $2",
        )
        .bind(org)
        .bind(identity)
        .bind(role)
        .bind(now)
        .execute(&mut tx)
        .await?;
        let changed = Membership {
            role: role.to_owned(),
            permissions: granted,
            updated_at: now,
            ..current
        };
        record_membership_event(&mut tx, change, EventType::MembershipUpdated, &changed).await?;
        tx.commit().await?;
        Ok(changed)
    }

    #[tracing::instrument(skip_all, fields(org = %org, identity = %identity))]
    async fn remove_member(
        &self,
        org: Uuid,
        identity: Uuid,
        change: Change<'_>,
    ) -> StoreResult<()> {
        let action = Action::RemoveMember {
            identity_id: identity,
        };
        let (mut tx, rights, current) =
            begin_changing(&self.db, org, identity, change, action).await?;
        rights.check(action, Stakes::acting_on(&current.permissions))?;
        if manages(&current.permissions) {
            ensure_another_manager(&mut tx, org, identity).await?;
        }
        query("DELETE FROM org_membership WHERE org_id = $1 AND identity_id = $2")
            .bind(org)
            .bind(identity)
            .execute(&mut tx)
            .await?;
        record_membership_event(&mut tx, change, EventType::MembershipDeleted, &current).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(org = %org, identity = %identity))]
    async fn merge_member_metadata(
        &self,
        org: Uuid,
        identity: Uuid,
        patch: MetadataPatch,
        change: Change<'_>,
    ) -> StoreResult<Membership> {
        let now = change.now;
        let (mut tx, rights, current) =
            begin_changing(&self.db, org, identity, change, Action::ChangeRole).await?;
        rights.check(Action::ChangeRole, Stakes::acting_on(&current.permissions))?;
        let (public, private) =
            merge_metadata(&current.public_metadata, &current.private_metadata, patch)?;
        query(
            "UPDATE org_membership SET public_metadata = $3, private_metadata = $4, \
             updated_at = $5 WHERE org_id = $1 AND identity_id = $2",
        )
        .bind(org)
        .bind(identity)
        .bind(Json(&public))
        .bind(Json(&private))
        .bind(now)
        .execute(&mut tx)
        .await?;
        let changed = Membership {
            public_metadata: public,
            private_metadata: private,
            updated_at: now,
            ..current
        };
        record_membership_event(&mut tx, change, EventType::MembershipUpdated, &changed).await?;
        tx.commit().await?;
        Ok(changed)
    }

    async fn list_memberships_of(
        &self,
        identity: Uuid,
        page: PageRequest,
    ) -> StoreResult<Vec<(Membership, OrgSummary)>> {
        let mut conn = self.db.acquire().await?;
        let rows: Vec<MembershipWithOrgRow> = query(format!(
            "SELECT {MEMBERSHIP_COLUMNS}, o.name AS org_name, o.slug AS org_slug, \
             o.image_url AS org_image_url FROM org_membership m JOIN orgs o ON o.id = m.org_id \
             WHERE m.identity_id = $1 AND m.org_id > $2 ORDER BY m.org_id LIMIT $3"
        ))
        .bind(identity)
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(i64::from(page.limit))
        .fetch_all(&mut conn)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let catalog = catalog_at(&mut conn, first.membership.catalog_version).await?;
        Ok(rows.into_iter().map(|r| r.split(&catalog)).collect())
    }

    async fn known_identities(&self, after: Option<Uuid>, limit: u32) -> StoreResult<Vec<Uuid>> {
        let mut conn = self.db.acquire().await?;
        // Each table's key or index leads with identity_id: index walks, then a merge.
        let ids: Vec<(Uuid,)> = query(
            "SELECT identity_id FROM ( \
               SELECT identity_id FROM org_membership WHERE identity_id > $1 \
               UNION SELECT identity_id FROM identity_verified_addresses WHERE identity_id > $1 \
               UNION SELECT identity_id FROM org_suggestions WHERE identity_id > $1 \
                 AND status IN ('pending', 'accepted') \
               UNION SELECT identity_id FROM membership_requests WHERE identity_id > $1 \
                 AND status = 'pending' \
             ) known ORDER BY identity_id LIMIT $2",
        )
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(i64::from(limit))
        .fetch_all(&mut conn)
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    async fn save_identity_profiles(
        &self,
        profiles: &[IdentityProfile],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if profiles.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        for profile in profiles {
            query(
                "INSERT INTO identity_profiles (identity_id, email, search_text, search_fields, \
                 traits, refreshed_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (identity_id) DO UPDATE SET email = excluded.email, \
                 search_text = excluded.search_text, search_fields = excluded.search_fields, \
                 traits = excluded.traits, refreshed_at = excluded.refreshed_at",
            )
            .bind(profile.identity_id)
            .bind(&profile.email)
            .bind(&profile.search_text)
            .bind(&profile.search_fields)
            .bind(Json(&profile.traits))
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
