//! Hydra OAuth2 access tokens (`Bearer ory_at_…`) as callers: introspected against the
//! Hydra double, cached, limited by scope, failing closed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_backends;
use crate::support::hydra_double::HydraDouble;

const HOUR: Duration = Duration::from_secs(3600);

async fn spawn(backend: Backend) -> (TestApp, HydraDouble) {
    let hydra = HydraDouble::start().await;
    let url = hydra.admin_url();
    let app = TestApp::spawn_with(backend, |s| {
        s.claims.hydra_admin_url = Some(url.parse().unwrap());
        s.claims.hydra_timeout_ms = 500;
    })
    .await;
    (app, hydra)
}

async fn tokens_act_for_their_identity_within_scope(backend: Backend) {
    let (app, hydra) = spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "OAuth Co").await;
    let id = org["id"].as_str().unwrap();
    let subject = alice.id.to_string();
    let reader = hydra.issue(&subject, "reporting-app", &["openid", "orgs:read"], HOUR);
    let writer = hydra.issue(&subject, "admin-app", &["orgs:write"], HOUR);

    let read = app
        .get(&format!("/orgs/{id}/members"), Auth::Bearer(&reader))
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let mine = app.get("/me/memberships", Auth::Bearer(&reader)).await;
    assert_eq!(mine.body["data"][0]["org"]["id"], id, "acts as its sub");
    app.post("/orgs", Auth::Bearer(&reader), json!({"name": "Nope"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    let created = app
        .post("/orgs", Auth::Bearer(&writer), json!({"name": "Yes"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["created_by"], subject);
    assert_eq!(
        app.get(&format!("/orgs/{id}"), Auth::Bearer(&writer))
            .await
            .status,
        StatusCode::OK,
        "write also reads"
    );
    let none = hydra.issue(&subject, "app", &["openid"], HOUR);
    app.get("/me/memberships", Auth::Bearer(&none))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");

    // Still the identity: no Kratos session, so no active org, and tokens without `sid`.
    app.get("/me/active-org", Auth::Bearer(&reader))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let issued = app
        .post("/me/token", Auth::Bearer(&writer), json!({"org": id}))
        .await;
    let claims = crate::org_tokens::verify(
        &issued.str("token"),
        &crate::org_tokens::jwks(&app.base).await,
    )
    .unwrap();
    assert_eq!(claims["sub"], subject);
    assert_eq!(claims["org_role"], "org:admin");
    assert!(claims.get("sid").is_none(), "{claims}");
}

async fn inactive_and_machine_tokens_are_refused(backend: Backend) {
    let (app, hydra) = spawn(backend).await;
    let alice = app.user("alice");
    let subject = alice.id.to_string();
    let revoked = hydra.issue(&subject, "app", &["orgs:read"], HOUR);
    hydra.revoke(&revoked);
    let expired = hydra.issue(&subject, "app", &["orgs:read"], Duration::ZERO);
    let unknown = "ory_at_unknown.token";
    for token in [revoked.as_str(), expired.as_str(), unknown] {
        app.get("/me/memberships", Auth::Bearer(token))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    // A client-credentials token acts for no identity.
    let machine =
        hydra.issue_client_credentials("6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11", &["orgs:read"]);
    app.get("/me/memberships", Auth::Bearer(&machine))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // A token whose subject is no UUID, and a refresh token, neither.
    let odd = hydra.issue("not-an-identity", "app", &["orgs:read"], HOUR);
    app.get("/me/memberships", Auth::Bearer(&odd))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let refresh = hydra.issue_refresh_token(&subject, "app", &["orgs:read"]);
    assert!(refresh.starts_with("ory_rt_"));
    app.get("/me/memberships", Auth::Bearer(&refresh))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

async fn answers_are_cached_and_single_flight(backend: Backend) {
    let (app, hydra) = spawn(backend).await;
    let alice = app.user("alice");
    let token = hydra.issue(&alice.id.to_string(), "app", &["orgs:read"], HOUR);
    let requests = (0..8).map(|_| app.get("/me/memberships", Auth::Bearer(&token)));
    for reply in futures::future::join_all(requests).await {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    app.get("/orgs", Auth::Bearer(&token)).await;
    assert_eq!(
        hydra.calls(),
        1,
        "one introspection for concurrent and later requests"
    );
    // Revocation shows after the cache TTL (like sessions); a new token is introspected.
    let other = hydra.issue(&alice.id.to_string(), "app", &["orgs:read"], HOUR);
    app.get("/orgs", Auth::Bearer(&other)).await;
    assert_eq!(hydra.calls(), 2);
}

async fn hydra_trouble_fails_closed(backend: Backend) {
    let (app, hydra) = spawn(backend).await;
    let alice = app.user("alice");
    let subject = alice.id.to_string();
    hydra.fail_with_status(Some(500));
    let token = hydra.issue(&subject, "app", &["orgs:read"], HOUR);
    app.get("/me/memberships", Auth::Bearer(&token))
        .await
        .assert_problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "identity_provider_unavailable",
        );
    hydra.fail_with_status(None);
    hydra.set_latency(Duration::from_millis(1500));
    let slow = hydra.issue(&subject, "app", &["orgs:read"], HOUR);
    app.get("/me/memberships", Auth::Bearer(&slow))
        .await
        .assert_problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "identity_provider_unavailable",
        );
    hydra.set_latency(Duration::ZERO);
    // Failures are not cached: the first token works once Hydra answers again.
    let recovered = app.get("/me/memberships", Auth::Bearer(&token)).await;
    assert_eq!(recovered.status, StatusCode::OK, "{}", recovered.body);

    // Nothing listening where Hydra should be.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let nowhere = TestApp::spawn_with(backend, |s| {
        s.claims.hydra_admin_url = Some(format!("http://{closed}").parse().unwrap());
    })
    .await;
    nowhere
        .get("/me/memberships", Auth::Bearer(&token))
        .await
        .assert_problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "identity_provider_unavailable",
        );
}

async fn scopes_are_configurable_and_hydra_optional(backend: Backend) {
    let hydra = HydraDouble::start().await;
    let url = hydra.admin_url();
    let app = TestApp::spawn_with(backend, |s| {
        s.claims.hydra_admin_url = Some(url.parse().unwrap());
        s.claims.hydra_read_scope = "polis.read".into();
        s.claims.hydra_write_scope = "polis.write".into();
    })
    .await;
    let alice = app.user("alice");
    let subject = alice.id.to_string();
    let custom = hydra.issue(&subject, "app", &["polis.read"], HOUR);
    assert_eq!(
        app.get("/orgs", Auth::Bearer(&custom)).await.status,
        StatusCode::OK
    );
    let default_names = hydra.issue(&subject, "app", &["orgs:read", "orgs:write"], HOUR);
    app.get("/orgs", Auth::Bearer(&default_names))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");

    // Without HYDRA_ADMIN_URL, access tokens are simply not accepted.
    let plain = TestApp::spawn(backend).await;
    let reply = plain.get("/orgs", Auth::Bearer(&custom)).await;
    reply.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(plain.kratos.whoami_calls(), 0, "never sent to Kratos");
}

on_both_backends!(
    tokens_act_for_their_identity_within_scope,
    inactive_and_machine_tokens_are_refused,
    answers_are_cached_and_single_flight,
    hydra_trouble_fails_closed,
    scopes_are_configurable_and_hydra_optional,
);

/// No token Polis signs or accepts, and no key, reaches the logs, on success or failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_keys_never_reach_the_logs() {
    let logs = crate::logging::captured();
    const SECRET: &str = "log-test-signing-key-secret-0123456789";
    let hydra = HydraDouble::start().await;
    let url = hydra.admin_url();
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.claims.hydra_admin_url = Some(url.parse().unwrap());
        s.claims.signing_key_secret = Some(SECRET.into());
    })
    .await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Logged Claims").await;
    let id = org["id"].as_str().unwrap();
    let jwt = app
        .post("/me/token", Auth::Bearer(&alice.token), json!({"org": id}))
        .await
        .str("token");
    let access = hydra.issue(&alice.id.to_string(), "app", &["orgs:read"], HOUR);
    app.get("/me/memberships", Auth::Bearer(&access)).await;
    app.post("/orgs", Auth::Bearer(&access), json!({"name": "x"}))
        .await;
    hydra.fail_with_status(Some(502));
    let failing = hydra.issue(&alice.id.to_string(), "app", &["orgs:read"], HOUR);
    app.get("/me/memberships", Auth::Bearer(&failing))
        .await
        .assert_problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "identity_provider_unavailable",
        );
    app.post(
        "/authz/check",
        Auth::Bearer(&jwt),
        json!({"checks": [{"org": id}]}),
    )
    .await;

    let stored = app.store().list_signing_keys().await.unwrap();
    let sealed = stored[0].private_key.clone().unwrap();
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.contains("Hydra introspection failed"),
        "logs were captured"
    );
    let signature = jwt.rsplit('.').next().unwrap();
    for secret in [jwt.as_str(), signature, &access, &failing, &sealed, SECRET] {
        assert!(!text.contains(secret), "a secret was logged");
    }
}

