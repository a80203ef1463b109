//! Verification by a 6-digit code: sent to an address at the domain, rate-limited,
//! single-use, expiring, burned by five wrong tries; a name verified by one org at most.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use super::{add_domain, app_with_email, attempt, other_code, send_code};
use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

on_both_backends!(
    a_code_verifies_the_domain_once,
    codes_expire,
    five_wrong_codes_burn_the_code,
    codes_need_email,
    a_name_verified_elsewhere_is_refused_at_verification,
    a_replaced_code_is_not_mailed,
);

/// Alice's org "Acme" with an unverified `acme.com`: (org id, domain id).
async fn acme(app: &TestApp, alice: &User) -> (String, String) {
    let org = app.create_org(alice, "Acme").await;
    let org = org["id"].as_str().unwrap().to_owned();
    let domain = add_domain(app, Auth::Bearer(&alice.token), &org, "acme.com").await;
    (org, domain["id"].as_str().unwrap().to_owned())
}

async fn a_code_verifies_the_domain_once(backend: Backend) {
    let app = app_with_email(backend).await;
    let alice = app.user("alice");
    let (org, id) = acme(&app, &alice).await;
    let me = || Auth::Bearer(&alice.token);
    let path = format!("/orgs/{org}/domains/{id}/verification");
    only_addresses_at_the_domain(&app, &alice.token, &path).await;
    let code = send_code(&app, me(), &org, &id, "it@acme.com").await;
    a_code_is_pending(&app, &alice.token, &org, &id, &code).await;

    // One code a minute per domain.
    let again = app.post(&path, me(), json!({"email": "it@acme.com"})).await;
    again.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(again.headers["retry-after"], "60");

    let wrong = attempt(&app, me(), &org, &id, &other_code(&code)).await;
    wrong.assert_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "verification_code_invalid",
    );
    attempt(&app, me(), &org, &id, "12345")
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let verified = attempt(&app, me(), &org, &id, &code).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.body["verified"], true);
    assert_eq!(verified.body["verification"]["strategy"], "email_code");
    assert_eq!(verified.body["verification"]["attempts"], 1);
    // Single use: the code does nothing twice, and no new one is sent.
    attempt(&app, me(), &org, &id, &code)
        .await
        .assert_problem(StatusCode::CONFLICT, "domain_already_verified");
    app.clock.advance(Duration::minutes(2));
    app.post(&path, me(), json!({"email": "it@acme.com"}))
        .await
        .assert_problem(StatusCode::CONFLICT, "domain_already_verified");
    last_event_says_verified(&app).await;
}

async fn only_addresses_at_the_domain(app: &TestApp, token: &str, path: &str) {
    for elsewhere in ["ada@acme.org", "ada@eu.acme.com", "ada@notacme.com"] {
        app.post(path, Auth::Bearer(token), json!({"email": elsewhere}))
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "domain_address_mismatch");
    }
    // Not addresses at all: refused before any code is drawn.
    let long = format!("{}@acme.com", "a".repeat(400));
    for not_an_address in ["acme.com", "a b@acme.com", "@acme.com", long.as_str()] {
        app.post(path, Auth::Bearer(token), json!({"email": not_an_address}))
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
}

async fn a_code_is_pending(app: &TestApp, token: &str, org: &str, id: &str, code: &str) {
    assert_eq!(code.len(), 6);
    let message = super::queued_email(app, "it@acme.com").await;
    assert_eq!(message["domain"], "acme.com");
    assert_eq!(message["org_name"], "Acme");
    assert_eq!(message["expires_in_minutes"], 10);
    let pending = app
        .get(&format!("/orgs/{org}/domains/{id}"), Auth::Bearer(token))
        .await;
    assert_eq!(pending.body["affiliation_email_address"], "it@acme.com");
    assert_eq!(pending.body["verification"]["strategy"], "email_code");
    assert_eq!(pending.body["verification"]["status"], "unverified");
    assert!(pending.body["verification"]["expires_at"].is_string());
}

async fn last_event_says_verified(app: &TestApp) {
    let events = app.db.raw().await.events().await;
    let last = events.last().unwrap();
    assert_eq!(last.kind, "organizationDomain.updated");
    assert_eq!(
        last.data.0["affiliation_verification"]["status"],
        "verified"
    );
    assert_eq!(
        last.data.0["affiliation_verification"]["strategy"],
        "email_code"
    );
    assert_eq!(last.data.0["affiliation_email_address"], "it@acme.com");
}

async fn codes_expire(backend: Backend) {
    let app = app_with_email(backend).await;
    let alice = app.user("alice");
    let (org, id) = acme(&app, &alice).await;
    let me = || Auth::Bearer(&alice.token);
    let code = send_code(&app, me(), &org, &id, "it@acme.com").await;
    app.clock.advance(Duration::minutes(10));
    attempt(&app, me(), &org, &id, &code).await.assert_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "verification_code_expired",
    );
    let read = app.get(&format!("/orgs/{org}/domains/{id}"), me()).await;
    assert_eq!(read.body["verification"]["status"], "expired");
    // A new code replaces it; the old one is worthless.
    let fresh = send_code(&app, me(), &org, &id, "it@acme.com").await;
    if fresh != code {
        attempt(&app, me(), &org, &id, &code).await.assert_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "verification_code_invalid",
        );
    }
    app.clock.advance(Duration::minutes(9));
    let verified = attempt(&app, me(), &org, &id, &fresh).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
}

