//! The HTTP API: routers, request and response shapes, and the OpenAPI document
//! generated from the same handlers.

mod active_org;
mod admin;
mod audit_log;
mod authz_check;
mod domains;
mod extract;
mod health;
mod import_report;
mod invitations;
mod json_shape;
mod me;
mod members;
mod membership_requests;
pub mod observe;
mod openapi;
mod org_tokens;
mod orgs;
mod pagination;
mod problems;
pub mod prometheus;
mod roles;
mod suggestions;
mod webhook_deliveries;
mod webhooks;

use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::Router;
use serde::Deserialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use self::openapi::SecuritySchemes;
use crate::domain::org::OrgRef;
use crate::domain::{authorize, Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;
use crate::store::{Membership, Org, OrgSummary, Store};

pub use extract::{AppJson, AppPath, AppQuery};
pub use pagination::{Page, PageParams};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Polis",
        description = "Organizations, memberships and roles for apps whose identities live in Ory Kratos."
    ),
    servers((url = "/", description = "The Polis instance serving this document")),
    modifiers(&SecuritySchemes),
    components(schemas(crate::error::Problem, crate::error::ErrorCode)),
    tags(
        (name = "orgs", description = "Organizations"),
        (name = "members", description = "Memberships of an organization"),
        (name = "invitations", description = "Invitations to join an organization"),
        (name = "domains", description = "An organization's verified domains"),
        (name = "me", description = "The calling identity"),
        (name = "roles", description = "The instance-wide role catalog"),
        (name = "health", description = "Liveness, readiness and version"),
        (name = "admin", description = "Instance administration with API keys: the Clerk import, the audit log"),
        (name = "webhooks", description = "Webhook endpoints, their deliveries and replays (admin API keys)"),
        (name = "authz", description = "Authorization in backends: signed org claims, their keys, batch permission checks")
    )
)]
struct ApiDoc;

/// The routes and the OpenAPI document they describe.
fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut spec) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(orgs::router())
        .merge(members::router())
        .merge(invitations::router())
        .merge(domains::router())
        .merge(me::router())
        .merge(suggestions::router())
        .merge(membership_requests::router())
        .merge(roles::router())
        .merge(health::router())
        .merge(admin::router())
        .merge(audit_log::router())
        .merge(org_tokens::router())
        .merge(active_org::router())
        .merge(authz_check::router())
        .merge(webhooks::router())
        .split_for_parts();
    openapi::SharedResponses.modify(&mut spec);
    openapi::ShareNamedSchemas.modify(&mut spec);
    (router, spec)
}

/// The OpenAPI document, as `polis openapi` prints it and `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().1
}

pub fn openapi_json() -> String {
    openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| String::from("{}"))
}

/// The whole application router with its middleware.
pub fn router(state: AppState) -> Router {
    let (api, spec) = routes();
    let spec_json = spec.to_pretty_json().unwrap_or_default();
    let api = api
        .route(
            "/openapi.json",
            axum::routing::get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], spec_json)
            }),
        )
        .merge(openapi::docs_router())
        .fallback(|| async { ApiError::new(ErrorCode::RouteNotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            )
        });
    with_middleware(api, state)
}

/// Wraps `routes` in Polis's middleware, outermost first: request id, span, access log
/// and metrics ([`observe::observe`]); CORS; the per-IP limit for requests without a
/// credential; panics turned into 500 problems; the body limit. Every response, the
/// 404 fallback's and a panic's included, passes through the first.
pub fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    let cors = cors_layer(&state.settings.allowed_origins());
    let body_limit = state.settings.max_body_bytes;
    routes
        .with_state(state.clone())
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal(&"handler panicked").into_response()
        }))
        .layer(from_fn_with_state(state.clone(), observe::limit_anonymous))
        .layer(cors)
        .layer(from_fn_with_state(state, observe::observe))
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-session-token"),
            HeaderName::from_static("x-request-id"),
        ])
        // Browser code may read these: the id to quote in a report, and how long to wait.
        .expose_headers([observe::REQUEST_ID, header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}

/// An organization the caller has been allowed to act on, with the caller's own
/// membership in it (if any).
pub struct OrgAccess<O = OrgSummary> {
    pub org: O,
    pub membership: Option<Membership>,
}

/// Refuses a request that needs an e-mail sent when Polis sends none (no
/// `POLIS_SMTP_URL`): 409 `email_not_configured`.
pub(crate) fn require_email(state: &AppState) -> ApiResult<()> {
    if state.settings.email.sends() {
        Ok(())
    } else {
        Err(ApiError::email_not_configured())
    }
}

/// Resolves `{org}` (UUID, slug or Clerk id) and authorizes `action` on it. Every
/// org-scoped route goes through here, so a non-member never learns an org exists.
pub async fn org_access(
    store: &dyn Store,
    caller: &Caller,
    org: &str,
    action: Action,
) -> ApiResult<OrgAccess> {
    let found = store
        .org_access(&org_ref(org)?, caller.identity_id())
        .await?;
    authorized(caller, action, found)
}

/// [`org_access`] for a route that returns the whole org, `members_count` included:
/// the only lookup that counts the org's members.
pub async fn org_read(
    store: &dyn Store,
    caller: &Caller,
    org: &str,
    action: Action,
) -> ApiResult<OrgAccess<Org>> {
    let found = store.org_read(&org_ref(org)?, caller.identity_id()).await?;
    authorized(caller, action, found)
}

fn org_ref(raw: &str) -> ApiResult<OrgRef> {
    // No org's id, slug or Clerk id holds a control character.
    if raw.chars().any(char::is_control) {
        return Err(ApiError::org_not_found());
    }
    Ok(OrgRef::parse(raw))
}

fn authorized<O>(
    caller: &Caller,
    action: Action,
    found: Option<(O, Option<Membership>)>,
) -> ApiResult<OrgAccess<O>> {
    let (org, membership) = found.ok_or_else(ApiError::org_not_found)?;
    authorize(
        caller,
        action,
        membership.as_ref().map(|m| m.permissions.as_slice()),
    )?;
    Ok(OrgAccess { org, membership })
}

/// For PATCH bodies: tells "absent" (`None`) from "set to null" (`Some(None)`).
pub(crate) fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
