//! `/orgs/{org}/invitations`: invite by e-mail, list, read and revoke; and
//! `POST /invitations/accept` for the invitee holding the token.

use std::collections::HashSet;

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
use crate::auth::tokens::{random_token, sha256_hex};
use crate::domain::invitation::{self, InvitationStatus, MAX_BULK};
use crate::domain::validation::{validate_http_url, validate_metadata, FieldErrors};
use crate::domain::{authorize, visibility, Action, Caller, Visibility};
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::store::{Invitation, NewInvitation, Store};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invitations_create, invitations_list))
        .routes(routes!(invitations_create_bulk))
        .routes(routes!(invitations_get))
        .routes(routes!(invitations_revoke))
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
    /// `redirect_url` with `invitation_token=<token>` added, ready for the e-mail;
    /// `null` without a `redirect_url`.
    #[schema(required = true)]
    pub url: Option<String>,
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
    /// Where the invitee should land; the returned `url` is this plus the token.
    pub redirect_url: Option<String>,
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

/// A checked request, ready for the store, and its token.
struct Prepared {
    invitation: NewInvitation,
    token: String,
}

/// Checks one request; field names are prefixed with `prefix` (for bulk requests).
fn check_request(
    errors: &mut FieldErrors,
    prefix: &str,
    request: &CreateInvitationRequest,
    now: DateTime<Utc>,
) -> (Option<String>, Option<DateTime<Utc>>) {
    let field = |name: &str| format!("{prefix}{name}");
    let email = match invitation::normalize_email(&request.email_address) {
        Ok(email) => Some(email),
        Err(message) => {
            errors.add(&field("email_address"), message);
            None
        }
    };
    let expires_at = match invitation::expiry(now, request.expires_in_days) {
        Ok(at) => Some(at),
        Err(message) => {
            errors.add(&field("expires_in_days"), message);
            None
        }
    };
    if let Some(url) = &request.redirect_url {
        errors.check(&field("redirect_url"), validate_http_url(url));
    }
    for (name, metadata) in [
        ("public_metadata", &request.public_metadata),
        ("private_metadata", &request.private_metadata),
    ] {
        if let Some(metadata) = metadata {
            errors.check(&field(name), validate_metadata(metadata));
        }
    }
    (email, expires_at)
}

/// Validates every request (naming each bad field), then looks each address up in
/// Kratos so that inviting an existing member can be refused.
async fn prepare(
    state: &AppState,
    caller: &Caller,
    requests: Vec<CreateInvitationRequest>,
    bulk: bool,
) -> ApiResult<Vec<Prepared>> {
    let sets_private = requests.iter().any(|r| r.private_metadata.is_some());
    visibility(caller).may_set_private_metadata(sets_private)?;
    let now = state.clock.now();
    let mut errors = FieldErrors::new();
    let mut checked = Vec::with_capacity(requests.len());
    let mut seen = HashSet::new();
    for (i, request) in requests.into_iter().enumerate() {
        let prefix = if bulk {
            format!("[{i}].")
        } else {
            String::new()
        };
        let (email, expires_at) = check_request(&mut errors, &prefix, &request, now);
        if let Some(email) = &email {
            if !seen.insert(email.clone()) {
                errors.add(
                    &format!("{prefix}email_address"),
                    "appears twice in this request",
                );
            }
        }
        checked.push((request, email, expires_at));
    }
    errors.into_result().map_err(ApiError::validation)?;

    let mut prepared = Vec::with_capacity(checked.len());
    for (request, email, expires_at) in checked {
        let email = email.unwrap_or_default();
        let existing = state.auth.kratos().identity_by_email(&email).await?;
        let token = random_token();
        prepared.push(Prepared {
            invitation: NewInvitation {
                email_address: email,
                role: request
                    .role
                    .unwrap_or_else(|| state.settings.default_role.clone()),
                expires_at,
                public_metadata: request
                    .public_metadata
                    .unwrap_or_else(|| Value::Object(Default::default())),
                private_metadata: request
                    .private_metadata
                    .unwrap_or_else(|| Value::Object(Default::default())),
                redirect_url: request.redirect_url,
                inviter_id: caller.identity_id(),
                token_hash: Some(sha256_hex(&token)),
                existing_identity: existing.map(|identity| identity.id),
            },
            token,
        });
    }
    Ok(prepared)
}

/// `redirect_url` with the token as the `invitation_token` query parameter.
fn acceptance_url(redirect_url: Option<&str>, token: &str) -> Option<String> {
    let mut url = url::Url::parse(redirect_url?).ok()?;
    url.query_pairs_mut().append_pair("invitation_token", token);
    Some(url.into())
}

