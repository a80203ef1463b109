//! The events an imported org writes, like any other change (actor `import`): the org
//! created or updated, and each membership and invitation the import created or
//! updated. Nothing for rows left unchanged; a dry run rolls them back with the rest.
//! Written per batch, after its orgs, in the batch's transaction: an org rolled back to
//! its savepoint has none.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{MemberImport, OrgImport, RowStatus};
use crate::domain::invitation::InvitationStatus;
use crate::store::catalog::Catalog;
use crate::store::db::{query, Conn};
use crate::store::events::{self, Event, EventContext, EventType};
use crate::store::{Invitation, Membership, Org, StoreResult};

/// What one applied org wrote, for its events.
pub(super) struct Written<'a> {
    pub org_id: Uuid,
    pub org: &'a OrgImport,
    pub status: RowStatus,
    pub members: &'a [RowStatus],
    pub invitations: &'a [RowStatus],
    /// The Polis id of each invitation written (parallel to `invitations`).
    pub invitation_ids: &'a [Option<Uuid>],
}

/// The events of every org a batch wrote, built once the batch's orgs are in: their
/// members' last-seen traits are read in a few statements for the whole batch, and the
/// events then go out in multi-row statements ([`events::emit_all`]), not per org.
pub(super) async fn batch_events(
    conn: &mut Conn,
    written: &[Written<'_>],
    catalog: &Catalog,
) -> StoreResult<Vec<Event>> {
    let identities: Vec<Uuid> = written
        .iter()
        .flat_map(|w| changed_members(w).map(|(member, _)| member.identity_id))
        .collect();
    let traits = traits_of(conn, &identities).await?;
    let mut out = Vec::new();
    for w in written {
        org_events(w, catalog, &traits, &mut out);
    }
    Ok(out)
}

fn changed_members<'a>(
    written: &'a Written<'_>,
) -> impl Iterator<Item = (&'a MemberImport, EventType)> + 'a {
    written
        .org
        .members
        .iter()
        .zip(written.members)
        .filter_map(|(member, status)| membership_kind(*status).map(|kind| (member, kind)))
}

fn org_events(
    written: &Written<'_>,
    catalog: &Catalog,
    traits: &HashMap<Uuid, Value>,
    out: &mut Vec<Event>,
) {
    let org = as_org(written.org_id, written.org);
    let kind = match written.status {
        RowStatus::Created => Some(EventType::OrganizationCreated),
        RowStatus::Updated => Some(EventType::OrganizationUpdated),
        RowStatus::Unchanged | RowStatus::Skipped => None,
    };
    if let Some(kind) = kind {
        out.push(Event {
            kind,
            org_id: Some(org.id),
            target: ("organization", org.id.to_string()),
            data: events::organization(&org),
        });
    }
    let context = EventContext {
        organization: events::organization(&org),
        traits: Value::Null,
    };
    for (member, kind) in changed_members(written) {
        let membership = Membership {
            org_id: org.id,
            identity_id: member.identity_id,
            role: member.role.clone(),
            permissions: catalog.permissions(&member.role),
            public_metadata: member.public_metadata.clone(),
            private_metadata: member.private_metadata.clone(),
            created_at: member.created_at,
            updated_at: member.updated_at,
        };
        let own = traits
            .get(&member.identity_id)
            .cloned()
            .unwrap_or(Value::Null);
        let data = events::membership(&membership, &context.for_traits(own));
        out.push(crate::store::members::membership_event_with(
            kind,
            &membership,
            data,
        ));
    }
    invitation_events(written, &org, out);
}

fn invitation_events(written: &Written<'_>, org: &Org, out: &mut Vec<Event>) {
    let invitations = written.org.invitations.iter().zip(written.invitations);
    for ((invitation, status), id) in invitations.zip(written.invitation_ids) {
        let (RowStatus::Created, Some(id)) = (status, id) else {
            continue;
        };
        let imported = Invitation {
            id: *id,
            org_id: org.id,
            email_address: invitation.email_address.clone(),
            role: invitation.role.clone(),
            status: InvitationStatus::Pending,
            public_metadata: invitation.public_metadata.clone(),
            private_metadata: invitation.private_metadata.clone(),
            inviter_id: invitation.inviter_id,
            redirect_url: None,
            expires_at: invitation.expires_at,
            accepted_by: None,
            clerk_id: Some(invitation.clerk_id.clone()),
            locale: None,
            created_at: invitation.created_at,
            updated_at: invitation.updated_at,
        };
        out.push(Event {
            kind: EventType::InvitationCreated,
            org_id: Some(org.id),
            target: ("organization_invitation", imported.id.to_string()),
            data: events::invitation(&imported),
        });
    }
}

fn membership_kind(status: RowStatus) -> Option<EventType> {
    match status {
        RowStatus::Created => Some(EventType::MembershipCreated),
        RowStatus::Updated => Some(EventType::MembershipUpdated),
        RowStatus::Unchanged | RowStatus::Skipped => None,
    }
}

fn as_org(id: Uuid, org: &OrgImport) -> Org {
    Org {
        id,
        name: org.name.clone(),
        slug: org.slug.clone(),
        image_url: org.image_url.clone(),
        public_metadata: org.public_metadata.clone(),
        private_metadata: org.private_metadata.clone(),
        max_allowed_memberships: org.max_allowed_memberships,
        members_count: i64::try_from(org.members.len()).unwrap_or(i64::MAX),
        created_by: org.created_by,
        clerk_id: Some(org.clerk_id.clone()),
        created_at: org.created_at,
        updated_at: org.updated_at,
    }
}

/// Identities per statement reading traits: one bind each, far below both databases'
/// limits.
const TRAITS_CHUNK: usize = 500;

/// The last-seen traits of these identities (those without a profile are absent).
async fn traits_of(conn: &mut Conn, identities: &[Uuid]) -> StoreResult<HashMap<Uuid, Value>> {
    let unique: Vec<Uuid> = identities
        .iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut out = HashMap::with_capacity(unique.len());
    for chunk in unique.chunks(TRAITS_CHUNK) {
        let placeholders = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut statement = query(format!(
            "SELECT identity_id, traits FROM identity_profiles WHERE identity_id IN ({placeholders})"
        ));
        for id in chunk {
            statement = statement.bind(*id);
        }
        let rows: Vec<(Uuid, Json<Value>)> = statement.fetch_all(conn).await?;
        out.extend(rows.into_iter().map(|(id, traits)| (id, traits.0)));
    }
    Ok(out)
}
