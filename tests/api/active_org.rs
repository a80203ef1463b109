//! `/me/active-org`: kept per Kratos session, only for members, cleared with the
//! membership or the org.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

const PATH: &str = "/me/active-org";

async fn active_org_of(app: &TestApp, token: &str) -> Value {
    let reply = app.get(PATH, Auth::Bearer(token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["org"].clone()
}

async fn per_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Active Co").await;
    let (id, slug) = (org["id"].as_str().unwrap(), org["slug"].as_str().unwrap());
    assert_eq!(active_org_of(&app, &alice.token).await, Value::Null);

    let set = app
        .call(
            reqwest::Method::PUT,
            PATH,
            Auth::Bearer(&alice.token),
            Some(json!({"org": slug})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["org"]["id"], id);
    assert_eq!(set.body["org"]["slug"], slug);
    let active = active_org_of(&app, &alice.token).await;
    assert_eq!(active["id"], id);
    assert_eq!(active["name"], "Active Co");

    // Another browser (another Kratos session of Alice's) has its own.
    let second = app.kratos.create_session(alice.id);
    assert_eq!(active_org_of(&app, &second.token).await, Value::Null);
    token_follows_the_active_org(&app, &alice, id).await;
    let cleared = app.delete(PATH, Auth::Bearer(&alice.token)).await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT, "{}", cleared.body);
    assert_eq!(active_org_of(&app, &alice.token).await, Value::Null);
}

/// The active org is what a token without `org` is about.
async fn token_follows_the_active_org(app: &TestApp, alice: &User, id: &str) {
    let jwt = app
        .post("/me/token", Auth::Bearer(&alice.token), json!({}))
        .await
        .str("token");
    let claims =
        crate::org_tokens::verify(&jwt, &crate::org_tokens::jwks(&app.base).await).unwrap();
    assert_eq!(claims["org_id"], id);
    assert_eq!(claims["org_role"], "org:admin");
}

/// Only members; others learn nothing about the org.
async fn members_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, carol) = (app.user("alice"), app.user("carol"));
    let org = app.create_org(&alice, "Members Co").await;
    let id = org["id"].as_str().unwrap();
    let put = |token: &str, body: Value| {
        let token = token.to_owned();
        let app = &app;
        async move {
            app.call(reqwest::Method::PUT, PATH, Auth::Bearer(&token), Some(body))
                .await
        }
    };
    put(&carol.token, json!({"org": id}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    put(&carol.token, json!({"org": "no-such-org"}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    put(&carol.token, json!({}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(active_org_of(&app, &carol.token).await, Value::Null);
    // API keys have no session.
    app.get(PATH, Auth::Bearer(&app.admin_key))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

async fn cleared_when_the_membership_or_org_goes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let kept = app.create_org(&alice, "Kept").await;
    let doomed = app.create_org(&alice, "Doomed").await;
    let (kept, doomed) = (kept["id"].as_str().unwrap(), doomed["id"].as_str().unwrap());
    app.add_member(&alice, kept, &bob, "org:member").await;
    let put = |token: &str, org: &str| {
        let (token, org) = (token.to_owned(), org.to_owned());
        let app = &app;
        async move {
            let reply = app
                .call(
                    reqwest::Method::PUT,
                    PATH,
                    Auth::Bearer(&token),
                    Some(json!({"org": org})),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
    };

    // Bob leaves: his active org goes with the membership.
    put(&bob.token, kept).await;
    let left = app
        .delete(
            &format!("/orgs/{kept}/members/{}", bob.id),
            Auth::Bearer(&bob.token),
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{}", left.body);
    assert_eq!(active_org_of(&app, &bob.token).await, Value::Null);
    cleared_with_the_org(&app, &alice, doomed).await;
}

/// The org is deleted: so is every session's choice of it.
async fn cleared_with_the_org(app: &TestApp, alice: &User, doomed: &str) {
    let put = |token: &str| {
        let token = token.to_owned();
        async move {
            let body = Some(json!({"org": doomed}));
            let reply = app
                .call(reqwest::Method::PUT, PATH, Auth::Bearer(&token), body)
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
    };
    put(&alice.token).await;
    let other_session = app.kratos.create_session(alice.id);
    put(&other_session.token).await;
    let deleted = app
        .delete(&format!("/orgs/{doomed}"), Auth::Bearer(&alice.token))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(active_org_of(app, &alice.token).await, Value::Null);
    assert_eq!(active_org_of(app, &other_session.token).await, Value::Null);
    let jwt = app
        .post("/me/token", Auth::Bearer(&alice.token), json!({}))
        .await
        .str("token");
    let claims =
        crate::org_tokens::verify(&jwt, &crate::org_tokens::jwks(&app.base).await).unwrap();
    assert!(claims.get("org_id").is_none(), "{claims}");
}

async fn browsers_may_put_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Browser Co").await;
    let id = org["id"].as_str().unwrap();
    // The CORS preflight allows PUT for an allowed origin.
    let preflight = app
        .request(reqwest::Method::OPTIONS, PATH, Auth::None)
        .header("Origin", crate::harness::ALLOWED_ORIGIN)
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await
        .unwrap();
    let allowed = preflight
        .headers()
        .get("access-control-allow-methods")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(allowed.contains("PUT"), "{allowed}");
    // With the cookie, from that origin (and only from it).
    let put = app
        .request(reqwest::Method::PUT, PATH, Auth::Cookie(&alice.cookie))
        .header("Origin", crate::harness::ALLOWED_ORIGIN)
        .json(&json!({"org": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let forged = app
        .request(reqwest::Method::PUT, PATH, Auth::Cookie(&alice.cookie))
        .header("Origin", "https://evil.example")
        .json(&json!({"org": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let active = app.get(PATH, Auth::Cookie(&alice.cookie)).await;
    assert_eq!(active.body["org"]["id"], id);
}

on_both_backends!(
    per_session,
    members_only,
    cleared_when_the_membership_or_org_goes,
    browsers_may_put_it,
);
