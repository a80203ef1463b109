//! Operating Polis: request ids on every response, metrics on their own listener, rate
//! limits, and a database that is exhausted, slow or restarted.

use std::time::Duration;

use axum::routing::get;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{postgres_url, Auth, Backend, TestApp};
use crate::on_both_backends;

/// The id is echoed when it is acceptable, replaced when not, and present on every
/// kind of answer, in the header and in problem bodies.
async fn every_response_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let with_id = |path: &str, id: &str| {
        app.request(reqwest::Method::GET, path, Auth::Bearer(&alice.token))
            .header("X-Request-Id", id)
    };
    let ok = with_id("/orgs", "trace-42").send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["x-request-id"], "trace-42");

    let missing = with_id("/orgs/no-such-org", "trace-43")
        .send()
        .await
        .unwrap();
    let missing = crate::harness::Reply::from(missing).await;
    missing.assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    assert_eq!(missing.headers["x-request-id"], "trace-43");
    assert_eq!(missing.body["request_id"], "trace-43");

    let unrouted = with_id("/no/such/route", "trace-44").send().await.unwrap();
    let unrouted = crate::harness::Reply::from(unrouted).await;
    unrouted.assert_problem(StatusCode::NOT_FOUND, "route_not_found");
    assert_eq!(unrouted.body["request_id"], "trace-44");

    // Too long, or not visible ASCII: replaced by a UUID.
    for bad in ["x".repeat(129), "two words".to_owned()] {
        let reply = with_id("/orgs", &bad).send().await.unwrap();
        let id = reply.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad} became {id}");
    }
    let anonymous = app.get("/orgs", Auth::None).await;
    anonymous.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let id = anonymous.headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(anonymous.body["request_id"], id);
}

/// A handler that panics still answers a 500 problem with the request id.
async fn a_panic_still_gets_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let routes = axum::Router::new().route(
        "/boom",
        get(|| async {
            if true {
                panic!("boom");
            }
        }),
    );
    let router = polis::http::with_middleware(routes, app.state.clone());
    let request = axum::http::Request::get("/boom")
        .header("x-request-id", "panic-1")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.headers()["x-request-id"], "panic-1");
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "internal_error");
    assert_eq!(problem["request_id"], "panic-1");
}