async fn create(
    state: &AppState,
    caller: &Caller,
    org: &str,
    requests: Vec<CreateInvitationRequest>,
    bulk: bool,
) -> ApiResult<Vec<CreatedInvitationResponse>> {
    let store = state.store.as_ref();
    let access = org_access(store, caller, org, Action::ManageInvitations).await?;
    let prepared = prepare(state, caller, requests, bulk).await?;
    let (invitations, tokens): (Vec<_>, Vec<_>) = prepared
        .into_iter()
        .map(|p| (p.invitation, p.token))
        .unzip();
    let created = store
        .create_invitations(access.org.id, invitations, state.clock.now())
        .await?;
    tracing::info!(org = %access.org.id, count = created.len(), "invitations created");
    Ok(created
        .into_iter()
        .zip(tokens)
        .map(|(invitation, token)| CreatedInvitationResponse {
            url: acceptance_url(invitation.redirect_url.as_deref(), &token),
            invitation: InvitationResponse::new(invitation, visibility(caller)),
            token,
        })
        .collect())
}

/// Invite an e-mail address. Needs `org:sys_memberships:manage`. The response carries
/// the acceptance `token` and `url` once; the app sends the e-mail itself.
#[utoipa::path(
    post, path = "/orgs/{org}/invitations", tag = "invitations", operation_id = "createInvitation",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id")),
    request_body = CreateInvitationRequest,
    responses(
        (status = 201, description = "Created", body = CreatedInvitationResponse),
        problems::MissingPermission,
        problems::OrgNotFound,
        (status = 409, description = "Pending invitation exists, already a member, or cap reached", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "Invalid fields or unknown role", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::KratosUnavailable,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn invitations_create(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<CreateInvitationRequest>,
) -> ApiResult<(StatusCode, AppJson<CreatedInvitationResponse>)> {
    let mut created = create(&state, &caller, &org, vec![body], false).await?;
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
        (status = 409, description = "One address has a pending invitation or is a member, or the cap is reached", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "Invalid fields (named `[i].field`), unknown role or over 100", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::KratosUnavailable,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn invitations_create_bulk(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<Vec<CreateInvitationRequest>>,
) -> ApiResult<(StatusCode, AppJson<CreatedInvitationList>)> {
    if body.is_empty() || body.len() > MAX_BULK {
        return Err(ApiError::field(
            "body",
            format!("must hold 1 to {MAX_BULK} invitations"),
        ));
    }
    let data = create(&state, &caller, &org, body, true).await?;
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
async fn org_invitation(state: &AppState, org: Uuid, id: &str) -> ApiResult<Invitation> {
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
    AppPath((org, id)): AppPath<(String, String)>,
) -> ApiResult<AppJson<InvitationResponse>> {
    let store: &dyn Store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ManageInvitations).await?;
    let invitation = org_invitation(&state, access.org.id, &id).await?;
    let revoked = store
        .revoke_invitation(access.org.id, invitation.id, state.clock.now())
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
    AppJson(body): AppJson<AcceptByTokenRequest>,
) -> ApiResult<(StatusCode, AppJson<MembershipResponse>)> {
    authorize(&caller, Action::OwnAccount, None)?;
    let now = state.clock.now();
    let invitation = state
        .store
        .find_invitation_by_token(&sha256_hex(body.token.trim()), now)
        .await?
        .ok_or_else(ApiError::invitation_not_found)?;
    let membership = accept(&state, &caller, invitation.id).await?;
    Ok((StatusCode::CREATED, AppJson(membership)))
}

/// Accepts for the calling identity and returns the membership with its profile.
pub async fn accept(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<MembershipResponse> {
    let crate::domain::Caller::Identity(identity) = caller else {
        return Err(ApiError::from(crate::domain::Denied::Forbidden));
    };
    let membership = state
        .store
        .accept_invitation(
            id,
            identity.id,
            &identity.verified_emails,
            state.clock.now(),
        )
        .await?;
    tracing::info!(org = %membership.org_id, invitation = %id, "invitation accepted");
    Ok(with_identity_after_write(state, membership, visibility(caller)).await)
}

#[cfg(test)]
mod tests {
    use super::acceptance_url;

    #[test]
    fn urls_carry_the_token() {
        assert_eq!(
            acceptance_url(Some("https://app.example.com/join?x=1"), "tok").as_deref(),
            Some("https://app.example.com/join?x=1&invitation_token=tok")
        );
        assert_eq!(acceptance_url(None, "tok"), None);
    }
}
