//! `/orgs/{org}/invitations`: invite by e-mail, list, read and revoke; and
//! `POST /invitations/accept` for the invitee holding the token.

mod create;
mod email;
mod resend;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::members::{with_identity_after_write, MembershipResponse};
use super::openapi::PROBLEM_CONTENT_TYPE;
use super::problems;
use super::{org_access, AppJson, AppPath, AppQuery, Page, PageParams};
use crate::auth::tokens::sha256_hex;
use crate::domain::invitation::{InvitationStatus, MAX_BULK};
use crate::domain::{authorize, visibility, Action, Caller, Visibility};
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::store::{Change, Invitation, RequestOrigin, Store};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invitations_create, invitations_list))
        .routes(routes!(invitations_create_bulk))
        .routes(routes!(invitations_get))
        .routes(routes!(invitations_revoke))
        .routes(routes!(resend::invitations_resend))
        .routes(routes!(invitations_accept_by_token))
}

/// An invitation to join an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationResponse {
    pub id: Uuid,
    pub org_id: Uuid,
    /// Lower-cased.
    pub email_address: String,
    pub role: String,
    /// `expired` once past `expires_at`, whatever happened before.
    pub status: InvitationStatus,
    #[schema(value_type = Object)]
    pub public_metadata: Value,
    /// Only shown to admin API keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, nullable = false)]
    pub private_metadata: Option<Value>,
    /// The identity that invited, when an identity did.
    #[schema(required = true)]
    pub inviter_id: Option<Uuid>,
    #[schema(required = true)]
    pub redirect_url: Option<String>,
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The language of its e-mails (BCP-47); `null`: English.
    #[schema(required = true)]
    pub locale: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl InvitationResponse {
    pub fn new(invitation: Invitation, visibility: Visibility) -> Self {
        InvitationResponse {
            private_metadata: visibility.private_metadata(invitation.private_metadata),
            id: invitation.id,
            org_id: invitation.org_id,
            email_address: invitation.email_address,
            role: invitation.role,
            status: invitation.status,
            public_metadata: invitation.public_metadata,
            inviter_id: invitation.inviter_id,
            redirect_url: invitation.redirect_url,
            expires_at: invitation.expires_at,
            locale: invitation.locale,
            created_at: invitation.created_at,
            updated_at: invitation.updated_at,
        }
    }
}

