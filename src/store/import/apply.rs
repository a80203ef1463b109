//! The statements of the Clerk import: per org (under a savepoint) the org row, its
//! members in multi-row statements, its invitations, domains and membership requests
//! (`enrollment.rs`); the role upserts are in `roles.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::enrollment::{import_domains, import_requests};
use super::events::{batch_events, Written};
use super::roles::{ensure_role, role_import_event};
use super::{
    member_unchanged, plan_invitations, values_placeholders, AppliedOrg, ExistingInvitation,
    ExistingMember, ExistingOrg, ImportStore, InvitationImport, MemberImport, OrgImport,
    OrgImportOutcome, RoleImport, RowStatus, INSERT_CHUNK,
};
use crate::domain::role::MEMBERSHIPS_MANAGE;
use crate::store::catalog::{current_catalog, Catalog};
use crate::store::db::{query, Conn, Tx};
use crate::store::events::{emit_all, Actor, Event, Stamp};
use crate::store::{OnUnique, SqlStore, StoreError, StoreResult, Unique};

/// Inserts or updates the org row; `None` when the slug belongs to another org.
async fn upsert_org(conn: &mut Conn, org: &OrgImport) -> StoreResult<Option<(Uuid, RowStatus)>> {
    // One round trip finds (and locks) both the org with this Clerk id and any other
    // org holding the slug.
    let lock = conn.dialect().lock_rows;
    let rows: Vec<ExistingOrg> = query(format!(
        "SELECT id, clerk_id, name, slug, image_url, public_metadata, private_metadata, \
         max_allowed_memberships, created_by, created_at, updated_at \
         FROM orgs WHERE clerk_id = $1 OR slug = $2{lock}"
    ))
    .bind(&org.clerk_id)
    .bind(&org.slug)
    .fetch_all(conn)
    .await?;
    let ours = |row: &ExistingOrg| row.clerk_id.as_deref() == Some(org.clerk_id.as_str());
    if rows.iter().any(|row| row.slug == org.slug && !ours(row)) {
        return Ok(None);
    }
    let existing = rows.into_iter().find(|row| ours(row));
    let (id, status, statement) = match &existing {
        Some(row) if row.same_as(org) => return Ok(Some((row.id, RowStatus::Unchanged))),
        Some(row) => (
            row.id,
            RowStatus::Updated,
            "UPDATE orgs SET name = $2, slug = $3, image_url = $4, public_metadata = $5, \
             private_metadata = $6, max_allowed_memberships = $7, created_by = $8, \
             created_at = $9, updated_at = $10 WHERE id = $1 AND clerk_id = $11",
        ),
        None => (
            Uuid::now_v7(),
            RowStatus::Created,
            "INSERT INTO orgs (id, name, slug, image_url, public_metadata, private_metadata, \
             max_allowed_memberships, created_by, created_at, updated_at, clerk_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        ),
    };
    let written = query(statement)
        .bind(id)
        .bind(&org.name)
        .bind(&org.slug)
        .bind(&org.image_url)
        .bind(Json(&org.public_metadata))
        .bind(Json(&org.private_metadata))
        .bind(org.max_allowed_memberships)
        .bind(org.created_by)
        .bind(org.created_at)
        .bind(org.updated_at)
        .bind(&org.clerk_id)
        .execute(conn)
        .await
        .on_unique(Unique::OrgSlug, StoreError::SlugTaken);
    match written {
        // Two imports racing for one slug: the loser sees the constraint.
        Err(StoreError::SlugTaken) => Ok(None),
        Err(e) => Err(e),
        Ok(_) => Ok(Some((id, status))),
    }
}

/// Upserts the members. An org created by this transaction has none yet: no read, and
/// a plain INSERT (no conflict check per row).
async fn import_members(
    conn: &mut Conn,
    org_id: Uuid,
    members: &[MemberImport],
    new_org: bool,
) -> StoreResult<Vec<RowStatus>> {
    let existing: Vec<ExistingMember> = if new_org {
        Vec::new()
    } else {
        query(
            "SELECT identity_id, role, public_metadata, private_metadata, created_at, \
             updated_at FROM org_membership WHERE org_id = $1",
        )
        .bind(org_id)
        .fetch_all(conn)
        .await?
    };
    let existing: HashMap<Uuid, ExistingMember> =
        existing.into_iter().map(|m| (m.identity_id, m)).collect();
    let mut statuses = Vec::with_capacity(members.len());
    let mut writes = Vec::new();
    for member in members {
        let status = match existing.get(&member.identity_id) {
            Some(row) if member_unchanged(row, member) => RowStatus::Unchanged,
            Some(_) => RowStatus::Updated,
            None => RowStatus::Created,
        };
        if status != RowStatus::Unchanged {
            writes.push(member);
        }
        statuses.push(status);
    }
    for chunk in writes.chunks(INSERT_CHUNK) {
        write_member_chunk(conn, org_id, chunk, !new_org).await?;
    }
    Ok(statuses)
}

async fn write_member_chunk(
    conn: &mut Conn,
    org_id: Uuid,
    chunk: &[&MemberImport],
    upsert: bool,
) -> StoreResult<()> {
    let on_conflict = if upsert {
        " ON CONFLICT (identity_id, org_id) DO UPDATE SET role = excluded.role, \
         public_metadata = excluded.public_metadata, \
         private_metadata = excluded.private_metadata, \
         created_at = excluded.created_at, updated_at = excluded.updated_at"
    } else {
        ""
    };
    let mut statement = query(format!(
        "INSERT INTO org_membership (identity_id, org_id, role, public_metadata, \
         private_metadata, created_at, updated_at) VALUES {}{on_conflict}",
        values_placeholders(chunk.len(), 7),
    ));
    for m in chunk {
        statement = statement
            .bind(m.identity_id)
            .bind(org_id)
            .bind(&m.role)
            .bind(Json(&m.public_metadata))
            .bind(Json(&m.private_metadata))
            .bind(m.created_at)
            .bind(m.updated_at);
    }
    statement.execute(conn).await?;
    Ok(())
}

async fn import_invitations(
    conn: &mut Conn,
    org_id: Uuid,
    invitations: &[InvitationImport],
    new_org: bool,
) -> StoreResult<(Vec<RowStatus>, Vec<Option<Uuid>>)> {
    if invitations.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    // An org created by this transaction has no invitations to read.
    let existing: Vec<ExistingInvitation> = if new_org {
        Vec::new()
    } else {
        query(
            "SELECT clerk_id, email_address, role, status, inviter_id, public_metadata, \
             private_metadata, expires_at, created_at, updated_at FROM invitations \
             WHERE org_id = $1 AND (clerk_id IS NOT NULL OR status = 'pending')",
        )
        .bind(org_id)
        .fetch_all(conn)
        .await?
    };
    let (statuses, writes) = plan_invitations(&existing, invitations);
    let mut ids = vec![None; invitations.len()];
    for i in writes {
        ids[i] = Some(upsert_invitation(conn, org_id, &invitations[i]).await?);
    }
    Ok((statuses, ids))
}

async fn upsert_invitation(
    conn: &mut Conn,
    org_id: Uuid,
    inv: &InvitationImport,
) -> StoreResult<Uuid> {
    let written: Option<Uuid> = query(
        "INSERT INTO invitations (id, org_id, email_address, role, status, token_hash, \
         inviter_id, public_metadata, private_metadata, expires_at, clerk_id, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, 'pending', NULL, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (clerk_id) DO UPDATE SET email_address = excluded.email_address, \
         role = excluded.role, inviter_id = excluded.inviter_id, \
         public_metadata = excluded.public_metadata, \
         private_metadata = excluded.private_metadata, expires_at = excluded.expires_at, \
         created_at = excluded.created_at, updated_at = excluded.updated_at \
         WHERE invitations.org_id = excluded.org_id RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(org_id)
    .bind(&inv.email_address)
    .bind(&inv.role)
    .bind(inv.inviter_id)
    .bind(Json(&inv.public_metadata))
    .bind(Json(&inv.private_metadata))
    .bind(inv.expires_at)
    .bind(&inv.clerk_id)
    .bind(inv.created_at)
    .bind(inv.updated_at)
    .optional_scalar(conn)
    .await?;
    // The Clerk id is another org's invitation: never rewrite it from here.
    written.ok_or_else(|| StoreError::ClerkIdConflict(inv.clerk_id.clone()))
}

async fn has_admin(conn: &mut Conn, org_id: Uuid) -> StoreResult<bool> {
    let found: Option<i32> = query(
        "SELECT 1 FROM org_membership m JOIN role_permissions rp \
         ON rp.role_key = m.role AND rp.permission = $2 WHERE m.org_id = $1 LIMIT 1",
    )
    .bind(org_id)
    .bind(MEMBERSHIPS_MANAGE)
    .optional_scalar(conn)
    .await?;
    Ok(found.is_some())
}

/// Roles holding the permission to manage members, read inside the batch's
/// transaction so that a dry run sees the roles it has just created.
async fn admin_roles(conn: &mut Conn) -> StoreResult<HashSet<String>> {
    let roles: Vec<(String,)> =
        query("SELECT role_key FROM role_permissions WHERE permission = $1")
            .bind(MEMBERSHIPS_MANAGE)
            .fetch_all(conn)
            .await?;
    Ok(roles.into_iter().map(|(role,)| role).collect())
}

/// An org written under its savepoint, the Polis ids of the invitations it wrote (for
/// their events), and the events of the domains it wrote.
type OrgWrite = (OrgImportOutcome, Vec<Option<Uuid>>, Vec<Event>);

/// Writes one org under a savepoint. The inner result is the org's own: on its failure
/// (or a slug conflict) only its savepoint is rolled back. The outer error means the
/// savepoint could not be handled, which dooms the batch.
async fn import_in_savepoint(
    conn: &mut Conn,
    org: &OrgImport,
    batch: &Batch,
) -> StoreResult<StoreResult<OrgWrite>> {
    query("SAVEPOINT import_org").execute(conn).await?;
    let outcome = import_one_org(conn, org, batch).await;
    if !matches!(outcome, Ok((OrgImportOutcome::Applied(_), _, _))) {
        // A slug conflict may come from a failed INSERT, which leaves a PostgreSQL
        // transaction unusable until rolled back.
        query("ROLLBACK TO SAVEPOINT import_org")
            .execute(conn)
            .await?;
    }
    query("RELEASE SAVEPOINT import_org").execute(conn).await?;
    Ok(outcome)
}

async fn import_one_org(conn: &mut Conn, org: &OrgImport, batch: &Batch) -> StoreResult<OrgWrite> {
    let admin_roles = &batch.admin_roles;
    let Some((org_id, status)) = upsert_org(conn, org).await? else {
        return Ok((OrgImportOutcome::SlugConflict, Vec::new(), Vec::new()));
    };
    let new_org = status == RowStatus::Created;
    let members = import_members(conn, org_id, &org.members, new_org).await?;
    let (invitations, invitation_ids) =
        import_invitations(conn, org_id, &org.invitations, new_org).await?;
    let (domains, domain_events) = import_domains(conn, org_id, &org.domains, batch.now).await?;
    let requests = import_requests(conn, org_id, &org.requests).await?;
    // Every imported member holds its planned role once this is in: when one of them
    // can manage members, there is nothing to ask; a new org has no other members to
    // ask about.
    let has_admin = org.members.iter().any(|m| admin_roles.contains(&m.role))
        || (!new_org && has_admin(conn, org_id).await?);
    let applied = AppliedOrg {
        org_id,
        status,
        members,
        invitations,
        domains,
        requests,
        has_admin,
    };
    Ok((
        OrgImportOutcome::Applied(applied),
        invitation_ids,
        domain_events,
    ))
}

/// Records the events of the orgs the batch wrote (those not rolled back).
async fn emit_batch_events(
    conn: &mut Conn,
    orgs: &[OrgImport],
    writes: &[StoreResult<OrgWrite>],
    batch: &Batch,
) -> StoreResult<()> {
    let written: Vec<Written<'_>> = orgs
        .iter()
        .zip(writes)
        .filter_map(|(org, write)| match write {
            Ok((OrgImportOutcome::Applied(applied), invitation_ids, _)) => Some(Written {
                org_id: applied.org_id,
                org,
                status: applied.status,
                members: &applied.members,
                invitations: &applied.invitations,
                invitation_ids,
            }),
            _ => None,
        })
        .collect();
    let mut events = batch_events(conn, &written, &batch.catalog).await?;
    for write in writes.iter().flatten() {
        events.extend(write.2.iter().cloned());
    }
    emit_all(conn, &batch.stamp(), events).await
}

/// What every org of one batch is written against.
struct Batch {
    /// Roles holding the permission to manage members.
    admin_roles: HashSet<String>,
    /// The role catalog, with the roles this batch may just have created.
    catalog: Arc<Catalog>,
    now: DateTime<Utc>,
}

impl Batch {
    fn stamp(&self) -> Stamp<'static> {
        Stamp {
            actor: Actor::import(),
            at: self.now,
            origin: None,
        }
    }
}

/// Commits, or for a dry run rolls back, what the transaction wrote.
async fn finish(tx: Tx, dry_run: bool) -> StoreResult<()> {
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(())
}

#[async_trait]
impl ImportStore for SqlStore {
    async fn import_roles(
        &self,
        roles: &[RoleImport],
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<RowStatus>> {
        let mut tx = self.db.begin_write().await?;
        let mut statuses = Vec::with_capacity(roles.len());
        let mut events = Vec::new();
        for role in roles {
            let status = ensure_role(&mut tx, role, now).await?;
            if let Some(event) = role_import_event(&mut tx, &role.key, status).await? {
                events.push(event);
            }
            statuses.push(status);
        }
        let stamp = Stamp {
            actor: Actor::import(),
            at: now,
            origin: None,
        };
        emit_all(&mut tx, &stamp, events).await?;
        finish(tx, dry_run).await?;
        Ok(statuses)
    }

    #[tracing::instrument(skip_all, fields(orgs = orgs.len()))]
    async fn apply_org_imports(
        &self,
        orgs: &[OrgImport],
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoreResult<OrgImportOutcome>>> {
        let mut tx = self.db.begin_write().await?;
        if let Some(setup) = self.db.dialect().import_setup {
            query(setup).execute(&mut tx).await?;
        }
        // Every org of a run carries the same roles (a dry run's only): once a batch.
        let mut ensured = HashSet::new();
        for role in orgs.iter().flat_map(|org| &org.ensure_roles) {
            if ensured.insert(role.key.as_str()) {
                ensure_role(&mut tx, role, now).await?;
            }
        }
        let batch = Batch {
            admin_roles: admin_roles(&mut tx).await?,
            catalog: current_catalog(&mut tx).await?,
            now,
        };
        let mut writes = Vec::with_capacity(orgs.len());
        for org in orgs {
            writes.push(import_in_savepoint(&mut tx, org, &batch).await?);
        }
        emit_batch_events(&mut tx, orgs, &writes, &batch).await?;
        finish(tx, dry_run).await?;
        Ok(writes
            .into_iter()
            .map(|write| write.map(|(outcome, _, _)| outcome))
            .collect())
    }

    async fn list_clerk_org_ids(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, Uuid)>> {
        let mut conn = self.db.acquire().await?;
        Ok(query(
            "SELECT clerk_id, id FROM orgs WHERE clerk_id IS NOT NULL AND clerk_id > $1 \
             ORDER BY clerk_id LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&mut conn)
        .await?)
    }

    fn import_parallelism(&self) -> usize {
        self.db.dialect().import_parallelism
    }
}
