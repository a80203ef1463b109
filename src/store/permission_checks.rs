//! Permission checks for backends (`POST /authz/check`, `POST /me/token`): which org a
//! reference names and what role and permissions an identity holds there, for up to a
//! hundred (org, identity) pairs in one statement, so a batch costs one round trip.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use uuid::Uuid;

use super::db::{query, Conn, Query};
use super::{SqlStore, StoreResult};
use crate::domain::org::OrgRef;

/// One question: what is `identity` in the org `org` names?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipQuery {
    pub org: OrgRef,
    pub identity: Uuid,
}

/// The org a reference named, and the identity's membership in it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMembershipFacts {
    pub org_id: Uuid,
    pub org_slug: String,
    pub membership: Option<MemberFacts>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFacts {
    pub role: String,
    /// Sorted.
    pub permissions: Vec<String>,
}

#[async_trait]
pub trait PermissionCheckStore: Send + Sync {
    /// Answers each query in order: `None` when no org has that reference.
    async fn check_memberships(
        &self,
        queries: &[MembershipQuery],
    ) -> StoreResult<Vec<Option<OrgMembershipFacts>>>;
}

/// One row: an org, and (when the identity is a member) one permission of its role.
#[derive(sqlx::FromRow)]
pub(super) struct FactRow {
    pub org_id: Uuid,
    pub org_slug: String,
    pub org_clerk_id: Option<String>,
    pub identity_id: Option<Uuid>,
    pub role: Option<String>,
    pub permission: Option<String>,
}

/// What a batch of rows says, indexed for lookups by every kind of reference.
#[derive(Default)]
pub(super) struct Facts {
    orgs: HashMap<Uuid, String>,
    by_slug: HashMap<String, Uuid>,
    by_clerk_id: HashMap<String, Uuid>,
    members: HashMap<(Uuid, Uuid), (String, BTreeSet<String>)>,
}

impl Facts {
    pub(super) fn from_rows(rows: Vec<FactRow>) -> Facts {
        let mut facts = Facts::default();
        for row in rows {
            facts.by_slug.insert(row.org_slug.clone(), row.org_id);
            if let Some(clerk_id) = &row.org_clerk_id {
                facts.by_clerk_id.insert(clerk_id.clone(), row.org_id);
            }
            facts.orgs.insert(row.org_id, row.org_slug);
            let (Some(identity), Some(role)) = (row.identity_id, row.role) else {
                continue;
            };
            let entry = facts
                .members
                .entry((row.org_id, identity))
                .or_insert_with(|| (role, BTreeSet::new()));
            entry.1.extend(row.permission);
        }
        facts
    }

    pub(super) fn answer(&self, question: &MembershipQuery) -> Option<OrgMembershipFacts> {
        let org_id = match &question.org {
            OrgRef::Id(id) => *id,
            OrgRef::Slug(slug) => *self.by_slug.get(slug)?,
            OrgRef::ClerkId(clerk_id) => *self.by_clerk_id.get(clerk_id)?,
        };
        let slug = self.orgs.get(&org_id)?;
        let membership =
            self.members
                .get(&(org_id, question.identity))
                .map(|(role, permissions)| MemberFacts {
                    role: role.clone(),
                    permissions: permissions.iter().cloned().collect(),
                });
        Some(OrgMembershipFacts {
            org_id,
            org_slug: slug.clone(),
            membership,
        })
    }
}

/// The distinct values of each kind of reference, and the distinct identities.
#[derive(Default)]
struct Wanted<'a> {
    ids: BTreeSet<Uuid>,
    slugs: BTreeSet<&'a str>,
    clerk_ids: BTreeSet<&'a str>,
    identities: BTreeSet<Uuid>,
}

impl<'a> Wanted<'a> {
    fn of(queries: &'a [MembershipQuery]) -> Wanted<'a> {
        let mut wanted = Wanted::default();
        for question in queries {
            match &question.org {
                OrgRef::Id(id) => wanted.ids.insert(*id),
                OrgRef::Slug(slug) => wanted.slugs.insert(slug),
                OrgRef::ClerkId(clerk_id) => wanted.clerk_ids.insert(clerk_id),
            };
            wanted.identities.insert(question.identity);
        }
        wanted
    }

    /// One statement over every org any reference names and every identity asked about.
    /// Each list becomes `IN ($n, …)` of its own, so the orgs' primary key, slug and Clerk id
    /// indexes all serve it; empty lists are left out (PostgreSQL refuses `IN ()`).
    fn statement(&self) -> Query<'a> {
        let mut next = 0;
        let mut placeholders = |count: usize| {
            let list: Vec<String> = (next + 1..=next + count).map(|n| format!("${n}")).collect();
            next += count;
            list.join(", ")
        };
        let identities = placeholders(self.identities.len());
        let mut conditions = Vec::new();
        for (column, count) in [
            ("id", self.ids.len()),
            ("slug", self.slugs.len()),
            ("clerk_id", self.clerk_ids.len()),
        ] {
            if count > 0 {
                conditions.push(format!("o.{column} IN ({})", placeholders(count)));
            }
        }
        let sql = format!(
            "SELECT o.id AS org_id, o.slug AS org_slug, o.clerk_id AS org_clerk_id, \
             m.identity_id, m.role, rp.permission FROM orgs o \
             LEFT JOIN org_membership m ON m.org_id = o.id AND m.identity_id IN ({identities}) \
             LEFT JOIN role_permissions rp ON rp.role_key = m.role \
             WHERE {}",
            conditions.join(" OR ")
        );
        let mut statement = query(sql);
        for identity in &self.identities {
            statement = statement.bind(*identity);
        }
        for id in &self.ids {
            statement = statement.bind(*id);
        }
        for value in self.slugs.iter().chain(&self.clerk_ids) {
            statement = statement.bind(*value);
        }
        statement
    }
}

pub(super) async fn load_facts(conn: &mut Conn, queries: &[MembershipQuery]) -> StoreResult<Facts> {
    if queries.is_empty() {
        return Ok(Facts::default());
    }
    let rows: Vec<FactRow> = Wanted::of(queries).statement().fetch_all(conn).await?;
    Ok(Facts::from_rows(rows))
}

#[async_trait]
impl PermissionCheckStore for SqlStore {
    async fn check_memberships(
        &self,
        queries: &[MembershipQuery],
    ) -> StoreResult<Vec<Option<OrgMembershipFacts>>> {
        let mut conn = self.db.acquire().await?;
        let facts = load_facts(&mut conn, queries).await?;
        Ok(queries.iter().map(|q| facts.answer(q)).collect())
    }
}
