//! `POST /authz/check`: answers in order, per-item errors, who may ask about whom.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_backends;

async fn check(app: &TestApp, auth: Auth<'_>, checks: Value) -> Vec<Value> {
    let reply = app
        .post("/authz/check", auth, json!({ "checks": checks }))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["results"].as_array().unwrap().clone()
}

fn error_code(result: &Value) -> &str {
    result["error"]["code"].as_str().unwrap_or("")
}

async fn answers_in_order_with_errors_per_item(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob, carol) = (app.user("alice"), app.user("bob"), app.user("carol"));
    let org = app.create_org(&alice, "Checked").await;
    let (id, slug) = (org["id"].as_str().unwrap(), org["slug"].as_str().unwrap());
    let elsewhere = app.create_org(&carol, "Elsewhere").await;
    app.add_member(&alice, id, &bob, "org:member").await;

    let results = check(
        &app,
        Auth::Bearer(&bob.token),
        json!([
            {"org": slug, "permission": "org:sys_memberships:read"},
            {"org": id, "permission": "org:sys_memberships:manage"},
            {"org": id, "role": "org:member"},
            {"org": id, "role": "org:admin"},
            {"org": "no-such-org"},
            {"org": elsewhere["id"]},
            {"org": id, "identity_id": alice.id},
            {"org": id, "permission": "posts"},
            {"org": id, "identity_id": "not-a-uuid"},
            {"org": ""},
            {"org": id, "identity_id": bob.id},
        ]),
    )
    .await;
    assert_eq!(results.len(), 11);
    member_answers(&results[..4]);
    error_answers(&results[4..10]);
    assert_eq!(results[10]["allowed"], true, "naming oneself is fine");
}

fn member_answers(results: &[Value]) {
    assert_eq!(results[0]["allowed"], true);
    assert_eq!(results[0]["role"], "org:member");
    assert_eq!(
        results[0]["permissions"],
        json!(["org:sys_memberships:read"])
    );
    assert!(results[0].get("error").is_none());
    assert_eq!(
        (results[1]["allowed"].clone(), results[1]["role"].clone()),
        (json!(false), json!("org:member"))
    );
    assert_eq!(results[2]["allowed"], true);
    assert_eq!(results[3]["allowed"], false);
}

fn error_answers(results: &[Value]) {
    // Unknown, and not Bob's: the same answer, so existence is not revealed.
    for result in &results[..2] {
        assert_eq!(error_code(result), "org_not_found", "{result}");
        assert_eq!(
            (result["allowed"].clone(), result["role"].clone()),
            (json!(false), Value::Null)
        );
        assert_eq!(result["error"]["status"], 404);
    }
    assert_eq!(results[0]["error"], results[1]["error"]);
    assert_eq!(
        error_code(&results[2]),
        "forbidden",
        "identities ask about themselves only"
    );
    for (result, field) in results[3..6].iter().zip([
        "checks[7].permission",
        "checks[8].identity_id",
        "checks[9].org",
    ]) {
        assert_eq!(error_code(result), "validation_failed", "{result}");
        assert_eq!(result["error"]["errors"][0]["field"], field);
    }
}

async fn api_keys_ask_about_anyone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let org = app.create_org(&alice, "Keyed").await;
    let id = org["id"].as_str().unwrap();
    for key in [&app.read_key, &app.admin_key] {
        let results = check(
            &app,
            Auth::Bearer(key),
            json!([
                {"org": id, "identity_id": alice.id, "permission": "org:sys_profile:delete"},
                {"org": id, "identity_id": bob.id},
                {"org": "no-such-org", "identity_id": bob.id},
                {"org": id},
            ]),
        )
        .await;
        assert_eq!(results[0]["allowed"], true);
        assert_eq!(results[0]["role"], "org:admin");
        // A non-member of a visible org: not allowed, and no error.
        assert_eq!(results[1], json!({"allowed": false, "role": null}));
        assert_eq!(error_code(&results[2]), "org_not_found");
        assert_eq!(
            error_code(&results[3]),
            "validation_failed",
            "keys must name the identity"
        );
    }
}

async fn whole_request_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let auth = || Auth::Bearer(&alice.token);
    let too_many: Vec<Value> = (0..101).map(|_| json!({"org": "x"})).collect();
    for body in [
        json!({"checks": []}),
        json!({"checks": too_many}),
        json!({}),
        json!({"checks": [1]}),
        json!({"checks": [{"org": "x", "extra": true}]}),
    ] {
        app.post("/authz/check", auth(), body.clone())
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    let hundred: Vec<Value> = (0..100).map(|_| json!({"org": "x"})).collect();
    assert_eq!(check(&app, auth(), json!(hundred)).await.len(), 100);
    app.post(
        "/authz/check",
        Auth::None,
        json!({"checks": [{"org": "x"}]}),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

/// Apps that kept Clerk's org ids ask with them, in checks and for tokens.
async fn clerk_ids_name_orgs_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bob = app.user("bob");
    let document = json!({
        "organizations": [crate::import::org("org_2claims", "claims-imported")],
        "memberships": [crate::import::membership("orgmem_1", "org_2claims", "user_bob", &bob.email, "org:admin")],
        "user_map": {"user_bob": bob.id},
    });
    let imported = app
        .post(
            "/admin/imports/clerk",
            Auth::Bearer(&app.admin_key),
            document,
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    let results = check(
        &app,
        Auth::Bearer(&bob.token),
        json!([{"org": "org_2claims", "role": "org:admin"}, {"org": "org_2nothing"}]),
    )
    .await;
    assert_eq!(results[0]["allowed"], true, "{}", results[0]);
    assert_eq!(error_code(&results[1]), "org_not_found");
    let issued = app
        .post(
            "/me/token",
            Auth::Bearer(&bob.token),
            json!({"org": "org_2claims"}),
        )
        .await;
    let claims = crate::org_tokens::verify(
        &issued.str("token"),
        &crate::org_tokens::jwks(&app.base).await,
    )
    .unwrap();
    assert_eq!(claims["org_slug"], "claims-imported");
    assert_eq!(claims["org_role"], "org:admin");
}

on_both_backends!(
    clerk_ids_name_orgs_too,
    answers_in_order_with_errors_per_item,
    api_keys_ask_about_anyone,
    whole_request_rules,
);
