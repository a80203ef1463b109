//! `/admin/webhooks`: the endpoints events are delivered to, managed by admin API keys.
//! Their deliveries, replays, test events and secret rotation are in
//! `webhook_deliveries.rs`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::problems;
use super::{double_option, AppJson, AppPath, AppQuery, Page, PageParams};
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::validation::FieldErrors;
use crate::domain::webhook::check_url;
use crate::domain::webhook_signing::Secret;
use crate::domain::{authorize, Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;
use crate::store::{
    Change, EventType, NewWebhookEndpoint, RequestOrigin, Store, WebhookEndpoint,
    WebhookEndpointPatch,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhooks_list, webhooks_create))
        .routes(routes!(webhooks_get, webhooks_update, webhooks_delete))
        .merge(super::webhook_deliveries::router())
}

/// The longest description kept.
const MAX_DESCRIPTION_CHARS: usize = 512;

/// A webhook endpoint. Its secret is shown only when created or rotated.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointResponse {
    pub id: Uuid,
    pub url: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// The event types delivered; empty: every type.
    pub event_types: Vec<String>,
    /// Disabled endpoints receive nothing; their pending deliveries wait until enabled.
    pub disabled: bool,
    #[schema(required = true)]
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why: by an administrator, `410 Gone`, or five days of failures.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed; `null` when the last one succeeded.
    #[schema(required = true)]
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookEndpoint> for WebhookEndpointResponse {
    fn from(endpoint: WebhookEndpoint) -> Self {
        WebhookEndpointResponse {
            id: endpoint.id,
            url: endpoint.url,
            description: endpoint.description,
            event_types: endpoint.event_types,
            disabled: endpoint.disabled_at.is_some(),
            disabled_at: endpoint.disabled_at,
            disabled_reason: endpoint.disabled_reason,
            failing_since: endpoint.failing_since,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// A new endpoint, with the secret its deliveries are signed with: shown this once.
// No `Debug`, so the secret cannot be logged by accident.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhookEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointResponse,
    /// `whsec_` and the base64 of 32 random bytes (Standard Webhooks / Svix format).
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `https://…`, reaching a public address.
    pub url: String,
    /// Event types to deliver (e.g. `organization.created`); absent or empty: all.
    #[serde(default)]
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    pub url: Option<String>,
    /// Replaces the filter; empty: every type.
    pub event_types: Option<Vec<String>>,
    /// `null` removes the description.
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    /// `true` disables the endpoint; `false` enables it again and forgets past failures.
    pub disabled: Option<bool>,
}

/// Checks a request's fields; returns the event types sorted and without repeats.
fn check_fields(
    settings: &Settings,
    url: Option<&str>,
    description: Option<&str>,
    event_types: Option<Vec<String>>,
) -> ApiResult<Option<Vec<String>>> {
    let mut errors = FieldErrors::new();
    if let Some(url) = url {
        errors.check(
            "url",
            check_url(url, settings.webhooks.allow_private_urls).map(|_| ()),
        );
    }
    if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
        errors.add(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        );
    }
    let types = event_types.map(|mut types| {
        for (i, kind) in types.iter().enumerate() {
            if !EventType::ALL.iter().any(|known| known.as_str() == kind) {
                errors.add(
                    &format!("event_types[{i}]"),
                    "is not an event type Polis sends",
                );
            }
        }
        types.sort();
        types.dedup();
        types
    });
    errors.into_result().map_err(ApiError::validation)?;
    Ok(types)
}

/// The endpoint's id from the path; anything else names no endpoint.
pub(super) fn endpoint_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| not_found())
}

pub(super) fn not_found() -> ApiError {
    ApiError::new(ErrorCode::WebhookNotFound, "no such webhook endpoint")
}