/// Ory's HTTP metric names, labelled by route pattern; Kratos calls, the session
/// cache and the pool are counted too.
async fn metrics_name_routes_not_paths(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Metered").await;
    let id = org["id"].as_str().unwrap();
    for _ in 0..3 {
        let listed = app
            .get(&format!("/orgs/{id}/members"), Auth::Bearer(&alice.token))
            .await;
        assert_eq!(listed.status, StatusCode::OK);
    }
    app.get("/nowhere", Auth::None).await;
    let scrape = reqwest::get(format!("{}/metrics/prometheus", app.metrics_base))
        .await
        .unwrap();
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(scrape.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = scrape.text().await.unwrap();
    for expected in [
        r#"http_requests_total{code="200",method="GET",endpoint="/orgs/{org}/members"} 3"#,
        r#"http_requests_total{code="201",method="POST",endpoint="/orgs"} 1"#,
        r#"http_requests_total{code="404",method="GET",endpoint="unmatched"} 1"#,
        r#"http_requests_duration_seconds_count{code="200",method="GET",endpoint="/orgs/{org}/members"} 3"#,
        r#"polis_upstream_requests_total{service="kratos",operation="whoami",outcome="active"} 1"#,
        r#"polis_session_cache_lookups_total{outcome="miss"} 1"#,
        r#"polis_session_cache_lookups_total{outcome="hit"} 3"#,
        r#"polis_db_pool_connections{state="idle"}"#,
        r#"polis_db_pool_connections{state="in_use"}"#,
        "polis_db_pool_waiting 0",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    assert!(!text.contains(id), "a raw path reached the metrics");
    assert!(!text.contains("/nowhere"), "a raw path reached the metrics");
}

/// Reads and writes per credential, anonymous requests per client IP: 429 with
/// `Retry-After` past the burst, while other credentials and health checks go on.
async fn rate_limits_answer_429(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.rate_limit_reads = 1;
        settings.rate_limit_writes = 1;
        settings.rate_limit_anonymous = 1;
    })
    .await;
    let alice = app.user("alice");
    let bob = app.user("bob");
    // The burst is 2, refilled at 1/s: ten requests in a row cannot all pass.
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..10 {
        let reply = app.get("/orgs", Auth::Bearer(&alice.token)).await;
        statuses.push(reply.status);
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(reply);
        }
    }
    assert_eq!(statuses[..2], [StatusCode::OK, StatusCode::OK]);
    let limited = limited.expect("no request was limited");
    limited.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert!(limited.body["request_id"].is_string());
    // Bob's reads, and Alice's writes, have buckets of their own.
    assert_eq!(
        app.get("/orgs", Auth::Bearer(&bob.token)).await.status,
        StatusCode::OK
    );
    let created = app
        .post(
            "/orgs",
            Auth::Bearer(&alice.token),
            json!({"name": "Writes"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_anonymous_limited(&app).await;
}

/// Requests without a credential, and with a wrong one, share the client IP's bucket;
/// health checks are never limited.
async fn assert_anonymous_limited(app: &TestApp) {
    let mut statuses = Vec::new();
    for attempt in 0..10 {
        let reply = if attempt % 2 == 0 {
            app.get("/openapi.json", Auth::None).await
        } else {
            app.get("/orgs", Auth::Bearer("not-a-session")).await
        };
        statuses.push(reply.status);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    for _ in 0..5 {
        let ready = app.get("/health/ready", Auth::None).await;
        assert_eq!(ready.status, StatusCode::OK);
    }
}

on_both_backends!(
    every_response_carries_a_request_id,
    a_panic_still_gets_a_request_id,
    metrics_name_routes_not_paths,
    rate_limits_answer_429,
);

/// A PostgreSQL connection of its own, outside Polis's pool.
async fn admin_connection() -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(&postgres_url())
        .await
        .expect("connect PostgreSQL")
}

/// Starts `GET /orgs/{org}` while another session holds an exclusive lock on `orgs`,
/// so the request sits in the database holding a pooled connection.
async fn blocked_read(app: &TestApp, token: &str, org: &str) -> tokio::task::JoinHandle<u16> {
    let request = app.request(
        reqwest::Method::GET,
        &format!("/orgs/{org}"),
        Auth::Bearer(token),
    );
    let handle = tokio::spawn(async move { request.send().await.unwrap().status().as_u16() });
    wait_for_lock_waiter(app).await;
    handle
}

/// Waits until one of Polis's connections is waiting for a lock.
async fn wait_for_lock_waiter(app: &TestApp) {
    let schema = app.db.schema.clone().expect("PostgreSQL");
    let mut admin = admin_connection().await;
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&schema)
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the request never reached the lock");
}

/// Takes an exclusive lock on the test schema's `orgs` in a transaction of its own.
async fn lock_orgs(app: &TestApp) -> sqlx::PgConnection {
    let schema = app.db.schema.clone().expect("PostgreSQL");
    let mut admin = admin_connection().await;
    sqlx::query("BEGIN").execute(&mut admin).await.unwrap();
    sqlx::query(&format!(
        "LOCK TABLE {schema}.orgs IN ACCESS EXCLUSIVE MODE"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    admin
}

/// With every connection busy, the next request gets 503 `database_unavailable` after
/// the acquire timeout, while the lock that keeps the pool busy is still held (so it
/// did not wait for the pool to free up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_answers_503() {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        settings.db_max_connections = Some(1);
        settings.db_acquire_timeout_ms = 200;
    })
    .await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Busy").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let mut lock = lock_orgs(&app).await;
    let held = blocked_read(&app, &alice.token, &id).await;
    let refused = app
        .get(&format!("/orgs/{id}"), Auth::Bearer(&alice.token))
        .await;
    refused.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
    assert_eq!(held.await.unwrap(), 200);
    let later = app
        .get(&format!("/orgs/{id}"), Auth::Bearer(&alice.token))
        .await;
    assert_eq!(later.status, StatusCode::OK);
}

/// `POLIS_DB_STATEMENT_TIMEOUT_MS` cancels a statement stuck behind a lock: 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_timeout_answers_503() {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        settings.db_statement_timeout_ms = 300;
    })
    .await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Slow").await;
    let id = org["id"].as_str().unwrap();
    let mut lock = lock_orgs(&app).await;
    let reply = app
        .get(&format!("/orgs/{id}"), Auth::Bearer(&alice.token))
        .await;
    reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
}

/// Polis's connections are killed (as a PostgreSQL restart does): the request in the
/// middle of a statement gets 503, not 500, and the next ones succeed on new
/// connections without restarting Polis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_are_replaced() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Restarted").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let schema = app.db.schema.clone().unwrap();
    let mut lock = lock_orgs(&app).await;
    let in_flight = blocked_read(&app, &alice.token, &id).await;
    let mut admin = admin_connection().await;
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) AS t",
    )
    .bind(&schema)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(killed >= 1, "no connection of Polis was found");
    assert_eq!(in_flight.await.unwrap(), 503);
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
    for _ in 0..3 {
        let reply = app
            .get(&format!("/orgs/{id}"), Auth::Bearer(&alice.token))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
}
