//! Clerk's object shapes for event `data`, so that a webhook handler written for Clerk
//! reads Polis's events unchanged: the same `object` names and field names, timestamps
//! in Unix milliseconds, private metadata included (the admin sees it; the audit log
//! hides it from others).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::types::Json;
use uuid::Uuid;

use super::super::db::{query, Conn};
use super::super::{Domain, Invitation, Membership, MembershipRequest, Org, Role, StoreResult};

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// `organization` (`organization.created|updated`, nested in memberships).
pub fn organization(org: &Org) -> Value {
    let mut object = org_object(&OrgFields {
        id: org.id,
        name: org.name.clone(),
        slug: org.slug.clone(),
        image_url: org.image_url.clone(),
        public_metadata: Json(org.public_metadata.clone()),
        private_metadata: Json(org.private_metadata.clone()),
        max_allowed_memberships: org.max_allowed_memberships,
        created_by: org.created_by,
        created_at: org.created_at,
        updated_at: org.updated_at,
    });
    object["members_count"] = json!(org.members_count);
    object
}

/// The `DeletedObject` Clerk sends for a deleted organization or role.
pub fn deleted(object: &str, id: &str, slug: Option<&str>) -> Value {
    let mut deleted = json!({"object": object, "id": id, "deleted": true});
    if let Some(slug) = slug {
        deleted["slug"] = json!(slug);
    }
    deleted
}

/// `organization_membership`, with its organization and the member's public data as
/// Polis last saw them. A membership has no id of its own in Polis: `id` is
/// `<org id>:<identity id>`, stable for the pair.
pub fn membership(membership: &Membership, context: &EventContext) -> Value {
    json!({
        "object": "organization_membership",
        "id": format!("{}:{}", membership.org_id, membership.identity_id),
        "role": membership.role,
        "permissions": membership.permissions,
        "public_metadata": membership.public_metadata,
        "private_metadata": membership.private_metadata,
        "organization": context.organization,
        "public_user_data": public_user_data(membership.identity_id, &context.traits),
        "created_at": ms(membership.created_at),
        "updated_at": ms(membership.updated_at),
    })
}

/// `organization_invitation`; an accepted one carries `user_id`.
pub fn invitation(invitation: &Invitation) -> Value {
    let mut object = json!({
        "object": "organization_invitation",
        "id": invitation.id,
        "email_address": invitation.email_address,
        "role": invitation.role,
        "organization_id": invitation.org_id,
        "status": invitation.status,
        "inviter_id": invitation.inviter_id,
        "public_metadata": invitation.public_metadata,
        "private_metadata": invitation.private_metadata,
        "expires_at": invitation.expires_at.map(ms),
        "created_at": ms(invitation.created_at),
        "updated_at": ms(invitation.updated_at),
    });
    if let Some(user) = invitation.accepted_by {
        object["user_id"] = json!(user);
    }
    object
}

/// `organization_membership_request` (Clerk's FAPI shape), with the requester's public
/// data as Polis last saw it.
pub fn membership_request(request: &MembershipRequest, traits: &Value) -> Value {
    json!({
        "object": "organization_membership_request",
        "id": request.id,
        "organization_id": request.org_id,
        "status": request.status,
        "public_user_data": public_user_data(request.identity_id, traits),
        "created_at": ms(request.created_at),
        "updated_at": ms(request.updated_at),
    })
}

