//! Signed org claims for backends: `POST /me/token` issues a short-lived ES256 JWT with
//! the caller's claims in one org (Clerk's names), and `GET /.well-known/jwks.json`
//! publishes the keys to verify it with, so a backend decides `has(permission)` without
//! calling Polis.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::authz_check::org_ref;
use super::openapi::PROBLEM_CONTENT_TYPE;
use super::{problems, AppJson};
use crate::auth::signing_keys::KeyError;
use crate::domain::caller::IdentityCaller;
use crate::domain::claims::{OrgClaim, OrgClaims, TokenSubject};
use crate::domain::{authorize, Action, Caller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::store::{MembershipQuery, OrgMembershipFacts, SessionKey};

/// How long caches may keep the key set: less than a rotated-in key is published before it
/// signs (`ACTIVATION_DELAY`), so no verifier meets a token whose key it cannot fetch.
const JWKS_CACHE_CONTROL: &str = "public, max-age=60";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me_token_create))
        .routes(routes!(jwks_get))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgTokenRequest {
    /// The org the claims are about: its UUID, slug or Clerk id (`org_…`); the caller must
    /// belong to it. Without it, the session's active org; without one, no org claims.
    #[serde(default)]
    pub org: Option<String>,
}

/// A signed token and when it expires.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgTokenResponse {
    /// An ES256 JWT (`kid` in its header) with the claims `iss`, `sub`, `sid`, `iat`,
    /// `nbf`, `exp`, `jti` and, when an org applies, `org_id`, `org_slug`, `org_role`
    /// and `org_permissions`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// One public key, as RFC 7517 writes it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `EC`.
    pub kty: String,
    /// `P-256`.
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
    /// `ES256`.
    pub alg: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl From<KeyError> for ApiError {
    fn from(err: KeyError) -> Self {
        match err {
            KeyError::Store(err) => err.into(),
            other => ApiError::internal(&other),
        }
    }
}

/// A signed token of the caller's org claims (identities only). The claims are a
/// snapshot: a role change shows in new tokens at once, in old ones when they expire
/// (`POLIS_TOKEN_TTL`, 60 s by default).
#[utoipa::path(
    post, path = "/me/token", tag = "authz", operation_id = "createOrgToken",
    request_body = OrgTokenRequest,
    responses(
        (status = 200, description = "A signed token", body = OrgTokenResponse),
        (status = 403, description = "API keys have no org claims", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 404, description = "No such organization, or the caller is not a member", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::KratosUnavailable,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn me_token_create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(request): AppJson<OrgTokenRequest>,
) -> ApiResult<AppJson<OrgTokenResponse>> {
    authorize(&caller, Action::IssueOrgToken, None)?;
    let Caller::Identity(identity) = &caller else {
        return Err(crate::domain::Denied::Forbidden.into());
    };
    super::suggestions::seen(&state, &caller).await;
    let now = state.clock.now();
    let org = match request.org {
        Some(org) => Some(member_of(&state, &caller, identity.id, &org).await?),
        None => active_org(&state, identity, now).await?,
    };
    let claims = OrgClaims::new(
        state.settings.claims.issuer(),
        TokenSubject {
            identity: identity.id,
            session: identity.session().map(|s| s.id),
            issued_at: now,
            ttl: chrono::Duration::from_std(state.settings.claims.token_ttl())
                .map_err(|err| ApiError::internal(&err))?,
            jti: Uuid::new_v4().to_string(),
        },
        org.and_then(org_claim),
    );
    let token = state.keys.sign(&claims, now).await?;
    Ok(AppJson(OrgTokenResponse {
        token,
        expires_at: claims.expires_at(),
    }))
}

/// The org `org` names, with the caller's membership; 404 unless the caller is a member.
async fn member_of(
    state: &AppState,
    caller: &Caller,
    identity: Uuid,
    org: &str,
) -> ApiResult<OrgMembershipFacts> {
    let org = org_ref(org).map_err(|message| ApiError::field("org", message))?;
    let question = MembershipQuery { org, identity };
    let facts = state.store.check_memberships(&[question]).await?;
    let facts = facts
        .into_iter()
        .next()
        .flatten()
        .ok_or_else(ApiError::org_not_found)?;
    let permissions = facts.membership.as_ref().map(|m| m.permissions.as_slice());
    authorize(caller, Action::ReadOrg, permissions)?;
    Ok(facts)
}

async fn active_org(
    state: &AppState,
    identity: &IdentityCaller,
    now: DateTime<Utc>,
) -> ApiResult<Option<OrgMembershipFacts>> {
    let Some(session) = identity.session() else {
        return Ok(None);
    };
    let key = SessionKey {
        session_id: session.id,
        identity_id: identity.id,
        expires_at: session.expires_at,
    };
    Ok(state.store.active_org_membership(key, now).await?)
}

fn org_claim(facts: OrgMembershipFacts) -> Option<OrgClaim> {
    let membership = facts.membership?;
    Some(OrgClaim {
        org_id: facts.org_id,
        org_slug: facts.org_slug,
        org_role: membership.role,
        org_permissions: membership.permissions,
    })
}

/// The public keys that verify tokens from `POST /me/token`: the signing key, the next key
/// while a rotation is under way (published 90 s before it signs), and each retired key
/// until every token it signed has expired. Public.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "authz", operation_id = "getJwks",
    responses(
        (status = 200, description = "The JWK Set", body = JwkSet,
            headers(("Cache-Control" = String, description = "`public, max-age=60`"))),
        (status = 500, description = "`internal_error`", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 503, description = "`database_unavailable`", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
)]
async fn jwks_get(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let jwks = state.keys.jwks(state.clock.now()).await?;
    Ok(([(header::CACHE_CONTROL, JWKS_CACHE_CONTROL)], AppJson(jwks)))
}
