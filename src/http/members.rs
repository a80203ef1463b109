//! `/orgs/{org}/members`: list, add, read, change the role of and remove members.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::PROBLEM_CONTENT_TYPE;
use super::problems;
use super::{org_access, AppJson, AppPath, AppQuery, Page, PageParams};
use crate::auth::kratos::KratosIdentity;
use crate::clock::Clock;
use crate::domain::{may_add_directly, visibility, Action, Caller, Visibility};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::state::AppState;
use crate::store::{Change, MemberFilter, Membership, MetadataPatch, RequestOrigin, Store};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(members_list, members_add))
        .routes(routes!(members_get, members_update, members_remove))
        .routes(routes!(members_metadata_update))
}

/// A member's Kratos identity: its id and the configured public traits.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IdentitySummary {
    pub id: Uuid,
    /// The configured public traits (`POLIS_IDENTITY_TRAITS`) the identity has.
    #[schema(value_type = Object)]
    pub traits: Map<String, Value>,
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
    /// The member's Kratos profile; `null` when Kratos no longer has the identity.
    /// Present on member lists and single memberships.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<IdentitySummary>, nullable = true)]
    pub identity: Option<Option<IdentitySummary>>,
}

impl MembershipResponse {
    pub fn new(membership: Membership, visibility: Visibility) -> Self {
        MembershipResponse {
            identity: None,
            private_metadata: visibility.private_metadata(membership.private_metadata),
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
    /// Case-insensitive match on the member's e-mail or name (as last seen in Kratos).
    pub query: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<u32>,
    pub page_token: Option<String>,
}

/// Deep-merges metadata: a `null` value removes a key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetadataRequest {
    #[schema(value_type = Option<Object>)]
    pub public_metadata: Option<Map<String, Value>>,
    /// Admin API keys only.
    #[schema(value_type = Option<Object>)]
    pub private_metadata: Option<Map<String, Value>>,
}

impl MetadataRequest {
    /// The store's patch, after checking who may touch private metadata.
    pub fn into_patch(self, visibility: Visibility) -> ApiResult<MetadataPatch> {
        visibility.may_set_private_metadata(self.private_metadata.is_some())?;
        Ok(MetadataPatch {
            public: self.public_metadata,
            private: self.private_metadata,
        })
    }
}

fn parse_identity(raw: &str) -> ApiResult<Uuid> {
    Uuid::try_parse(raw).map_err(|_| ApiError::field("identity_id", "must be a UUID"))
}

/// A membership just written, with its profile when Kratos can give it: the write has
/// committed, so a Kratos hiccup leaves the profile out rather than failing the call.
pub async fn with_identity_after_write(
    state: &AppState,
    membership: Membership,
    visibility: Visibility,
) -> MembershipResponse {
    match with_identities(state, vec![membership.clone()], visibility).await {
        Ok(mut responses) if !responses.is_empty() => responses.remove(0),
        _ => MembershipResponse::new(membership, visibility),
    }
}

/// Membership responses carrying each member's Kratos profile. Profiles Kratos was
/// just asked about are saved as search snapshots for `?query=`.
pub async fn with_identities(
    state: &AppState,
    memberships: Vec<Membership>,
    visibility: Visibility,
) -> ApiResult<Vec<MembershipResponse>> {
    let ids: Vec<Uuid> = memberships.iter().map(|m| m.identity_id).collect();
    let lookup = state.identities.lookup(&ids).await?;
    let profiles: Vec<_> = lookup
        .fetched
        .iter()
        .map(|i| state.identities.profile(i))
        .collect();
    state
        .store
        .save_identity_profiles(&profiles, state.clock.now())
        .await?;
    Ok(memberships
        .into_iter()
        .map(|membership| {
            let identity = lookup
                .identities
                .get(&membership.identity_id)
                .cloned()
                .flatten()
                .map(|identity| IdentitySummary {
                    id: identity.id,
                    traits: state.identities.public_traits(&identity),
                });
            let mut response = MembershipResponse::new(membership, visibility);
            response.identity = Some(identity);
            response
        })
        .collect())
}

/// List an organization's members, ordered by identity id. Needs `org:sys_memberships:read`.
#[utoipa::path(
    get, path = "/orgs/{org}/members", tag = "members", operation_id = "listMembers",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id"), ListMembersParams),
    responses(
        (status = 200, description = "A page of memberships", body = Page<MembershipResponse>),
        problems::MissingPermission,
        problems::OrgNotFound,
        problems::InvalidParameters,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn members_list(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(org): AppPath<String>,
    AppQuery(params): AppQuery<ListMembersParams>,
) -> ApiResult<AppJson<Page<MembershipResponse>>> {
    let access = org_access(state.store.as_ref(), &caller, &org, Action::ListMembers).await?;
    let page = PageParams {
        page_size: params.page_size,
        page_token: params.page_token,
    }
    .to_request()?;
    let filter = MemberFilter {
        role: params.role,
        query: params.query.filter(|q| !q.trim().is_empty()),
        search_fields: state.identities.search_fields(),
    };
    let rows = state
        .store
        .list_members(access.org.id, &filter, page)
        .await?;
    let page = Page::from_rows(rows, page, |m| m.identity_id, |m| m);
    Ok(AppJson(Page {
        data: with_identities(&state, page.data, visibility(&caller)).await?,
        next_page_token: page.next_page_token,
    }))
}

/// Add a Kratos identity to an organization. Needs `org:sys_memberships:manage`.
#[utoipa::path(
    post, path = "/orgs/{org}/members", tag = "members", operation_id = "addMember",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id")),
    request_body = AddMemberRequest,
    responses(
        (status = 201, description = "Added", body = MembershipResponse),
        problems::MissingPermission,
        problems::OrgNotFound,
        (status = 409, description = "Already a member, or the membership cap is reached", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "Unknown role or identity, or invalid fields", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::KratosUnavailable,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn members_add(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<AddMemberRequest>,
) -> ApiResult<(StatusCode, AppJson<MembershipResponse>)> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::AddMember).await?;
    may_add_directly(&caller, state.settings.direct_add)?;
    // An identity seen in the last minute exists (and has its search snapshot): Kratos
    // is asked only about the others.
    let fresh = match state.identities.known(body.identity_id).await {
        Some(_) => None,
        None => Some(
            state
                .auth
                .identity(body.identity_id)
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::IdentityNotFound,
                        "Kratos has no identity with this id",
                    )
                })?,
        ),
    };
    let role = body
        .role
        .unwrap_or_else(|| state.settings.default_role.clone());
    // The snapshot goes first so that the membership's event carries the profile.
    if let Some(identity) = fresh {
        remember_profile(&state, identity).await;
    }
    let membership = store
        .add_member(
            access.org.id,
            body.identity_id,
            &role,
            Change::new(&caller, state.clock.now()).from_request(&origin),
        )
        .await?;
    tracing::info!(org = %access.org.id, identity = %body.identity_id, role, "member added");
    let added = with_identity_after_write(&state, membership, visibility(&caller)).await;
    Ok((StatusCode::CREATED, AppJson(added)))
}

