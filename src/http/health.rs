//! Health and version, shaped like Ory's: `/health/alive`, `/health/ready`, `/version`.
//! These are public: they take no `Caller`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppJson;
use crate::lifecycle::Lifecycle;
use crate::state::AppState;
use crate::store::Store;

/// How long readiness waits for the database before answering 503.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health_alive))
        .routes(routes!(health_ready))
        .routes(routes!(version_get))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// `ok`; `unavailable` when a dependency does not answer; `draining` once shutdown
    /// has begun.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    pub version: String,
}

/// The process is up. Checks nothing else.
#[utoipa::path(get, path = "/health/alive", tag = "health", operation_id = "isAlive",
    responses((status = 200, description = "Alive", body = HealthStatus)))]
async fn health_alive() -> AppJson<HealthStatus> {
    AppJson(HealthStatus {
        status: "ok".into(),
    })
}

/// The database answers and the process is not shutting down.
#[utoipa::path(get, path = "/health/ready", tag = "health", operation_id = "isReady",
    responses(
        (status = 200, description = "Ready", body = HealthStatus),
        (status = 503, description = "The database does not answer, or shutdown has begun", body = HealthStatus)
    ))]
async fn health_ready(
    State(store): State<Arc<dyn Store>>,
    State(lifecycle): State<Lifecycle>,
) -> (StatusCode, AppJson<HealthStatus>) {
    if lifecycle.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            AppJson(HealthStatus {
                status: "draining".into(),
            }),
        );
    }
    let answered = tokio::time::timeout(READY_TIMEOUT, store.ping()).await;
    match answered
        .map_err(|_| "timed out".to_owned())
        .and_then(|r| r.map_err(|e| e.to_string()))
    {
        Ok(()) => (
            StatusCode::OK,
            AppJson(HealthStatus {
                status: "ok".into(),
            }),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                AppJson(HealthStatus {
                    status: "unavailable".into(),
                }),
            )
        }
    }
}

/// The running Polis version.
#[utoipa::path(get, path = "/version", tag = "health", operation_id = "getVersion",
    responses((status = 200, description = "Version", body = Version)))]
async fn version_get() -> AppJson<Version> {
    AppJson(Version {
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
