//! `POST /orgs/{org}/invitations/{id}/resend`: e-mail a pending invitation again.

use axum::extract::State;

use super::create::acceptance_url;
use super::email::{link_base, may_email, Letterhead, FOREIGN_LINK};
use super::{org_invitation, CreatedInvitationResponse, InvitationResponse};
use crate::auth::tokens::{random_token, sha256_hex};
use crate::domain::invitation::InvitationStatus;
use crate::domain::{visibility, Action, Caller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::openapi::PROBLEM_CONTENT_TYPE;
use crate::http::{org_access, problems, AppJson, AppPath};
use crate::state::AppState;
use crate::store::{Change, RequestOrigin};

/// E-mail a pending invitation again, with a new link: the token is replaced, so the
/// link of every earlier e-mail (and the earlier `token`) stops working, and e-mails
/// not yet sent are withdrawn. At most once a minute per invitation. Needs what
/// creating it needs (`org:sys_memberships:manage`, and the right to grant its role).
#[utoipa::path(
    post, path = "/orgs/{org}/invitations/{id}/resend", tag = "invitations", operation_id = "resendInvitation",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("id" = Uuid, Path, description = "Invitation id")
    ),
    responses(
        (status = 200, description = "The invitation with its new token and link, e-mailed", body = CreatedInvitationResponse),
        problems::MissingPermission,
        problems::InvitationNotFound,
        (status = 409, description = "Not pending (`invitation_not_pending`), or Polis has no SMTP configured (`email_not_configured`)", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "Neither the invitation's `redirect_url` nor `POLIS_INVITATION_URL` gives a link, or its `redirect_url` is not on an allowed origin (`POLIS_INVITATION_URL`'s or one of `POLIS_CORS_ALLOWED_ORIGINS`)", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 429, description = "E-mailed less than a minute ago (`resend_too_soon`); see `Retry-After`", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
pub(super) async fn invitations_resend(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, id)): AppPath<(String, String)>,
) -> ApiResult<AppJson<CreatedInvitationResponse>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ManageInvitations).await?;
    let invitation = org_invitation(&state, access.org.id, &id).await?;
    if invitation.status != InvitationStatus::Pending {
        return Err(crate::store::StoreError::InvitationNotPending(invitation.status).into());
    }
    crate::http::require_email(&state)?;
    let link = link_base(&state, invitation.redirect_url.as_deref()).ok_or_else(|| {
        ApiError::field(
            "redirect_url",
            "the invitation has none and POLIS_INVITATION_URL is not set: its e-mail would have no link",
        )
    })?;
    if !may_email(&state, &link) {
        return Err(ApiError::field("redirect_url", FOREIGN_LINK));
    }
    let token = random_token();
    let url = acceptance_url(Some(&link), &token)
        .ok_or_else(|| ApiError::field("redirect_url", "is not a URL"))?;
    let roles = [invitation.role.clone()];
    let letterhead = Letterhead::new(&state, &caller, &access.org.name, &roles).await?;
    let email = letterhead.email(
        &invitation.email_address,
        invitation.locale.clone(),
        &invitation.role,
        url.clone(),
        invitation.expires_at,
    );
    let resent = store
        .resend_invitation(
            access.org.id,
            invitation.id,
            &sha256_hex(&token),
            email,
            Change::new(&caller, state.clock.now()).from_request(&origin),
        )
        .await?;
    tracing::info!(org = %access.org.id, invitation = %resent.id, "invitation e-mailed again");
    Ok(AppJson(CreatedInvitationResponse {
        invitation: InvitationResponse::new(resent, visibility(&caller)),
        token,
        url: Some(url),
        email_sent: true,
    }))
}
