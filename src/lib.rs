//! Polis: organizations, memberships and roles for apps whose identities live in Ory Kratos.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod email;
pub mod enrollment;
pub mod error;
pub mod http;
pub mod import;
pub mod lifecycle;
pub mod metrics;
pub mod rate_limit;
pub mod reconcile;
pub mod retention;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod webhooks;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

pub use state::AppState;

/// How long closing the pool may take once requests and workers are done.
const POOL_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The application: every route with its middleware.
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then shuts down in order:
/// `/health/ready` answers 503 and background workers are told to stop; after
/// `POLIS_SHUTDOWN_DELAY` the listener closes; requests in flight and workers get
/// `POLIS_SHUTDOWN_TIMEOUT` to finish; then the database pool closes. The background
/// workers (webhook delivery, domain enrollment, e-mail) start here.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let lifecycle = state.lifecycle.clone();
    let store = state.store.clone();
    webhooks::spawn_worker(&state).map_err(std::io::Error::other)?;
    enrollment::worker::spawn_worker(&state);
    email::spawn_worker(email::WorkerParts {
        settings: &state.settings.email,
        store: state.store.clone(),
        clock: state.clock.clone(),
        templates: state.templates.clone(),
        metrics: &state.metrics,
        lifecycle: &state.lifecycle,
    })
    .map_err(std::io::Error::other)?;
    let (delay, timeout) = (
        state.settings.shutdown_delay(),
        state.settings.shutdown_timeout(),
    );
    let server = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop_accepting(shutdown, lifecycle.clone(), delay));
    let deadline = async {
        lifecycle.draining().await;
        tokio::time::sleep(delay + timeout).await;
    };
    tokio::select! {
        served = server => served?,
        () = deadline => tracing::warn!(
            timeout_s = timeout.as_secs(),
            "requests still in flight at the shutdown timeout were abandoned"
        ),
    }
    close(&lifecycle, store.as_ref(), timeout).await;
    Ok(())
}

/// Completes when the listener should close: `delay` after `shutdown`, which turns
/// readiness to 503 and tells workers to stop at once.
async fn stop_accepting(
    shutdown: impl Future<Output = ()>,
    lifecycle: lifecycle::Lifecycle,
    delay: Duration,
) {
    shutdown.await;
    lifecycle.begin_shutdown();
    tracing::info!(
        delay_s = delay.as_secs(),
        "shutdown begun: readiness is 503"
    );
    tokio::time::sleep(delay).await;
    tracing::info!("no longer accepting connections; finishing requests in flight");
}

/// Waits for the workers (signalled when shutdown began), then closes the pool.
async fn close(lifecycle: &lifecycle::Lifecycle, store: &dyn store::Store, timeout: Duration) {
    let workers_stopped = lifecycle.wait_for_workers(timeout).await;
    let pool_closed = tokio::time::timeout(POOL_CLOSE_TIMEOUT, store.close())
        .await
        .is_ok();
    tracing::info!(workers_stopped, pool_closed, "shutdown complete");
}

/// Serves Prometheus metrics on their own `listener` until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<metrics::Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, http::prometheus::router(metrics))
        .with_graceful_shutdown(shutdown)
        .await
}