/// Register an endpoint. The answer carries its signing secret, shown this once.
/// Admin API keys only.
#[utoipa::path(
    post, path = "/admin/webhooks", tag = "webhooks", operation_id = "createWebhook",
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Created, with its secret", body = CreatedWebhookEndpoint),
        problems::NotAdminKey,
        problems::InvalidFields,
    ),
    security(("api_key" = []))
)]
async fn webhooks_create(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    State(settings): State<Arc<Settings>>,
    caller: Caller,
    origin: RequestOrigin,
    AppJson(body): AppJson<CreateWebhookRequest>,
) -> ApiResult<(StatusCode, AppJson<CreatedWebhookEndpoint>)> {
    authorize(&caller, Action::ManageWebhooks, None)?;
    let event_types = check_fields(
        &settings,
        Some(&body.url),
        body.description.as_deref(),
        Some(body.event_types),
    )?
    .unwrap_or_default();
    let secret = Secret::generate();
    let change = Change::new(&caller, clock.now()).from_request(&origin);
    let endpoint = store
        .create_webhook_endpoint(
            change,
            NewWebhookEndpoint {
                url: body.url,
                description: body.description,
                event_types,
                secret: secret.clone(),
            },
        )
        .await?;
    tracing::info!(caller = %caller.log_label(), endpoint = %endpoint.id, "webhook endpoint created");
    Ok((
        StatusCode::CREATED,
        AppJson(CreatedWebhookEndpoint {
            endpoint: endpoint.into(),
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// Page through the endpoints, oldest first. Admin API keys only.
#[utoipa::path(
    get, path = "/admin/webhooks", tag = "webhooks", operation_id = "listWebhooks",
    params(PageParams),
    responses(
        (status = 200, description = "One page of endpoints", body = Page<WebhookEndpointResponse>),
        problems::NotAdminKey,
        problems::InvalidParameters,
    ),
    security(("api_key" = []))
)]
async fn webhooks_list(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppQuery(params): AppQuery<PageParams>,
) -> ApiResult<AppJson<Page<WebhookEndpointResponse>>> {
    authorize(&caller, Action::ManageWebhooks, None)?;
    let request = params.to_request()?;
    let rows = store.list_webhook_endpoints(request).await?;
    Ok(AppJson(Page::from_rows(
        rows,
        request,
        |endpoint| endpoint.id,
        WebhookEndpointResponse::from,
    )))
}

/// Read one endpoint (never its secret). Admin API keys only.
#[utoipa::path(
    get, path = "/admin/webhooks/{id}", tag = "webhooks", operation_id = "getWebhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpointResponse),
        problems::NotAdminKey,
        problems::WebhookNotFound,
    ),
    security(("api_key" = []))
)]
async fn webhooks_get(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> ApiResult<AppJson<WebhookEndpointResponse>> {
    authorize(&caller, Action::ManageWebhooks, None)?;
    let endpoint = store
        .find_webhook_endpoint(endpoint_id(&id)?)
        .await?
        .ok_or_else(not_found)?;
    Ok(AppJson(endpoint.into()))
}

/// Change an endpoint's URL, description or type filter, or disable or enable it.
/// Admin API keys only.
#[utoipa::path(
    patch, path = "/admin/webhooks/{id}", tag = "webhooks", operation_id = "updateWebhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = UpdateWebhookRequest,
    responses(
        (status = 200, description = "The updated endpoint", body = WebhookEndpointResponse),
        problems::NotAdminKey,
        problems::WebhookNotFound,
        problems::InvalidFields,
    ),
    security(("api_key" = []))
)]
async fn webhooks_update(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    State(settings): State<Arc<Settings>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<UpdateWebhookRequest>,
) -> ApiResult<AppJson<WebhookEndpointResponse>> {
    authorize(&caller, Action::ManageWebhooks, None)?;
    let id = endpoint_id(&id)?;
    let event_types = check_fields(
        &settings,
        body.url.as_deref(),
        body.description.as_ref().and_then(Option::as_deref),
        body.event_types,
    )?;
    let patch = WebhookEndpointPatch {
        url: body.url,
        description: body.description,
        event_types,
        disabled: body.disabled,
    };
    let change = Change::new(&caller, clock.now()).from_request(&origin);
    let endpoint = store
        .update_webhook_endpoint(change, id, patch)
        .await?
        .ok_or_else(not_found)?;
    Ok(AppJson(endpoint.into()))
}

/// Delete an endpoint with its pending deliveries and their history. Admin API keys only.
#[utoipa::path(
    delete, path = "/admin/webhooks/{id}", tag = "webhooks", operation_id = "deleteWebhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted"),
        problems::NotAdminKey,
        problems::WebhookNotFound,
    ),
    security(("api_key" = []))
)]
async fn webhooks_delete(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(id): AppPath<String>,
) -> ApiResult<StatusCode> {
    authorize(&caller, Action::ManageWebhooks, None)?;
    let id = endpoint_id(&id)?;
    let change = Change::new(&caller, clock.now()).from_request(&origin);
    if store.delete_webhook_endpoint(change, id).await? {
        tracing::info!(caller = %caller.log_label(), endpoint = %id, "webhook endpoint deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