async fn five_wrong_codes_burn_the_code(backend: Backend) {
    let app = app_with_email(backend).await;
    let alice = app.user("alice");
    let (org, id) = acme(&app, &alice).await;
    let me = || Auth::Bearer(&alice.token);
    let code = send_code(&app, me(), &org, &id, "it@acme.com").await;
    let wrong = other_code(&code);
    for left in (0..5).rev() {
        let reply = attempt(&app, me(), &org, &id, &wrong).await;
        reply.assert_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "verification_code_invalid",
        );
        assert_eq!(reply.body["remaining_attempts"], left, "{}", reply.body);
        let detail = reply.body["detail"].as_str().unwrap();
        if left == 0 {
            assert!(detail.contains("no attempts remain"), "{detail}");
        } else {
            assert!(detail.contains(&format!("{left} attempt")), "{detail}");
        }
    }
    // Burned: even the right code is refused until a new one is sent.
    attempt(&app, me(), &org, &id, &code)
        .await
        .assert_problem(StatusCode::CONFLICT, "verification_code_missing");
    let read = app.get(&format!("/orgs/{org}/domains/{id}"), me()).await;
    assert_eq!(read.body["verification"]["status"], "failed");
    assert_eq!(read.body["verification"]["attempts"], 5);
    app.clock.advance(Duration::minutes(1));
    let fresh = send_code(&app, me(), &org, &id, "it@acme.com").await;
    let verified = attempt(&app, me(), &org, &id, &fresh).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.body["verification"]["attempts"], 0);
}

async fn codes_need_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let (org, id) = acme(&app, &alice).await;
    app.post(
        &format!("/orgs/{org}/domains/{id}/verification"),
        Auth::Bearer(&alice.token),
        json!({"email": "it@acme.com"}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "email_not_configured");
    attempt(&app, Auth::Bearer(&alice.token), &org, &id, "123456")
        .await
        .assert_problem(StatusCode::CONFLICT, "verification_code_missing");
}

async fn a_name_verified_elsewhere_is_refused_at_verification(backend: Backend) {
    let app = app_with_email(backend).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let (org, id) = acme(&app, &alice).await;
    let rival = app.create_org(&bob, "Rival").await;
    let rival = rival["id"].as_str().unwrap().to_owned();
    let rival_domain = add_domain(&app, Auth::Bearer(&bob.token), &rival, "acme.com").await;
    let rival_id = rival_domain["id"].as_str().unwrap().to_owned();
    let code = send_code(&app, Auth::Bearer(&alice.token), &org, &id, "a@acme.com").await;
    let rival_code = send_code(
        &app,
        Auth::Bearer(&bob.token),
        &rival,
        &rival_id,
        "b@acme.com",
    )
    .await;
    let won = attempt(&app, Auth::Bearer(&alice.token), &org, &id, &code).await;
    assert_eq!(won.status, StatusCode::OK, "{}", won.body);
    let lost = attempt(
        &app,
        Auth::Bearer(&bob.token),
        &rival,
        &rival_id,
        &rival_code,
    )
    .await;
    lost.assert_problem(StatusCode::CONFLICT, "domain_taken");
    assert!(!lost.body["detail"].as_str().unwrap().contains("Acme"));
    // Once Acme lets go of the name, the rival may verify it with the same code.
    app.delete(
        &format!("/orgs/{org}/domains/{id}"),
        Auth::Bearer(&alice.token),
    )
    .await;
    let now_won = attempt(
        &app,
        Auth::Bearer(&bob.token),
        &rival,
        &rival_id,
        &rival_code,
    )
    .await;
    assert_eq!(now_won.status, StatusCode::OK, "{}", now_won.body);
}

/// While the SMTP server is down, a second code replaces the first: the first code's
/// e-mail is withdrawn (its code cleared), and only the working code arrives.
async fn a_replaced_code_is_not_mailed(backend: Backend) {
    let mut mailing = app_with_email(backend).await;
    let alice = mailing.user("alice");
    let (org, id) = acme(&mailing, &alice).await;
    let me = || Auth::Bearer(&alice.token);
    let path = format!("/orgs/{org}/domains/{id}/verification");
    mailing.sink.stop().await;
    for _ in 0..2 {
        let sent = mailing
            .post(&path, me(), json!({"email": "it@acme.com"}))
            .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        mailing.clock.advance(Duration::seconds(61));
    }
    let mut conn = mailing.db.raw().await;
    let cancelled = conn
        .count(
            "SELECT COUNT(*) FROM email_outbox WHERE status = 'cancelled' \
             AND CAST(message AS TEXT) LIKE '%<redacted>%'",
            None,
        )
        .await;
    assert_eq!(cancelled, 1, "the first code's e-mail is withdrawn");
    mailing.sink.restart().await;
    // A send that failed against the stopped sink must be recorded before the clock
    // moves: its retry is scheduled from the time it fails.
    for _ in 0..500 {
        let sending = "SELECT COUNT(*) FROM email_outbox WHERE status = 'sending'";
        if conn.count(sending, None).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    mailing.clock.advance(Duration::minutes(3));
    let mails = mailing.sink.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        mailing.sink.messages().len(),
        1,
        "one e-mail: the working code"
    );
    let code = super::six_digits(&mails[0].text).expect("a code");
    let verified = attempt(&mailing, me(), &org, &id, &code).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
}
