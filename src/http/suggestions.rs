//! Joining by verified domain, the identity's side: enrollment when it is seen
//! ([`seen`]), `GET /me/suggestions`, `POST /me/suggestions/{id}/accept` and
//! `GET /me/membership-requests`.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::members::snapshot_before_write;
use super::membership_requests::MembershipRequestResponse;
use super::openapi::PROBLEM_CONTENT_TYPE;
use super::problems;
use super::{AppJson, AppPath, AppQuery, Page, PageParams};
use crate::domain::caller::IdentityCredential;
use crate::domain::enrollment::SuggestionStatus;
use crate::domain::{authorize, Action, Caller, Denied};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::state::AppState;
use crate::store::{Change, OrgSummary, RequestOrigin, Suggestion};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me_suggestions_list))
        .routes(routes!(me_suggestions_accept))
        .routes(routes!(me_membership_requests_list))
}

/// Enrolls the calling identity by verified domain when its verified addresses, or the
/// automatic domains at them, changed since it was last seen here (see
/// `crate::enrollment`); in the common case this touches no database. A failure is
/// logged and the request goes on: the next call tries again. Only a Kratos session
/// says which addresses are verified: a call with an access token (which carries none)
/// must not be taken for an identity that lost them all.
pub async fn seen(state: &AppState, caller: &Caller) {
    let Caller::Identity(identity) = caller else {
        return;
    };
    if !matches!(identity.credential, IdentityCredential::Session(_)) {
        return;
    }
    let outcome = state
        .enrollment
        .observe(
            state.store.as_ref(),
            identity.id,
            &identity.verified_emails,
            state.clock.now(),
        )
        .await;
    match outcome {
        Ok(enrolled) if enrolled.invitations + enrolled.suggestions > 0 => tracing::info!(
            invitations = enrolled.invitations,
            suggestions = enrolled.suggestions,
            "enrolled by verified domain"
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "enrollment by verified domain failed"),
    }
}

/// An organization's public fields: never its metadata or members.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicOrganizationData {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[schema(required = true)]
    pub image_url: Option<String>,
    pub has_image: bool,
}

impl From<OrgSummary> for PublicOrganizationData {
    fn from(org: OrgSummary) -> Self {
        PublicOrganizationData {
            has_image: org.image_url.is_some(),
            id: org.id,
            name: org.name,
            slug: org.slug,
            image_url: org.image_url,
        }
    }
}

/// An organization suggested to the caller by a verified domain in
/// `automatic_suggestion` mode (Clerk's `organization_suggestion`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionResponse {
    /// `organization_suggestion`.
    pub object: String,
    pub id: Uuid,
    /// `pending`, or `accepted` once the caller asked to join.
    pub status: SuggestionStatus,
    pub public_organization_data: PublicOrganizationData,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Suggestion> for SuggestionResponse {
    fn from(suggestion: Suggestion) -> Self {
        SuggestionResponse {
            object: "organization_suggestion".to_owned(),
            id: suggestion.id,
            status: suggestion.status,
            public_organization_data: suggestion.org.into(),
            created_at: suggestion.created_at,
            updated_at: suggestion.updated_at,
        }
    }
}

/// One of the caller's requests to join, with the organization it is for.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyMembershipRequestResponse {
    #[serde(flatten)]
    pub request: MembershipRequestResponse,
    pub public_organization_data: PublicOrganizationData,
}

/// The calling identity; API keys have no suggestions or requests.
fn identity_of(caller: &Caller) -> ApiResult<Uuid> {
    authorize(caller, Action::OwnAccount, None)?;
    caller.identity_id().ok_or_else(|| Denied::Forbidden.into())
}

/// Organizations suggested to the caller because one of its verified e-mail addresses is
/// at a domain the organization verified in `automatic_suggestion` mode. A suggestion
/// disappears when the domain leaves that mode, is unverified or deleted, and once the
/// caller is a member.
#[utoipa::path(
    get, path = "/me/suggestions", tag = "me", operation_id = "listMySuggestions",
    params(PageParams),
    responses(
        (status = 200, description = "A page of suggestions", body = Page<SuggestionResponse>),
        (status = 403, description = "API keys have no suggestions", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::InvalidParameters,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn me_suggestions_list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(params): AppQuery<PageParams>,
) -> ApiResult<AppJson<Page<SuggestionResponse>>> {
    let identity = identity_of(&caller)?;
    let page = params.to_request()?;
    seen(&state, &caller).await;
    let rows = state.store.list_suggestions(identity, page).await?;
    Ok(AppJson(Page::from_rows(
        rows,
        page,
        |s| s.id,
        SuggestionResponse::from,
    )))
}

/// Ask to join a suggested organization: a pending membership request is made, for its
/// managers to accept or reject. Accepting an accepted suggestion again changes nothing.
#[utoipa::path(
    post, path = "/me/suggestions/{id}/accept", tag = "me", operation_id = "acceptMySuggestion",
    params(("id" = Uuid, Path, description = "Suggestion id")),
    responses(
        (status = 200, description = "The accepted suggestion", body = SuggestionResponse),
        (status = 403, description = "API keys cannot accept", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::SuggestionNotFound,
        (status = 409, description = "Already a member", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn me_suggestions_accept(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(id): AppPath<String>,
) -> ApiResult<AppJson<SuggestionResponse>> {
    let identity = identity_of(&caller)?;
    let id = Uuid::try_parse(&id)
        .map_err(|_| ApiError::new(ErrorCode::SuggestionNotFound, "no such suggestion"))?;
    seen(&state, &caller).await;
    // The request's event and the managers' list show the requester's profile.
    snapshot_before_write(&state, identity).await;
    let change = Change::new(&caller, state.clock.now()).from_request(&origin);
    let accepted = state.store.accept_suggestion(identity, id, change).await?;
    tracing::info!(org = %accepted.org.id, suggestion = %id, "suggestion accepted");
    Ok(AppJson(accepted.into()))
}

/// The caller's requests to join organizations, in every status.
#[utoipa::path(
    get, path = "/me/membership-requests", tag = "me", operation_id = "listMyMembershipRequests",
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's requests", body = Page<MyMembershipRequestResponse>),
        (status = 403, description = "API keys have no requests", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::InvalidParameters,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn me_membership_requests_list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(params): AppQuery<PageParams>,
) -> ApiResult<AppJson<Page<MyMembershipRequestResponse>>> {
    let identity = identity_of(&caller)?;
    let page = params.to_request()?;
    seen(&state, &caller).await;
    let rows = state
        .store
        .list_membership_requests_of(identity, page)
        .await?;
    let listed = &state.settings.identity_traits;
    Ok(AppJson(Page::from_rows(
        rows,
        page,
        |(r, _)| r.id,
        |(request, org)| MyMembershipRequestResponse {
            request: MembershipRequestResponse::new(request, listed),
            public_organization_data: org.into(),
        },
    )))
}