/// The double answers as Hydra's admin introspection does (docs/kratos.md §9), so the tests
/// above exercise the client against Hydra's real wire format.
#[tokio::test]
async fn the_double_speaks_hydras_wire_format() {
    let hydra = HydraDouble::start().await;
    let url = format!("{}/admin/oauth2/introspect", hydra.admin_url());
    let http = reqwest::Client::new();
    let introspect = |form: Vec<(&'static str, String)>| {
        let request = http.post(&url).header("X-Request-Id", "req-1").form(&form);
        async move { crate::harness::Reply::from(request.send().await.unwrap()).await }
    };
    let token = hydra.issue(
        "6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11",
        "app",
        &["openid", "orgs:read"],
        HOUR,
    );
    assert!(token.starts_with("ory_at_") && token.contains('.'));

    let active = introspect(vec![("token", token.clone())]).await;
    assert_eq!(active.status, StatusCode::OK);
    let header = |reply: &crate::harness::Reply, name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header(&active, "content-type").as_deref(),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(
        header(&active, "cache-control").as_deref(),
        Some("no-store")
    );
    let body = &active.body;
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "openid orgs:read");
    assert_eq!(body["aud"], json!([]));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["token_use"], "access_token");
    assert!(body["exp"].is_i64() && body["iat"].is_i64() && body["nbf"].is_i64());
    assert!(body.get("ext").is_none(), "only when set");

    // `scope=` narrows: a scope the token lacks makes it inactive.
    let narrowed = introspect(vec![
        ("token", token.clone()),
        ("scope", "orgs:write".into()),
    ])
    .await;
    assert_eq!(narrowed.body, json!({"active": false}));
    hydra.revoke(&token);
    let revoked = introspect(vec![("token", token)]).await;
    assert_eq!(
        (revoked.status, revoked.body.clone()),
        (StatusCode::OK, json!({"active": false}))
    );
    let missing = introspect(vec![]).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["error"], "invalid_request");
    assert_eq!(missing.body["status_code"], 400);
    assert_eq!(missing.body["request_id"], "req-1");
}
