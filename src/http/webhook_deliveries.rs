//! `/admin/webhooks/{id}/…`: an endpoint's delivery attempts, replays, test events and
//! secret rotation. Admin API keys only.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::PROBLEM_CONTENT_TYPE;
use super::problems;
use super::webhooks::{endpoint_id, not_found};
use super::{AppJson, AppPath, AppQuery, Page, PageParams};
use crate::clock::Clock;
use crate::domain::webhook_signing::Secret;
use crate::domain::{authorize, Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::state::AppState;
use crate::store::{Change, DeliveryAttempt, Replay, RequestOrigin, Store};

/// How long the previous secret keeps signing after a rotation, so receivers can
/// switch without missing a delivery.
const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhook_deliveries))
        .routes(routes!(webhook_replay))
        .routes(routes!(webhook_test))
        .routes(routes!(webhook_rotate_secret))
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttemptResponse {
    pub id: Uuid,
    /// The event delivered; also its `webhook-id`, as `msg_<event_id>`.
    pub event_id: Uuid,
    pub event_type: String,
    /// 1 for the first attempt; a replay starts again at 1.
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The endpoint's HTTP status; `null` when no answer came (see `error`).
    #[schema(required = true)]
    pub status_code: Option<i32>,
    #[schema(required = true)]
    pub error: Option<String>,
    pub latency_ms: i64,
    /// The first 4 KiB of the answer's body.
    #[schema(required = true)]
    pub response_body: Option<String>,
    /// When the next attempt is due; `null` when this one settled the delivery.
    #[schema(required = true)]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl From<DeliveryAttempt> for DeliveryAttemptResponse {
    fn from(a: DeliveryAttempt) -> Self {
        DeliveryAttemptResponse {
            id: a.id,
            event_id: a.event_id,
            event_type: a.event_type,
            attempt: a.attempt,
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            error: a.error,
            latency_ms: a.latency_ms,
            response_body: a.response_body,
            next_attempt_at: a.next_attempt_at,
        }
    }
}

/// Page through an endpoint's delivery attempts, newest first.
#[utoipa::path(
    get, path = "/admin/webhooks/{id}/deliveries", tag = "webhooks",
    operation_id = "listWebhookDeliveries",
    params(("id" = Uuid, Path, description = "The endpoint's id"), PageParams),
    responses(
        (status = 200, description = "One page of attempts", body = Page<DeliveryAttemptResponse>),
        problems::NotAdminKey,
        problems::WebhookNotFound,
        problems::InvalidParameters,
    ),
    security(("api_key" = []))
)]
async fn webhook_deliveries(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    AppQuery(params): AppQuery<PageParams>,
) -> ApiResult<AppJson<Page<DeliveryAttemptResponse>>> {
    authorize(&caller, Action::ManageWebhooks, None)?;
    let id = endpoint_id(&id)?;
    let request = params.to_request()?;
    store
        .find_webhook_endpoint(id)
        .await?
        .ok_or_else(not_found)?;
    let rows = store.list_webhook_attempts(id, request).await?;
    Ok(AppJson(Page::from_rows(
        rows,
        request,
        |attempt| attempt.id,
        DeliveryAttemptResponse::from,
    )))
}

/// What to deliver again: one event, or every failed delivery since a time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Deliver this event again (even one delivered before, or never queued for the
    /// endpoint).
    pub event_id: Option<Uuid>,
    /// Deliver again every failed or given-up delivery of events since this time.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResponse {
    /// Deliveries queued, due at once.
    pub queued: u64,
}

/// Queue deliveries again with a fresh retry schedule: `{event_id}` or `{since}`.
#[utoipa::path(
    post, path = "/admin/webhooks/{id}/replay", tag = "webhooks",
    operation_id = "replayWebhookDeliveries",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = ReplayRequest,
    responses(
        (status = 202, description = "Queued", body = ReplayResponse),
        problems::NotAdminKey,
        (status = 404, description = "No such webhook endpoint or event", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::InvalidFields,
    ),
    security(("api_key" = []))
)]
async fn webhook_replay(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<ReplayRequest>,
) -> ApiResult<(StatusCode, AppJson<ReplayResponse>)> {
    authorize(&caller, Action::ManageWebhooks, None)?;
    let id = endpoint_id(&id)?;
    let replay = match (body.event_id, body.since) {
        (Some(event), None) => Replay::Event(event),
        (None, Some(since)) => Replay::Since(since),
        _ => return Err(ApiError::field("event_id", "give either event_id or since")),
    };
    store
        .find_webhook_endpoint(id)
        .await?
        .ok_or_else(not_found)?;
    let change = Change::new(&caller, clock.now()).from_request(&origin);
    let queued = store
        .replay_webhook_deliveries(change, id, replay)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::EventNotFound, "no such event"))?;
    Ok((StatusCode::ACCEPTED, AppJson(ReplayResponse { queued })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestEventResponse {
    /// The `test` event queued for this endpoint alone (`webhook-id` `msg_<event_id>`).
    pub event_id: Uuid,
}

/// Send the endpoint a `test` event (whatever its type filter), delivered and retried
/// like any other.
#[utoipa::path(
    post, path = "/admin/webhooks/{id}/test", tag = "webhooks", operation_id = "testWebhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 202, description = "Queued", body = TestEventResponse),
        problems::NotAdminKey,
        problems::WebhookNotFound,
    ),
    security(("api_key" = []))
)]
async fn webhook_test(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(id): AppPath<String>,
) -> ApiResult<(StatusCode, AppJson<TestEventResponse>)> {
    authorize(&caller, Action::ManageWebhooks, None)?;
    let id = endpoint_id(&id)?;
    store
        .find_webhook_endpoint(id)
        .await?
        .ok_or_else(not_found)?;
    let change = Change::new(&caller, clock.now()).from_request(&origin);
    let event_id = store.send_webhook_test_event(change, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        AppJson(TestEventResponse { event_id }),
    ))
}

// No `Debug`, so the secret cannot be logged by accident.
#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The new `whsec_…` secret, shown this once.
    pub secret: String,
    /// Until then deliveries carry a signature by the previous secret too.
    pub previous_secret_expires_at: DateTime<Utc>,
}

/// Replace the endpoint's signing secret. For 24 hours every delivery carries two
/// signatures, by the new and the previous secret, so receivers can switch over.
#[utoipa::path(
    post, path = "/admin/webhooks/{id}/rotate-secret", tag = "webhooks",
    operation_id = "rotateWebhookSecret",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The new secret", body = RotatedSecret),
        problems::NotAdminKey,
        problems::WebhookNotFound,
    ),
    security(("api_key" = []))
)]
async fn webhook_rotate_secret(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(id): AppPath<String>,
) -> ApiResult<AppJson<RotatedSecret>> {
    authorize(&caller, Action::ManageWebhooks, None)?;
    let id = endpoint_id(&id)?;
    let now = clock.now();
    let secret = Secret::generate();
    let until = now + ROTATION_OVERLAP;
    let change = Change::new(&caller, now).from_request(&origin);
    store
        .rotate_webhook_secret(change, id, secret.clone(), until)
        .await?
        .ok_or_else(not_found)?;
    tracing::info!(caller = %caller.log_label(), endpoint = %id, "webhook secret rotated");
    Ok(AppJson(RotatedSecret {
        secret: secret.expose().to_owned(),
        previous_secret_expires_at: until,
    }))
}
