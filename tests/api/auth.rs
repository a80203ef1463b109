//! Callers: Kratos sessions in their three forms, API keys, caching, failing closed,
//! CSRF and CORS.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp, ALLOWED_ORIGIN};
use crate::on_both_backends;

async fn credential_forms(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    app.create_org(&alice, "Mine").await;
    for auth in [
        Auth::Bearer(&alice.token),
        Auth::SessionToken(&alice.token),
        Auth::Cookie(&alice.cookie),
    ] {
        let reply = app.get("/orgs", auth.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{auth:?}: {}", reply.body);
        assert_eq!(reply.body["data"][0]["slug"], "mine");
    }
    // Other cookies beside the session cookie do not matter.
    let reply = app
        .request(Method::GET, "/orgs", Auth::None)
        .header(
            "Cookie",
            format!("theme=dark; ory_kratos_session={}; x=1", alice.cookie),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);

    for auth in [
        Auth::None,
        Auth::Bearer("not-a-session"),
        Auth::SessionToken("not-a-session"),
        Auth::Cookie("not-a-cookie"),
        Auth::Bearer("polis_nonsense"),
    ] {
        app.get("/orgs", auth)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    let basic = app
        .request(Method::GET, "/orgs", Auth::None)
        .header("Authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

async fn sessions_are_cached(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    app.get("/orgs", Auth::Bearer(&alice.token)).await;
    let before = app.kratos.whoami_calls();
    for _ in 0..10 {
        assert_eq!(
            app.get("/orgs", Auth::Bearer(&alice.token)).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        app.kratos.whoami_calls(),
        before,
        "steady-state reads make no Kratos call"
    );

    // Concurrent first requests with a new credential make one Kratos call.
    let bob = app.user("bob");
    let before = app.kratos.whoami_calls();
    app.kratos.set_latency(Duration::from_millis(200));
    let requests = (0..20).map(|_| app.get("/orgs", Auth::Bearer(&bob.token)));
    let replies = futures::future::join_all(requests).await;
    app.kratos.set_latency(Duration::ZERO);
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(
        app.kratos.whoami_calls() - before,
        1,
        "single flight per credential"
    );
}

async fn revocation_without_cache(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.session_cache_ttl = 0).await;
    let alice = app.user("alice");
    assert_eq!(
        app.get("/orgs", Auth::Bearer(&alice.token)).await.status,
        StatusCode::OK
    );
    app.kratos.revoke_session(&alice.token);
    app.get("/orgs", Auth::Bearer(&alice.token))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let calls = app.kratos.whoami_calls();
    app.get("/orgs", Auth::Bearer(&alice.token)).await;
    assert_eq!(
        app.kratos.whoami_calls(),
        calls + 1,
        "ttl 0 disables the cache"
    );
}

async fn step_up_required(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let session = app.kratos.create_session_with(
        alice.id,
        crate::support::kratos_double::SessionOptions {
            needs_aal2: true,
            ..Default::default()
        },
    );
    let reply = app.get("/orgs", Auth::Bearer(&session.token)).await;
    reply.assert_problem(StatusCode::FORBIDDEN, "aal_required");
    let redirect = reply.body["redirect_browser_to"].as_str().unwrap();
    assert!(
        redirect.ends_with("/self-service/login/browser?aal=aal2"),
        "{redirect}"
    );
}

async fn kratos_failures_fail_closed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for status in [500, 502, 503] {
        let user = app.user("u");
        app.kratos.fail_with_status(Some(status));
        app.get("/orgs", Auth::Bearer(&user.token))
            .await
            .assert_problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "identity_provider_unavailable",
            );
        app.kratos.fail_with_status(None);
    }
    // Slower than the configured timeout (1 s in tests).
    let slow = app.user("slow");
    app.kratos.set_latency(Duration::from_millis(1500));
    app.get("/orgs", Auth::Bearer(&slow.token))
        .await
        .assert_problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "identity_provider_unavailable",
        );
    app.kratos.set_latency(Duration::ZERO);

    let refused = app.user("refused");
    app.kratos.refuse_connections(true);
    let reply = app.get("/orgs", Auth::Bearer(&refused.token)).await;
    app.kratos.refuse_connections(false);
    reply.assert_problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "identity_provider_unavailable",
    );
    assert!(
        !reply.body.to_string().contains("127.0.0.1"),
        "no internal detail leaks: {}",
        reply.body
    );
    // Failures are not cached: once Kratos is back, the same session works.
    assert_eq!(
        app.get("/orgs", Auth::Bearer(&refused.token)).await.status,
        StatusCode::OK
    );
}