/// A new invitation with its acceptance secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInvitationResponse {
    #[serde(flatten)]
    pub invitation: InvitationResponse,
    /// The acceptance token; only its hash is stored. Send it to the invitee.
    pub token: String,
    /// `redirect_url` (else `POLIS_INVITATION_URL`) with `invitation_token=<token>`
    /// added: the link the e-mail carries; `null` when neither is set.
    #[schema(required = true)]
    pub url: Option<String>,
    /// Whether Polis queued an e-mail with `url` to the invitee (sent off the request
    /// path, retried until delivered). `false`: the app sends the invitation itself.
    pub email_sent: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInvitationList {
    pub data: Vec<CreatedInvitationResponse>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    pub email_address: String,
    /// Role key; the configured default role (`org:member`) when absent.
    pub role: Option<String>,
    /// 1–365 days; 30 when absent.
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub public_metadata: Option<Value>,
    /// Admin API keys only. Copied to the membership on acceptance.
    #[schema(value_type = Option<Object>)]
    pub private_metadata: Option<Value>,
    /// Where the invitee should land; the returned `url` is this plus the token. Polis
    /// e-mails it only when its origin (scheme, host, port) is that of
    /// `POLIS_INVITATION_URL` or one of `POLIS_CORS_ALLOWED_ORIGINS`.
    pub redirect_url: Option<String>,
    /// E-mail the invitation (its `url`) from Polis. Default: `true` when Polis has SMTP
    /// configured and a link it may e-mail can be made (`redirect_url` on an allowed
    /// origin, or `POLIS_INVITATION_URL`). `true` without SMTP: 409
    /// `email_not_configured`; without a link, or with a `redirect_url` on another
    /// origin: 422 on `redirect_url`.
    pub send_email: Option<bool>,
    /// The e-mail's language, a BCP-47 tag (`de`, `fr-CA`); English when absent or
    /// when no template has it.
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptByTokenRequest {
    pub token: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListInvitationsParams {
    pub status: Option<InvitationStatus>,
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<u32>,
    pub page_token: Option<String>,
}

/// Invite an e-mail address. Needs `org:sys_memberships:manage`. The response carries
/// the acceptance `token` and `url` once. With SMTP configured Polis e-mails the
/// invitation (`email_sent`) when its link is on an allowed origin; otherwise the app
/// sends it itself. A pending invitation a verified domain made to the same address is
/// revoked in favour of this one.
#[utoipa::path(
    post, path = "/orgs/{org}/invitations", tag = "invitations", operation_id = "createInvitation",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id")),
    request_body = CreateInvitationRequest,
    responses(
        (status = 201, description = "Created", body = CreatedInvitationResponse),
        problems::MissingPermission,
        problems::OrgNotFound,
        (status = 409, description = "Pending invitation exists (`invitation_exists`; a pending invitation a verified domain made is revoked instead), already a member, cap reached, or `send_email` without SMTP (`email_not_configured`)", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "Invalid fields (a `redirect_url` to e-mail must be on an allowed origin) or unknown role", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::KratosUnavailable,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn invitations_create(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<CreateInvitationRequest>,
) -> ApiResult<(StatusCode, AppJson<CreatedInvitationResponse>)> {
    let mut created = create::create(&state, (&caller, &origin), &org, vec![body], false).await?;
    Ok((StatusCode::CREATED, AppJson(created.remove(0))))
}

/// Invite up to 100 addresses at once: all are created or none.
#[utoipa::path(
    post, path = "/orgs/{org}/invitations/bulk", tag = "invitations", operation_id = "createInvitations",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id")),
    request_body = Vec<CreateInvitationRequest>,
    responses(
        (status = 201, description = "All created", body = CreatedInvitationList),
        problems::MissingPermission,
        problems::OrgNotFound,
        (status = 409, description = "One address has a pending invitation (not one a verified domain made: that is revoked instead) or is a member, the cap is reached, or `send_email` without SMTP (`email_not_configured`)", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "Invalid fields (named `[i].field`; a `redirect_url` to e-mail must be on an allowed origin), unknown role or over 100", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::KratosUnavailable,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn invitations_create_bulk(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<Vec<CreateInvitationRequest>>,
) -> ApiResult<(StatusCode, AppJson<CreatedInvitationList>)> {
    if body.is_empty() || body.len() > MAX_BULK {
        return Err(ApiError::field(
            "body",
            format!("must hold 1 to {MAX_BULK} invitations"),
        ));
    }
    let data = create::create(&state, (&caller, &origin), &org, body, true).await?;
    Ok((StatusCode::CREATED, AppJson(CreatedInvitationList { data })))
}

/// List an organization's invitations, optionally by status. Needs
/// `org:sys_memberships:manage` (they reveal e-mail addresses).
#[utoipa::path(
    get, path = "/orgs/{org}/invitations", tag = "invitations", operation_id = "listInvitations",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id"), ListInvitationsParams),
    responses(
        (status = 200, description = "A page of invitations", body = Page<InvitationResponse>),
        problems::MissingPermission,
        problems::OrgNotFound,
        problems::InvalidParameters,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn invitations_list(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(org): AppPath<String>,
    AppQuery(params): AppQuery<ListInvitationsParams>,
) -> ApiResult<AppJson<Page<InvitationResponse>>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ReadInvitations).await?;
    let page = PageParams {
        page_size: params.page_size,
        page_token: params.page_token,
    }
    .to_request()?;
    let rows = store
        .list_invitations(access.org.id, params.status, page, state.clock.now())
        .await?;
    let visibility = visibility(&caller);
    Ok(AppJson(Page::from_rows(
        rows,
        page,
        |i| i.id,
        |i| InvitationResponse::new(i, visibility),
    )))
}

/// Loads an invitation of the org in the path; another org's is not found.
pub(super) async fn org_invitation(state: &AppState, org: Uuid, id: &str) -> ApiResult<Invitation> {
    let id = Uuid::try_parse(id).map_err(|_| ApiError::invitation_not_found())?;
    state
        .store
        .find_invitation(id, state.clock.now())
        .await?
        .filter(|invitation| invitation.org_id == org)
        .ok_or_else(ApiError::invitation_not_found)
}

/// Read one invitation of the organization.
#[utoipa::path(
    get, path = "/orgs/{org}/invitations/{id}", tag = "invitations", operation_id = "getInvitation",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("id" = Uuid, Path, description = "Invitation id")
    ),
    responses(
        (status = 200, description = "The invitation", body = InvitationResponse),
        problems::MissingPermission,
        problems::InvitationNotFound,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn invitations_get(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((org, id)): AppPath<(String, String)>,
) -> ApiResult<AppJson<InvitationResponse>> {
    let access = org_access(state.store.as_ref(), &caller, &org, Action::ReadInvitations).await?;
    let invitation = org_invitation(&state, access.org.id, &id).await?;
    Ok(AppJson(InvitationResponse::new(
        invitation,
        visibility(&caller),
    )))
}

/// Revoke a pending invitation. Needs `org:sys_memberships:manage`.
#[utoipa::path(
    post, path = "/orgs/{org}/invitations/{id}/revoke", tag = "invitations", operation_id = "revokeInvitation",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("id" = Uuid, Path, description = "Invitation id")
    ),
    responses(
        (status = 200, description = "The revoked invitation", body = InvitationResponse),
        problems::MissingPermission,
        problems::InvitationNotFound,
        problems::NotPending,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn invitations_revoke(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, id)): AppPath<(String, String)>,
) -> ApiResult<AppJson<InvitationResponse>> {
    let store: &dyn Store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ManageInvitations).await?;
    let invitation = org_invitation(&state, access.org.id, &id).await?;
    let revoked = store
        .revoke_invitation(
            access.org.id,
            invitation.id,
            Change::new(&caller, state.clock.now()).from_request(&origin),
        )
        .await?;
    tracing::info!(org = %access.org.id, invitation = %revoked.id, "invitation revoked");
    Ok(AppJson(InvitationResponse::new(
        revoked,
        visibility(&caller),
    )))
}

/// Accept an invitation by its token. The caller needs a verified e-mail address
/// equal to the invited one; the membership is created with the invitation's role
/// and metadata.
#[utoipa::path(
    post, path = "/invitations/accept", tag = "invitations", operation_id = "acceptInvitationByToken",
    request_body = AcceptByTokenRequest,
    responses(
        (status = 201, description = "The new membership", body = MembershipResponse),
        (status = 403, description = "No verified address matches the invitation", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 404, description = "No invitation has this token", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 409, description = "Not pending (accepted, revoked, declined or expired), or already a member", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn invitations_accept_by_token(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppJson(body): AppJson<AcceptByTokenRequest>,
) -> ApiResult<(StatusCode, AppJson<MembershipResponse>)> {
    authorize(&caller, Action::OwnAccount, None)?;
    let now = state.clock.now();
    let invitation = state
        .store
        .find_invitation_by_token(&sha256_hex(body.token.trim()), now)
        .await?
        .ok_or_else(ApiError::invitation_not_found)?;
    let membership = accept(&state, &caller, &origin, invitation.id).await?;
    Ok((StatusCode::CREATED, AppJson(membership)))
}

/// Accepts for the calling identity and returns the membership with its profile.
pub async fn accept(
    state: &AppState,
    caller: &Caller,
    origin: &RequestOrigin,
    id: Uuid,
) -> ApiResult<MembershipResponse> {
    let crate::domain::Caller::Identity(identity) = caller else {
        return Err(ApiError::from(crate::domain::Denied::Forbidden));
    };
    super::members::snapshot_before_write(state, identity.id).await;
    let membership = state
        .store
        .accept_invitation(
            id,
            identity.id,
            &identity.verified_emails,
            Change::new(caller, state.clock.now()).from_request(origin),
        )
        .await?;
    tracing::info!(org = %membership.org_id, invitation = %id, "invitation accepted");
    Ok(with_identity_after_write(state, membership, visibility(caller)).await)
}
