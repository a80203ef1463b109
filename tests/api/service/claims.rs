//! The issue-12 routes in the conformance probe: org tokens, the JWKS, the active org and
//! batch checks, each success and documented problem checked against the document.

use serde_json::json;

use super::Probe;
use crate::harness::{Auth, User};

pub(super) async fn claims_and_checks(probe: &mut Probe<'_>, org: &str, alice: &User) {
    let stranger = probe.app.user("stranger");
    tokens(probe, org, alice, &stranger).await;
    active_org(probe, org, alice, &stranger).await;
    checks(probe, org, alice, &stranger).await;
}

async fn tokens(probe: &mut Probe<'_>, org: &str, alice: &User, stranger: &User) {
    let (a, s) = (Auth::Bearer(&alice.token), Auth::Bearer(&stranger.token));
    let admin_key = probe.app.admin_key.clone();
    let admin = Auth::Bearer(&admin_key);
    probe
        .expect(200, &Auth::None, "GET /.well-known/jwks.json")
        .await;
    let issued = probe
        .expect_json(200, &a, "POST /me/token", json!({ "org": org }))
        .await;
    assert!(issued["token"].is_string());
    probe
        .expect_json(200, &a, "POST /me/token", json!({}))
        .await;
    probe
        .expect_json(404, &s, "POST /me/token", json!({ "org": org }))
        .await;
    probe
        .expect_json(403, &admin, "POST /me/token", json!({}))
        .await;
    probe
        .expect_json(422, &a, "POST /me/token", json!({ "org": "" }))
        .await;
}

async fn active_org(probe: &mut Probe<'_>, org: &str, alice: &User, stranger: &User) {
    let (a, s) = (Auth::Bearer(&alice.token), Auth::Bearer(&stranger.token));
    let admin_key = probe.app.admin_key.clone();
    let admin = Auth::Bearer(&admin_key);
    let none = probe.expect(200, &a, "GET /me/active-org").await;
    assert!(none["org"].is_null());
    probe
        .expect_json(200, &a, "PUT /me/active-org", json!({ "org": org }))
        .await;
    probe
        .expect_json(404, &s, "PUT /me/active-org", json!({ "org": org }))
        .await;
    probe
        .expect_json(422, &a, "PUT /me/active-org", json!({}))
        .await;
    let active = probe.expect(200, &a, "GET /me/active-org").await;
    assert_eq!(active["org"]["slug"], org);
    probe.expect(204, &a, "DELETE /me/active-org").await;
    probe.expect(403, &admin, "GET /me/active-org").await;
}

async fn checks(probe: &mut Probe<'_>, org: &str, alice: &User, stranger: &User) {
    let a = Auth::Bearer(&alice.token);
    let admin_key = probe.app.admin_key.clone();
    let admin = Auth::Bearer(&admin_key);
    let checks = json!({ "checks": [
        { "org": org, "permission": "org:sys_profile:manage" },
        { "org": org, "role": "Admin" },
        { "org": "no-such-org" },
    ]});
    let results = probe
        .expect_json(200, &a, "POST /authz/check", checks)
        .await;
    assert_eq!(results["results"][0]["allowed"], true);
    assert_eq!(results["results"][1]["error"]["code"], "validation_failed");
    let about = json!({ "checks": [{ "org": org, "identity_id": stranger.id }] });
    probe
        .expect_json(200, &admin, "POST /authz/check", about)
        .await;
    probe
        .expect_json(422, &a, "POST /authz/check", json!({ "checks": [] }))
        .await;
}
