//! The events an imported org writes, like any other change (actor `import`): the org
//! created or updated, and each membership and invitation the import created or
//! updated. Nothing for rows left unchanged; a dry run rolls them back with the rest.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{OrgImport, RowStatus};
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

pub(super) async fn org_events(
    conn: &mut Conn,
    written: &Written<'_>,
    catalog: &Catalog,
) -> StoreResult<Vec<Event>> {
    let org = as_org(written.org_id, written.org);
    let mut out = Vec::new();
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
    let changed: Vec<_> = written
        .org
        .members
        .iter()
        .zip(written.members)
        .filter_map(|(member, status)| membership_kind(*status).map(|kind| (member, kind)))
        .collect();
    if !changed.is_empty() {
        let traits = member_traits(conn, org.id).await?;
        let context = EventContext {
            organization: events::organization(&org),
            traits: Value::Null,
        };
        for (member, kind) in changed {
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
    }
    out.extend(invitation_events(org.id, written));
    Ok(out)
}

/// `organizationInvitation.created` for each invitation the import created.
fn invitation_events(org_id: Uuid, written: &Written<'_>) -> Vec<Event> {
    let mut events = Vec::new();
    let invitations = written.org.invitations.iter().zip(written.invitations);
    for ((invitation, status), id) in invitations.zip(written.invitation_ids) {
        let (RowStatus::Created, Some(id)) = (status, id) else {
            continue;
        };
        let imported = Invitation {
            id: *id,
            org_id,
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
            created_at: invitation.created_at,
            updated_at: invitation.updated_at,
        };
        events.push(Event {
            kind: EventType::InvitationCreated,
            org_id: Some(org_id),
            target: ("organization_invitation", imported.id.to_string()),
            data: events::invitation(&imported),
        });
    }
    events
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

/// The last-seen traits of an org's members, in one statement.
async fn member_traits(conn: &mut Conn, org: Uuid) -> StoreResult<HashMap<Uuid, Value>> {
    let rows: Vec<(Uuid, Json<Value>)> = query(
        "SELECT p.identity_id, p.traits FROM identity_profiles p \
         JOIN org_membership m ON m.identity_id = p.identity_id WHERE m.org_id = $1",
    )
    .bind(org)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, traits)| (id, traits.0))
        .collect())
}