/// `organization_domain`, with Clerk's affiliation verification (and its deprecated
/// alias `verification`); Polis has no DNS ownership verification (`null`).
pub fn domain(domain: &Domain) -> Value {
    let strategy = match domain.verification_strategy {
        Some(strategy) => Some(strategy.as_str()),
        None => domain.code_sent_at.map(|_| "email_code"),
    };
    let verification = json!({
        "status": domain.verification_status,
        "strategy": strategy,
        "attempts": domain.code_sent_at.map(|_| domain.code_attempts),
        "expire_at": domain.code_expires_at.map(ms),
        "verified_at": domain.verified_at.map(ms),
    });
    json!({
        "object": "organization_domain",
        "id": domain.id,
        "organization_id": domain.org_id,
        "name": domain.name,
        "enrollment_mode": domain.enrollment_mode,
        "affiliation_email_address": domain.affiliation_email_address,
        "affiliation_verification": verification,
        "ownership_verification": null,
        "verification": verification,
        "total_pending_invitations": domain.total_pending_invitations,
        "total_pending_suggestions": domain.total_pending_suggestions,
        "created_at": ms(domain.created_at),
        "updated_at": ms(domain.updated_at),
    })
}

/// `role`: Clerk identifies roles by id; a Polis role's id is its key.
pub fn role(role: &Role) -> Value {
    let permissions: Vec<Value> = role
        .permissions
        .iter()
        .map(|key| json!({"object": "permission", "key": key}))
        .collect();
    json!({
        "object": "role",
        "id": role.key,
        "key": role.key,
        "name": role.name,
        "description": role.description,
        "permissions": permissions,
        "created_at": ms(role.created_at),
        "updated_at": ms(role.updated_at),
    })
}

/// Clerk's `public_user_data` of an identity, drawn from its traits.
pub fn public_user_data(identity: Uuid, traits: &Value) -> Value {
    let text = |key: &str| traits.get(key).and_then(Value::as_str).map(str::to_owned);
    let name_part = |key: &str| {
        traits
            .get("name")
            .and_then(|name| name.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let image_url = text("picture");
    json!({
        "user_id": identity,
        "first_name": text("first_name").or_else(|| name_part("first")),
        "last_name": text("last_name").or_else(|| name_part("last")),
        "identifier": text("email"),
        "image_url": image_url,
        "has_image": image_url.is_some(),
    })
}

#[derive(sqlx::FromRow)]
struct OrgFields {
    id: Uuid,
    name: String,
    slug: String,
    image_url: Option<String>,
    public_metadata: Json<Value>,
    private_metadata: Json<Value>,
    max_allowed_memberships: i32,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn org_object(org: &OrgFields) -> Value {
    json!({
        "object": "organization",
        "id": org.id,
        "name": org.name,
        "slug": org.slug,
        "image_url": org.image_url,
        "has_image": org.image_url.is_some(),
        "max_allowed_memberships": org.max_allowed_memberships,
        "admin_delete_enabled": true,
        "public_metadata": org.public_metadata.0,
        "private_metadata": org.private_metadata.0,
        "created_by": org.created_by,
        "created_at": ms(org.created_at),
        "updated_at": ms(org.updated_at),
    })
}

const ORG_FIELDS: &str = "o.id, o.name, o.slug, o.image_url, o.public_metadata, \
    o.private_metadata, o.max_allowed_memberships, o.created_by, o.created_at, o.updated_at";

/// What a membership event nests: its organization and the member's traits.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub organization: Value,
    pub traits: Value,
}

#[derive(sqlx::FromRow)]
struct ContextRow {
    #[sqlx(flatten)]
    org: OrgFields,
    traits: Option<Json<Value>>,
}

impl EventContext {
    /// The org and the member's last-seen profile, in one statement.
    pub async fn read(conn: &mut Conn, org: Uuid, identity: Uuid) -> StoreResult<EventContext> {
        let row: ContextRow = query(format!(
            "SELECT {ORG_FIELDS}, p.traits FROM orgs o \
             LEFT JOIN identity_profiles p ON p.identity_id = $2 WHERE o.id = $1"
        ))
        .bind(org)
        .bind(identity)
        .fetch_one(conn)
        .await?;
        Ok(EventContext {
            organization: org_object(&row.org),
            traits: row.traits.map_or(Value::Null, |traits| traits.0),
        })
    }

    /// The same context for another member of the same org.
    pub fn for_traits(&self, traits: Value) -> EventContext {
        EventContext {
            organization: self.organization.clone(),
            traits,
        }
    }
}
