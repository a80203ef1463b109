//! Polis: organizations, memberships and roles for apps whose identities live in Ory Kratos.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod import;
pub mod state;
pub mod store;
pub mod telemetry;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

pub use state::AppState;

/// The application: every route with its middleware.
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then drains requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
