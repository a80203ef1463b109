//! The verification budget of a domain name, shared by every org that claims it: codes
//! drawn by many orgs for one name cannot multiply the tries at guessing.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use super::{add_domain, app_with_email, attempt, other_code, send_code, Mailing};
use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

on_both_backends!(
    wrong_codes_from_many_orgs_share_one_budget,
    codes_for_one_name_are_limited_a_day,
);

/// `owner`'s new org claiming the unverified `acme.com`: (org id, domain id).
async fn claim(app: &TestApp, owner: &User, org_name: &str) -> (String, String) {
    let org = app.create_org(owner, org_name).await;
    let org = org["id"].as_str().unwrap().to_owned();
    let domain = add_domain(app, Auth::Bearer(&owner.token), &org, "acme.com").await;
    (org, domain["id"].as_str().unwrap().to_owned())
}

/// Draws a code for the claim and enters five wrong ones, burning it.
async fn burn_a_code(app: &Mailing, owner: &User, (org, id): &(String, String)) {
    let me = || Auth::Bearer(&owner.token);
    let code = send_code(app, me(), org, id, "x@acme.com").await;
    for _ in 0..5 {
        attempt(app, me(), org, id, &other_code(&code))
            .await
            .assert_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "verification_code_invalid",
            );
    }
}

async fn wrong_codes_from_many_orgs_share_one_budget(backend: Backend) {
    let app = app_with_email(backend).await;
    let (alice, mallory) = (app.user("alice"), app.user("mallory"));
    // Mallory's two orgs spend the name's ten wrong codes of the day.
    for name in ["Decoy One", "Decoy Two"] {
        let decoy = claim(&app, &mallory, name).await;
        burn_a_code(&app, &mallory, &decoy).await;
    }
    // Even the right code of a third org is not tried now.
    let (org, id) = claim(&app, &alice, "Acme").await;
    let me = || Auth::Bearer(&alice.token);
    let code = send_code(&app, me(), &org, &id, "it@acme.com").await;
    let refused = attempt(&app, me(), &org, &id, &code).await;
    refused.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let wait: i64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 23 * 3600 && wait <= 24 * 3600, "Retry-After {wait}");
    let read = app.get(&format!("/orgs/{org}/domains/{id}"), me()).await;
    assert_eq!(read.body["verified"], false);
    // A day later the budget is whole again.
    app.clock.advance(Duration::hours(24));
    let fresh = send_code(&app, me(), &org, &id, "it@acme.com").await;
    let verified = attempt(&app, me(), &org, &id, &fresh).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
}

async fn codes_for_one_name_are_limited_a_day(backend: Backend) {
    let app = app_with_email(backend).await;
    let alice = app.user("alice");
    let (org, id) = claim(&app, &alice, "Acme").await;
    let me = || Auth::Bearer(&alice.token);
    for _ in 0..10 {
        send_code(&app, me(), &org, &id, "it@acme.com").await;
        app.clock.advance(Duration::seconds(61));
    }
    let path = format!("/orgs/{org}/domains/{id}/verification");
    let refused = app.post(&path, me(), json!({"email": "it@acme.com"})).await;
    refused.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let wait: i64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 60, "Retry-After {wait}");
    app.clock.advance(Duration::hours(24));
    send_code(&app, me(), &org, &id, "it@acme.com").await;
}
