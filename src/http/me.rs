//! `/me`: the calling identity's own memberships.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::invitations::{accept, InvitationResponse};
use super::members::MembershipResponse;
use super::openapi::PROBLEM_CONTENT_TYPE;
use super::problems;
use super::suggestions::seen;
use super::{AppJson, AppPath, AppQuery, Page, PageParams};
use crate::domain::{authorize, visibility, Action, Caller, Denied};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::state::AppState;
use crate::store::{Change, OrgSummary, RequestOrigin, StoreError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me_memberships_list))
        .routes(routes!(me_invitations_list))
        .routes(routes!(me_invitations_accept))
        .routes(routes!(me_invitations_decline))
}

/// A pending invitation addressed to the caller, with the organization it is for.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyInvitationResponse {
    pub org: OrgSummaryResponse,
    #[serde(flatten)]
    pub invitation: InvitationResponse,
}

fn summary(org: OrgSummary) -> OrgSummaryResponse {
    OrgSummaryResponse {
        id: org.id,
        name: org.name,
        slug: org.slug,
        image_url: org.image_url,
    }
}

/// The caller's verified e-mail addresses; API keys have none and are refused.
fn verified_emails(caller: &Caller) -> ApiResult<&[String]> {
    authorize(caller, Action::OwnAccount, None)?;
    match caller {
        Caller::Identity(identity) => Ok(&identity.verified_emails),
        Caller::ApiKey(_) => Err(Denied::Forbidden.into()),
    }
}

/// An invitation id from the path; malformed ones are simply not found.
fn invitation_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::try_parse(raw).map_err(|_| ApiError::invitation_not_found())
}

/// Pending invitations addressed to any verified e-mail address of the caller.
#[utoipa::path(
    get, path = "/me/invitations", tag = "me", operation_id = "listMyInvitations",
    params(PageParams),
    responses(
        (status = 200, description = "A page of pending invitations", body = Page<MyInvitationResponse>),
        (status = 403, description = "API keys have no invitations", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::InvalidParameters,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn me_invitations_list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(params): AppQuery<PageParams>,
) -> ApiResult<AppJson<Page<MyInvitationResponse>>> {
    let emails = verified_emails(&caller)?;
    let visibility = visibility(&caller);
    let page = params.to_request()?;
    seen(&state, &caller).await;
    let rows = state
        .store
        .list_invitations_for(emails, page, state.clock.now())
        .await?;
    Ok(AppJson(Page::from_rows(
        rows,
        page,
        |(i, _)| i.id,
        |(invitation, org)| MyInvitationResponse {
            org: summary(org),
            invitation: InvitationResponse::new(invitation, visibility),
        },
    )))
}

/// Accept an invitation addressed to one of the caller's verified addresses.
#[utoipa::path(
    post, path = "/me/invitations/{id}/accept", tag = "me", operation_id = "acceptMyInvitation",
    params(("id" = Uuid, Path, description = "Invitation id")),
    responses(
        (status = 201, description = "The new membership", body = MembershipResponse),
        (status = 403, description = "API keys cannot accept", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::MyInvitationNotFound,
        (status = 409, description = "Not pending, or already a member", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn me_invitations_accept(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(id): AppPath<String>,
) -> ApiResult<(StatusCode, AppJson<MembershipResponse>)> {
    verified_emails(&caller)?;
    let id = invitation_id(&id)?;
    seen(&state, &caller).await;
    match accept(&state, &caller, &origin, id).await {
        Ok(membership) => Ok((StatusCode::CREATED, AppJson(membership))),
        // Someone else's invitation is not the caller's to know about.
        Err(err) if err.code() == ErrorCode::InvitationEmailMismatch => {
            Err(ApiError::invitation_not_found())
        }
        Err(err) => Err(err),
    }
}

/// Decline an invitation addressed to one of the caller's verified addresses.
#[utoipa::path(
    post, path = "/me/invitations/{id}/decline", tag = "me", operation_id = "declineMyInvitation",
    params(("id" = Uuid, Path, description = "Invitation id")),
    responses(
        (status = 200, description = "The declined invitation", body = InvitationResponse),
        (status = 403, description = "API keys cannot decline", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::MyInvitationNotFound,
        problems::NotPending,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn me_invitations_decline(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(id): AppPath<String>,
) -> ApiResult<AppJson<InvitationResponse>> {
    let emails = verified_emails(&caller)?;
    let id = invitation_id(&id)?;
    seen(&state, &caller).await;
    match state
        .store
        .decline_invitation(
            id,
            emails,
            Change::new(&caller, state.clock.now()).from_request(&origin),
        )
        .await
    {
        Ok(invitation) => Ok(AppJson(InvitationResponse::new(
            invitation,
            visibility(&caller),
        ))),
        Err(StoreError::AddressNotVerified) => Err(ApiError::invitation_not_found()),
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgSummaryResponse {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[schema(required = true)]
    pub image_url: Option<String>,
}

/// A membership of the caller, with the organization it is in.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyMembershipResponse {
    pub org: OrgSummaryResponse,
    #[serde(flatten)]
    pub membership: MembershipResponse,
}

/// The caller's memberships, ordered by organization id. Identities only.
#[utoipa::path(
    get, path = "/me/memberships", tag = "me", operation_id = "listMyMemberships",
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's memberships", body = Page<MyMembershipResponse>),
        (status = 403, description = "API keys have no memberships", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::InvalidParameters,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn me_memberships_list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(params): AppQuery<PageParams>,
) -> ApiResult<AppJson<Page<MyMembershipResponse>>> {
    authorize(&caller, Action::OwnAccount, None)?;
    let identity = caller.identity_id().unwrap_or_default();
    let visibility = visibility(&caller);
    let page = params.to_request()?;
    seen(&state, &caller).await;
    let rows = state.store.list_memberships_of(identity, page).await?;
    Ok(AppJson(Page::from_rows(
        rows,
        page,
        |(m, _)| m.org_id,
        |(membership, org): (_, OrgSummary)| MyMembershipResponse {
            org: summary(org),
            membership: MembershipResponse::new(membership, visibility),
        },
    )))
}
