//! The audit log: the events outbox read back, newest first. An org's log is for those
//! who manage its members; the whole instance's is for API keys. Private metadata
//! inside an event's `data` is shown to admin API keys only.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::PROBLEM_CONTENT_TYPE;
use super::pagination::{decode_seq_token, encode_seq_token};
use super::problems;
use super::{org_access, AppJson, AppPath, AppQuery, Page, PageParams};
use crate::domain::{authorize, visibility, Action, Caller, Visibility};
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use crate::store::{AuditEntry, AuditQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(org_audit_log))
        .routes(routes!(instance_audit_log))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditLogParams {
    /// Only these event types, comma-separated (e.g. `organizationMembership.deleted`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub types: Option<String>,
    /// Only changes made by this identity or API key id (`import` changes have none).
    pub actor_id: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// The instance's log narrowed to one organization.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditOrgParam {
    /// Only events of this organization (it may have been deleted since).
    pub org_id: Option<Uuid>,
}

/// Who made a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    /// `identity`, `api_key`, `import` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The identity's or API key's id; `null` for the import and the system.
    #[schema(required = true)]
    pub id: Option<String>,
}

/// What a change was made to.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTarget {
    /// `organization`, `organization_membership`, `organization_invitation` or `role`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id (a membership's is `<org id>:<identity id>`, a role's its key).
    pub id: String,
}

/// One committed change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogEntry {
    /// The event's id: the same `webhook-id` its webhook deliveries carry.
    pub id: Uuid,
    /// The event type, by Clerk's names (`organizationMembership.created`, …).
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    #[schema(required = true)]
    pub org_id: Option<Uuid>,
    pub actor: AuditActor,
    pub target: AuditTarget,
    /// The `X-Request-Id` of the request that made the change.
    #[schema(required = true)]
    pub request_id: Option<String>,
    #[schema(required = true)]
    pub client_ip: Option<String>,
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// The changed object in Clerk's shape, as the webhook's `data` carries it.
    #[schema(value_type = Object)]
    pub data: Value,
}

impl AuditLogEntry {
    fn new(entry: AuditEntry, visibility: Visibility, listed_traits: &[String]) -> AuditLogEntry {
        let mut data = entry.data.0;
        if visibility != Visibility::WithPrivateMetadata {
            strip_private_metadata(&mut data);
        }
        hide_unlisted_traits(&mut data, listed_traits);
        AuditLogEntry {
            id: entry.id,
            kind: entry.kind,
            occurred_at: entry.occurred_at,
            org_id: entry.org_id,
            actor: AuditActor {
                kind: entry.actor_type,
                id: entry.actor_id,
            },
            target: AuditTarget {
                kind: entry.target_type,
                id: entry.target_id,
            },
            request_id: entry.request_id,
            client_ip: entry.client_ip,
            user_agent: entry.user_agent,
            data,
        }
    }
}

/// Removes `private_metadata` at any depth (a membership nests its organization's).
fn strip_private_metadata(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("private_metadata");
            map.values_mut().for_each(strip_private_metadata);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_private_metadata),
        _ => {}
    }
}

/// Each `public_user_data` field and the traits it is drawn from (see the events' payloads).
const PROFILE_FIELDS: [(&str, &[&str]); 4] = [
    ("identifier", &["email"]),
    ("first_name", &["first_name", "name"]),
    ("last_name", &["last_name", "name"]),
    ("image_url", &["picture"]),
];

/// Blanks the fields of one `public_user_data` drawn from traits `POLIS_IDENTITY_TRAITS`
/// does not list.
pub(super) fn blank_unlisted(profile: &mut serde_json::Map<String, Value>, listed: &[String]) {
    for (field, traits) in PROFILE_FIELDS {
        if !traits.iter().any(|t| listed.iter().any(|l| l == t)) {
            profile.insert(field.to_owned(), Value::Null);
            if field == "image_url" {
                profile.insert("has_image".to_owned(), Value::Bool(false));
            }
        }
    }
}

/// Blanks the `public_user_data` fields drawn from traits `POLIS_IDENTITY_TRAITS` does not
/// list: the audit log shows members no more than member lists do.
fn hide_unlisted_traits(value: &mut Value, listed: &[String]) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(profile)) = map.get_mut("public_user_data") {
                blank_unlisted(profile, listed);
            }
            map.values_mut()
                .for_each(|inner| hide_unlisted_traits(inner, listed));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|inner| hide_unlisted_traits(inner, listed)),
        _ => {}
    }
}

impl AuditLogParams {
    fn to_query(&self, org_id: Option<Uuid>) -> ApiResult<AuditQuery> {
        // The same page-size rule as every list; the token is a sequence number here.
        let limit = PageParams {
            page_size: self.page_size,
            page_token: None,
        }
        .to_request()?
        .limit;
        let types = self
            .types
            .iter()
            .flat_map(|list| list.split(','))
            .map(str::trim)
            .filter(|kind| !kind.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(AuditQuery {
            org_id,
            types,
            actor_id: self.actor_id.clone(),
            since: self.since,
            until: self.until,
            before_seq: self
                .page_token
                .as_deref()
                .map(decode_seq_token)
                .transpose()?,
            limit,
        })
    }
}

async fn audit_page(
    state: &AppState,
    caller: &Caller,
    query: AuditQuery,
) -> ApiResult<AppJson<Page<AuditLogEntry>>> {
    let rows = state.store.audit_log(&query).await?;
    let visibility = visibility(caller);
    let listed = &state.settings.identity_traits;
    Ok(AppJson(Page::from_rows_with(
        rows,
        query.limit,
        |row| encode_seq_token(row.seq),
        |row| AuditLogEntry::new(row, visibility, listed),
    )))
}

/// An organization's audit log: every change to it, its members and invitations, newest
/// first. Needs `org:sys_memberships:manage` (or an API key).
#[utoipa::path(
    get, path = "/orgs/{org}/audit-log", tag = "orgs", operation_id = "getOrgAuditLog",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id"), AuditLogParams),
    responses(
        (status = 200, description = "A page of events, newest first", body = Page<AuditLogEntry>),
        problems::MissingPermission,
        problems::OrgNotFound,
        problems::InvalidParameters,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn org_audit_log(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(org): AppPath<String>,
    AppQuery(params): AppQuery<AuditLogParams>,
) -> ApiResult<AppJson<Page<AuditLogEntry>>> {
    let access = org_access(state.store.as_ref(), &caller, &org, Action::ReadAuditLog).await?;
    let query = params.to_query(Some(access.org.id))?;
    audit_page(&state, &caller, query).await
}

/// The instance's audit log: every change, newest first, optionally for one org
/// (deleted ones included). API keys only.
#[utoipa::path(
    get, path = "/admin/audit-log", tag = "admin", operation_id = "getAuditLog",
    params(AuditLogParams, AuditOrgParam),
    responses(
        (status = 200, description = "A page of events, newest first", body = Page<AuditLogEntry>),
        (status = 403, description = "Not an API key", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::InvalidParameters,
    ),
    security(("bearer" = []), ("api_key" = []))
)]
async fn instance_audit_log(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(params): AppQuery<AuditLogParams>,
    AppQuery(scope): AppQuery<AuditOrgParam>,
) -> ApiResult<AppJson<Page<AuditLogEntry>>> {
    authorize(&caller, Action::ReadInstanceAuditLog, None)?;
    let query = params.to_query(scope.org_id)?;
    audit_page(&state, &caller, query).await
}
