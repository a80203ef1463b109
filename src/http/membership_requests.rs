//! `/orgs/{org}/membership-requests`: requests to join made from domain suggestions,
//! listed, accepted (the membership is created with the default role) or rejected by
//! members holding `org:sys_memberships:manage`.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::audit_log::blank_unlisted;
use super::openapi::PROBLEM_CONTENT_TYPE;
use super::problems;
use super::{org_access, AppJson, AppPath, AppQuery, Page, PageParams};
use crate::domain::enrollment::RequestStatus;
use crate::domain::{Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::state::AppState;
use crate::store::{public_user_data, Change, MembershipRequest, RequestOrigin};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(requests_list))
        .routes(routes!(requests_accept))
        .routes(routes!(requests_reject))
}

/// What an org's managers see of a requester: the traits `POLIS_IDENTITY_TRAITS` lists,
/// as Polis last saw them (`null` fields otherwise).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PublicUserData {
    pub user_id: Uuid,
    #[schema(required = true)]
    pub first_name: Option<String>,
    #[schema(required = true)]
    pub last_name: Option<String>,
    #[schema(required = true)]
    pub image_url: Option<String>,
    pub has_image: bool,
    /// The e-mail address.
    #[schema(required = true)]
    pub identifier: Option<String>,
}

/// A request to join an organization (Clerk's `organization_membership_request`).
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipRequestResponse {
    /// `organization_membership_request`.
    pub object: String,
    pub id: Uuid,
    pub organization_id: Uuid,
    pub status: RequestStatus,
    pub public_user_data: PublicUserData,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MembershipRequestResponse {
    /// The response, showing only the `listed` traits of the requester.
    pub fn new(request: MembershipRequest, listed: &[String]) -> Self {
        let mut data = public_user_data(request.identity_id, &request.traits);
        if let Value::Object(profile) = &mut data {
            blank_unlisted(profile, listed);
        }
        let public_user_data = serde_json::from_value(data).unwrap_or(PublicUserData {
            user_id: request.identity_id,
            ..PublicUserData::default()
        });
        MembershipRequestResponse {
            object: "organization_membership_request".to_owned(),
            id: request.id,
            organization_id: request.org_id,
            status: request.status,
            public_user_data,
            created_at: request.created_at,
            updated_at: request.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRequestsParams {
    /// Only requests in this status; every status when absent.
    pub status: Option<RequestStatus>,
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<u32>,
    pub page_token: Option<String>,
}

fn request_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::try_parse(raw).map_err(|_| {
        ApiError::new(
            ErrorCode::MembershipRequestNotFound,
            "no such membership request",
        )
    })
}

/// List an organization's requests to join, ordered by id. Needs
/// `org:sys_memberships:manage`.
#[utoipa::path(
    get, path = "/orgs/{org}/membership-requests", tag = "members", operation_id = "listMembershipRequests",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id"), ListRequestsParams),
    responses(
        (status = 200, description = "A page of requests", body = Page<MembershipRequestResponse>),
        problems::MissingPermission,
        problems::OrgNotFound,
        problems::InvalidParameters,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn requests_list(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(org): AppPath<String>,
    AppQuery(params): AppQuery<ListRequestsParams>,
) -> ApiResult<AppJson<Page<MembershipRequestResponse>>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ReadMembershipRequests).await?;
    let page = PageParams {
        page_size: params.page_size,
        page_token: params.page_token,
    }
    .to_request()?;
    let rows = store
        .list_membership_requests(access.org.id, params.status, page)
        .await?;
    let listed = &state.settings.identity_traits;
    Ok(AppJson(Page::from_rows(
        rows,
        page,
        |r| r.id,
        |r| MembershipRequestResponse::new(r, listed),
    )))
}

/// Accept a pending request: the requester becomes a member with the default role
/// (`POLIS_DEFAULT_ROLE`), counting toward `max_allowed_memberships`. Needs
/// `org:sys_memberships:manage`. Of two concurrent accepts one succeeds; the other gets
/// 409 `membership_request_not_pending`.
#[utoipa::path(
    post, path = "/orgs/{org}/membership-requests/{id}/accept", tag = "members",
    operation_id = "acceptMembershipRequest",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("id" = Uuid, Path, description = "Membership request id")
    ),
    responses(
        (status = 200, description = "The accepted request", body = MembershipRequestResponse),
        problems::MissingPermission,
        problems::RequestNotFound,
        (status = 409, description = "Not pending, already a member, or the membership cap is reached", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn requests_accept(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, id)): AppPath<(String, String)>,
) -> ApiResult<AppJson<MembershipRequestResponse>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ManageMembershipRequests).await?;
    let id = request_id(&id)?;
    let change = Change::new(&caller, state.clock.now()).from_request(&origin);
    let (accepted, _) = store
        .accept_membership_request(access.org.id, id, &state.settings.default_role, change)
        .await?;
    tracing::info!(org = %access.org.id, request = %id, "membership request accepted");
    let listed = &state.settings.identity_traits;
    Ok(AppJson(MembershipRequestResponse::new(accepted, listed)))
}

/// Reject a pending request. Needs `org:sys_memberships:manage`. The requester is not
/// suggested the organization again.
#[utoipa::path(
    post, path = "/orgs/{org}/membership-requests/{id}/reject", tag = "members",
    operation_id = "rejectMembershipRequest",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("id" = Uuid, Path, description = "Membership request id")
    ),
    responses(
        (status = 200, description = "The rejected request", body = MembershipRequestResponse),
        problems::MissingPermission,
        problems::RequestNotFound,
        problems::NotPending,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn requests_reject(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, id)): AppPath<(String, String)>,
) -> ApiResult<AppJson<MembershipRequestResponse>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ManageMembershipRequests).await?;
    let id = request_id(&id)?;
    let change = Change::new(&caller, state.clock.now()).from_request(&origin);
    let rejected = store
        .reject_membership_request(access.org.id, id, change)
        .await?;
    tracing::info!(org = %access.org.id, request = %id, "membership request rejected");
    let listed = &state.settings.identity_traits;
    Ok(AppJson(MembershipRequestResponse::new(rejected, listed)))
}
