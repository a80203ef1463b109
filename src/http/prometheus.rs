//! The metrics listener's one route: `GET /metrics/prometheus`. It runs on its own
//! address (`POLIS_METRICS_LISTEN_ADDR`), so the public API never exposes it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::metrics::{Metrics, CONTENT_TYPE};

pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics/prometheus", get(scrape))
        .with_state(metrics)
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.encode())
}