async fn api_key_checks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(
        app.get("/orgs", Auth::Bearer(&app.admin_key)).await.status,
        StatusCode::OK
    );
    // Right id, wrong secret.
    let (prefix, _) = app.admin_key.rsplit_once('_').unwrap();
    let forged = format!("{prefix}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    app.get("/orgs", Auth::Bearer(&forged))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let id = app.admin_key["polis_".len()..]
        .split('_')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(app
        .store()
        .revoke_api_key(id, polis::clock::Clock::now(&polis::clock::SystemClock))
        .await
        .unwrap());
    app.get("/orgs", Auth::Bearer(&app.admin_key))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(app.kratos.whoami_calls(), 0, "API keys never reach Kratos");
}

async fn cookie_writes_need_an_allowed_origin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let post = |origin: Option<&str>| {
        let mut request = app
            .request(Method::POST, "/orgs", Auth::Cookie(&alice.cookie))
            .json(&json!({"name": "From Browser"}));
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        request.send()
    };
    for origin in [None, Some("https://evil.example.com")] {
        let reply = post(origin).await.unwrap();
        assert_eq!(reply.status(), StatusCode::FORBIDDEN);
        let body: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(body["code"], "origin_not_allowed");
    }
    let allowed = post(Some(ALLOWED_ORIGIN)).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::CREATED);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        ALLOWED_ORIGIN
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    // Reads by cookie and writes by token need no Origin.
    assert_eq!(
        app.get("/orgs", Auth::Cookie(&alice.cookie)).await.status,
        StatusCode::OK
    );
    let by_token = app
        .post(
            "/orgs",
            Auth::Bearer(&alice.token),
            json!({"name": "From Backend"}),
        )
        .await;
    assert_eq!(by_token.status, StatusCode::CREATED);
}

async fn cors_preflight(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let preflight = |origin: &str| {
        app.request(Method::OPTIONS, "/orgs", Auth::None)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    let allowed = preflight(ALLOWED_ORIGIN).await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        ALLOWED_ORIGIN
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let denied = preflight("https://evil.example.com").await.unwrap();
    assert!(denied
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

/// API keys are reused for `POLIS_API_KEY_CACHE_TTL` seconds: a key revoked on another
/// replica (here, straight in the store) works until then, and never after.
async fn revoked_api_keys_stop_within_the_cache_ttl(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.api_key_cache_ttl = 1).await;
    let key = app.admin_key.clone();
    assert_eq!(
        app.get("/orgs", Auth::Bearer(&key)).await.status,
        StatusCode::OK
    );
    let id = key["polis_".len()..]
        .split('_')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let now = polis::clock::Clock::now(&polis::clock::SystemClock);
    assert!(app.store().revoke_api_key(id, now).await.unwrap());
    assert_eq!(
        app.get("/orgs", Auth::Bearer(&key)).await.status,
        StatusCode::OK,
        "still cached"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    app.get("/orgs", Auth::Bearer(&key))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

on_both_backends!(
    revoked_api_keys_stop_within_the_cache_ttl,
    credential_forms,
    sessions_are_cached,
    revocation_without_cache,
    step_up_required,
    kratos_failures_fail_closed,
    api_key_checks,
    cookie_writes_need_an_allowed_origin,
    cors_preflight,
);