/// Makes sure Polis holds a profile snapshot of an identity that a write is about to
/// make a member, so that the membership's event carries its name and address. Best
/// effort: when Kratos cannot answer, the write goes on and the event has the id alone.
pub(super) async fn snapshot_before_write(state: &AppState, identity: Uuid) {
    if state.identities.known(identity).await.is_some() {
        return;
    }
    // An unreachable Kratos was logged where the call failed.
    if let Ok(Some(found)) = state.auth.identity(identity).await {
        remember_profile(state, found).await;
    }
}

/// Saves a member's search snapshot and caches its profile. A failed snapshot is only
/// logged: the next listing retries it.
pub(super) async fn remember_profile(state: &AppState, identity: KratosIdentity) {
    let profile = state.identities.profile(&identity);
    if let Err(err) = state
        .store
        .save_identity_profiles(&[profile], state.clock.now())
        .await
    {
        tracing::warn!(error = %err, "could not save the member's profile snapshot");
    }
    state.identities.remember(identity).await;
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
        problems::MissingPermission,
        problems::MemberNotFound,
        (status = 422, description = "Malformed identity id", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn members_get(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((org, identity)): AppPath<(String, String)>,
) -> ApiResult<AppJson<MembershipResponse>> {
    let identity_id = parse_identity(&identity)?;
    let action = Action::ReadMembership { identity_id };
    let access = org_access(state.store.as_ref(), &caller, &org, action).await?;
    // Reading oneself, the most common case, needs no second look-up.
    let own = access.membership.filter(|m| m.identity_id == identity_id);
    let membership = match own {
        Some(membership) => Some(membership),
        None => {
            state
                .store
                .find_membership(access.org.id, identity_id)
                .await?
        }
    }
    .ok_or_else(|| ApiError::new(ErrorCode::MemberNotFound, "no such member"))?;
    let mut found = with_identities(&state, vec![membership], visibility(&caller)).await?;
    Ok(AppJson(found.remove(0)))
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
        problems::MissingPermission,
        problems::MemberNotFound,
        problems::LastAdmin,
        (status = 422, description = "Unknown role or invalid fields", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn members_update(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, identity)): AppPath<(String, String)>,
    AppJson(body): AppJson<UpdateMemberRequest>,
) -> ApiResult<AppJson<MembershipResponse>> {
    let identity_id = parse_identity(&identity)?;
    let access = org_access(store.as_ref(), &caller, &org, Action::ChangeRole).await?;
    let membership = store
        .change_role(
            access.org.id,
            identity_id,
            &body.role,
            Change::new(&caller, clock.now()).from_request(&origin),
        )
        .await?;
    tracing::info!(org = %access.org.id, identity = %identity_id, role = body.role, "role changed");
    Ok(AppJson(MembershipResponse::new(
        membership,
        visibility(&caller),
    )))
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
        problems::MissingPermission,
        problems::MemberNotFound,
        problems::LastAdmin,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn members_remove(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, identity)): AppPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let identity_id = parse_identity(&identity)?;
    let action = Action::RemoveMember { identity_id };
    let access = org_access(store.as_ref(), &caller, &org, action).await?;
    store
        .remove_member(
            access.org.id,
            identity_id,
            Change::new(&caller, clock.now()).from_request(&origin),
        )
        .await?;
    tracing::info!(org = %access.org.id, identity = %identity_id, "member removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Deep-merge a member's metadata; `null` removes a key, each field at most 8 KB
/// after merging. Needs `org:sys_memberships:manage`; private metadata admin keys only.
#[utoipa::path(
    patch, path = "/orgs/{org}/members/{identity_id}/metadata", tag = "members",
    operation_id = "updateMemberMetadata",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("identity_id" = Uuid, Path, description = "The member's Kratos identity id")
    ),
    request_body = MetadataRequest,
    responses(
        (status = 200, description = "The updated membership", body = MembershipResponse),
        problems::MissingPermission,
        problems::MemberNotFound,
        problems::InvalidMetadata,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn members_metadata_update(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, identity)): AppPath<(String, String)>,
    AppJson(body): AppJson<MetadataRequest>,
) -> ApiResult<AppJson<MembershipResponse>> {
    let identity_id = parse_identity(&identity)?;
    let access = org_access(store.as_ref(), &caller, &org, Action::ChangeRole).await?;
    let visibility = visibility(&caller);
    let patch = body.into_patch(visibility)?;
    let membership = store
        .merge_member_metadata(
            access.org.id,
            identity_id,
            patch,
            Change::new(&caller, clock.now()).from_request(&origin),
        )
        .await?;
    Ok(AppJson(MembershipResponse::new(membership, visibility)))
}
