//! Health, version, unknown routes, and the committed OpenAPI document.

use reqwest::StatusCode;

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_backends;

async fn health_and_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alive = app.get("/health/alive", Auth::None).await;
    assert_eq!(alive.status, StatusCode::OK);
    assert_eq!(alive.body["status"], "ok");
    let ready = app.get("/health/ready", Auth::None).await;
    assert_eq!(ready.status, StatusCode::OK);
    let version = app.get("/version", Auth::None).await;
    assert_eq!(version.body["version"], env!("CARGO_PKG_VERSION"));

    app.get("/no/such/route", Auth::None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "route_not_found");
    app.call(reqwest::Method::PUT, "/orgs", Auth::None, None)
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let spec = app.get("/openapi.json", Auth::None).await;
    assert_eq!(spec.status, StatusCode::OK);
    assert_eq!(spec.body["info"]["title"], "Polis");
}

on_both_backends!(health_and_version);

#[tokio::test]
async fn not_ready_when_the_database_is_down() {
    // A PostgreSQL URL where nothing listens.
    let store = polis::store::PostgresStore::connect_lazy("postgres://polis@127.0.0.1:9/none")
        .expect("lazy pool");
    let state = polis::AppState::new(
        std::sync::Arc::new(store),
        polis::config::Settings::from_env(),
    )
    .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(polis::serve(listener, state, std::future::pending()));
    let ready = reqwest::get(format!("{base}/health/ready")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let alive = reqwest::get(format!("{base}/health/alive")).await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
}

/// The committed spec must be what the code generates. To refresh it after an API
/// change: `cargo run -- openapi > openapi/openapi.json`.
#[test]
fn committed_openapi_is_up_to_date() {
    let generated = polis::http::openapi_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/openapi.json is stale; run `cargo run -- openapi > openapi/openapi.json`"
    );
}

/// Every optional field in the spec is either skipped or explicitly nullable, so
/// generated clients agree with what the server sends.
#[test]
fn openapi_has_every_route() {
    let spec: serde_json::Value = serde_json::from_str(&polis::http::openapi_json()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    for path in [
        "/orgs",
        "/orgs/{org}",
        "/orgs/{org}/members",
        "/orgs/{org}/members/{identity_id}",
        "/me/memberships",
        "/roles",
        "/roles/{key}",
        "/health/alive",
        "/health/ready",
        "/version",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the spec");
    }
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    for scheme in ["session_cookie", "session_token", "bearer"] {
        assert!(schemes.contains_key(scheme), "{scheme} missing");
    }
}
