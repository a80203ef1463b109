//! `/orgs/{org}/members`: list, add, read, change the role of and remove members.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{org_access, AppJson, AppPath, AppQuery, Page, PageParams};
use crate::auth::Authenticator;
use crate::config::Settings;
use crate::domain::{Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::state::AppState;
use crate::store::{Membership, Store};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(members_list, members_add))
        .routes(routes!(members_get, members_update, members_remove))
}

/// One identity's membership of one organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipResponse {
    pub org_id: Uuid,
    pub identity_id: Uuid,
    /// Role key, e.g. `org:admin`.
    pub role: String,
    /// Every permission the role grants, system ones included.
    pub permissions: Vec<String>,
    #[schema(value_type = Object)]
    pub public_metadata: Value,
    /// Only shown to admin API keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, nullable = false)]
    pub private_metadata: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MembershipResponse {
    pub fn new(membership: Membership, caller: &Caller) -> Self {
        MembershipResponse {
            private_metadata: caller.is_admin_key().then_some(membership.private_metadata),
            org_id: membership.org_id,
            identity_id: membership.identity_id,
            role: membership.role,
            permissions: membership.permissions,
            public_metadata: membership.public_metadata,
            created_at: membership.created_at,
            updated_at: membership.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// A Kratos identity id; the identity must exist in Kratos.
    pub identity_id: Uuid,
    /// Role key; the configured default role (`org:member`) when absent.
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMembersParams {
    /// Only members with this role key.
    pub role: Option<String>,
    pub page_size: Option<u32>,
    pub page_token: Option<String>,
}

fn parse_identity(raw: &str) -> ApiResult<Uuid> {
    Uuid::try_parse(raw).map_err(|_| ApiError::field("identity_id", "must be a UUID"))
}

/// List an organization's members, ordered by identity id. Needs `org:sys_memberships:read`.
#[utoipa::path(
    get, path = "/orgs/{org}/members", tag = "members", operation_id = "listMembers",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id"), ListMembersParams),
    responses(
        (status = 200, description = "A page of memberships", body = Page<MembershipResponse>),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn members_list(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppPath(org): AppPath<String>,
    AppQuery(params): AppQuery<ListMembersParams>,
) -> ApiResult<AppJson<Page<MembershipResponse>>> {
    let access = org_access(store.as_ref(), &caller, &org, Action::ListMembers).await?;
    let page = PageParams {
        page_size: params.page_size,
        page_token: params.page_token,
    }
    .to_request()?;
    let rows = store
        .list_members(access.org.id, params.role.as_deref(), page)
        .await?;
    Ok(AppJson(Page::from_rows(
        rows,
        page,
        |m| m.identity_id,
        |m| MembershipResponse::new(m, &caller),
    )))
}

/// Add a Kratos identity to an organization. Needs `org:sys_memberships:manage`.
#[utoipa::path(
    post, path = "/orgs/{org}/members", tag = "members", operation_id = "addMember",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id")),
    request_body = AddMemberRequest,
    responses(
        (status = 201, description = "Added", body = MembershipResponse),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member, or the membership cap is reached", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown role or identity, or invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Kratos unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn members_add(
    State(store): State<Arc<dyn Store>>,
    State(auth): State<Arc<Authenticator>>,
    State(settings): State<Arc<Settings>>,
    caller: Caller,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<AddMemberRequest>,
) -> ApiResult<(StatusCode, AppJson<MembershipResponse>)> {
    let access = org_access(store.as_ref(), &caller, &org, Action::AddMember).await?;
    if !auth.identity_exists(body.identity_id).await? {
        return Err(ApiError::new(
            ErrorCode::IdentityNotFound,
            "Kratos has no identity with this id",
        ));
    }
    let role = body.role.unwrap_or_else(|| settings.default_role.clone());
    let membership = store
        .add_member(access.org.id, body.identity_id, &role)
        .await?;
    tracing::info!(org = %access.org.id, identity = %body.identity_id, role, "member added");
    Ok((
        StatusCode::CREATED,
        AppJson(MembershipResponse::new(membership, &caller)),
    ))
}

/// Read one membership. Members may read their own; others need `org:sys_memberships:read`.
#[utoipa::path(
    get, path = "/orgs/{org}/members/{identity_id}", tag = "members", operation_id = "getMember",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("identity_id" = Uuid, Path, description = "The member's Kratos identity id")
    ),
    responses(
        (status = 200, description = "The membership", body = MembershipResponse),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization or member", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed identity id", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn members_get(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppPath((org, identity)): AppPath<(String, String)>,
) -> ApiResult<AppJson<MembershipResponse>> {
    let identity_id = parse_identity(&identity)?;
    let action = Action::ReadMembership { identity_id };
    let access = org_access(store.as_ref(), &caller, &org, action).await?;
    let membership = store
        .find_membership(access.org.id, identity_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::MemberNotFound, "no such member"))?;
    Ok(AppJson(MembershipResponse::new(membership, &caller)))
}

/// Change a member's role. Needs `org:sys_memberships:manage`; refused with
/// `last_admin` when no other member could manage members afterwards.
#[utoipa::path(
    patch, path = "/orgs/{org}/members/{identity_id}", tag = "members", operation_id = "updateMember",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("identity_id" = Uuid, Path, description = "The member's Kratos identity id")
    ),
    request_body = UpdateMemberRequest,
    responses(
        (status = 200, description = "The updated membership", body = MembershipResponse),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization or member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave no admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown role or invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn members_update(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppPath((org, identity)): AppPath<(String, String)>,
    AppJson(body): AppJson<UpdateMemberRequest>,
) -> ApiResult<AppJson<MembershipResponse>> {
    let identity_id = parse_identity(&identity)?;
    let access = org_access(store.as_ref(), &caller, &org, Action::ChangeRole).await?;
    let membership = store
        .change_role(access.org.id, identity_id, &body.role)
        .await?;
    tracing::info!(org = %access.org.id, identity = %identity_id, role = body.role, "role changed");
    Ok(AppJson(MembershipResponse::new(membership, &caller)))
}

/// Remove a member, or leave. Removing others needs `org:sys_memberships:manage`;
/// refused with `last_admin` when no member could manage members afterwards.
#[utoipa::path(
    delete, path = "/orgs/{org}/members/{identity_id}", tag = "members", operation_id = "removeMember",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("identity_id" = Uuid, Path, description = "The member's Kratos identity id")
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization or member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave no admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn members_remove(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppPath((org, identity)): AppPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let identity_id = parse_identity(&identity)?;
    let action = Action::RemoveMember { identity_id };
    let access = org_access(store.as_ref(), &caller, &org, action).await?;
    store.remove_member(access.org.id, identity_id).await?;
    tracing::info!(org = %access.org.id, identity = %identity_id, "member removed");
    Ok(StatusCode::NO_CONTENT)
}
