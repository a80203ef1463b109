//! `/me/active-org`: the org the caller works in, kept per Kratos session (so two browsers
//! may have different ones) and cleared when the membership ends or the org is deleted.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::me::OrgSummaryResponse;
use super::openapi::PROBLEM_CONTENT_TYPE;
use super::{org_access, AppJson};
use crate::domain::{authorize, Action, Caller, Denied};
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use crate::store::{OrgSummary, SessionKey};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(active_org_get, active_org_set, active_org_clear))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetActiveOrgRequest {
    /// The org's UUID, slug or Clerk id (`org_…`); the caller must be a member.
    pub org: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveOrgResponse {
    /// The active org; `null` when there is none.
    #[schema(required = true)]
    pub org: Option<OrgSummaryResponse>,
}

/// The caller's Kratos session, which the active org belongs to.
fn session_of(caller: &Caller) -> ApiResult<SessionKey> {
    authorize(caller, Action::ActiveOrg, None)?;
    let Caller::Identity(identity) = caller else {
        return Err(Denied::Forbidden.into());
    };
    let session = identity.session().ok_or(Denied::Forbidden)?;
    Ok(SessionKey {
        session_id: session.id,
        identity_id: identity.id,
        expires_at: session.expires_at,
    })
}

fn response(org: Option<OrgSummary>) -> AppJson<ActiveOrgResponse> {
    AppJson(ActiveOrgResponse {
        org: org.map(|org| OrgSummaryResponse {
            id: org.id,
            name: org.name,
            slug: org.slug,
            image_url: org.image_url,
        }),
    })
}

/// The active org of the caller's Kratos session.
#[utoipa::path(
    get, path = "/me/active-org", tag = "me", operation_id = "getActiveOrg",
    responses(
        (status = 200, description = "The active org, or `null`", body = ActiveOrgResponse),
        (status = 403, description = "API keys and OAuth2 access tokens have no Kratos session", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn active_org_get(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AppJson<ActiveOrgResponse>> {
    let session = session_of(&caller)?;
    super::suggestions::seen(&state, &caller).await;
    let org = state
        .store
        .find_active_org(session, state.clock.now())
        .await?;
    Ok(response(org))
}

/// Make an org the caller belongs to the active org of its Kratos session.
#[utoipa::path(
    put, path = "/me/active-org", tag = "me", operation_id = "setActiveOrg",
    request_body = SetActiveOrgRequest,
    responses(
        (status = 200, description = "The active org", body = ActiveOrgResponse),
        (status = 403, description = "API keys and OAuth2 access tokens have no Kratos session", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 404, description = "No such organization, or the caller is not a member", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn active_org_set(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(request): AppJson<SetActiveOrgRequest>,
) -> ApiResult<AppJson<ActiveOrgResponse>> {
    let session = session_of(&caller)?;
    super::suggestions::seen(&state, &caller).await;
    let access = org_access(state.store.as_ref(), &caller, &request.org, Action::ReadOrg).await?;
    let org = access.org;
    state
        .store
        .set_active_org(session, org.id, state.clock.now())
        .await?;
    Ok(response(Some(OrgSummary {
        id: org.id,
        name: org.name,
        slug: org.slug,
        image_url: org.image_url,
    })))
}

/// Clear the active org of the caller's Kratos session (the personal account).
#[utoipa::path(
    delete, path = "/me/active-org", tag = "me", operation_id = "clearActiveOrg",
    responses(
        (status = 204, description = "No active org"),
        (status = 403, description = "API keys and OAuth2 access tokens have no Kratos session", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn active_org_clear(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    let session = session_of(&caller)?;
    super::suggestions::seen(&state, &caller).await;
    state.store.clear_active_org(session).await?;
    Ok(StatusCode::NO_CONTENT)
}
