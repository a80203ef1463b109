//! The audit log (`GET /orgs/{org}/audit-log`, `GET /admin/audit-log`) and event
//! retention.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use polis::clock::Clock;

use uuid::Uuid;

use crate::harness::{Auth, Backend, RawConn, TestApp, User};
use crate::on_both_backends;

/// Alice's org with Bob as a plain member whose membership carries private metadata.
async fn org_with_history(app: &TestApp, alice: &User, bob: &User) -> String {
    let org = app.create_org(alice, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.add_member(alice, &org, bob, "org:member").await;
    let noted = app
        .patch(
            &format!("/orgs/{org}/members/{}/metadata", bob.id),
            Auth::Bearer(&app.admin_key),
            json!({"private_metadata": {"salary_band": "c"}}),
        )
        .await;
    assert_eq!(noted.status, StatusCode::OK, "{}", noted.body);
    org
}

fn types(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn org_log_shows_changes_newest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let org = org_with_history(&app, &alice, &bob).await;
    let path = format!("/orgs/{org}/audit-log");

    let log = app.get(&path, Auth::Bearer(&alice.token)).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    assert_eq!(
        types(&log.body),
        [
            "organizationMembership.updated",
            "organizationMembership.created",
            "organizationMembership.created",
            "organization.created",
        ]
    );
    let newest = &log.body["data"][0];
    assert_eq!(newest["actor"]["type"], "api_key");
    assert_eq!(newest["target"]["type"], "organization_membership");
    assert_eq!(newest["target"]["id"], format!("{org}:{}", bob.id));
    assert_eq!(newest["org_id"], org);
    assert!(newest["request_id"].is_string(), "{newest}");
    let added = &log.body["data"][1];
    assert_eq!(added["actor"], json!({"type": "identity", "id": alice.id}));
    assert!(
        !log.body.to_string().contains("private_metadata"),
        "an identity sees no private metadata: {}",
        log.body
    );

    let as_admin = app.get(&path, Auth::Bearer(&app.admin_key)).await;
    assert_eq!(as_admin.status, StatusCode::OK, "{}", as_admin.body);
    assert_eq!(
        as_admin.body["data"][0]["data"]["private_metadata"],
        json!({"salary_band": "c"})
    );

    app.get(&path, Auth::Bearer(&bob.token))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let stranger = app.user("mallory");
    app.get(&path, Auth::Bearer(&stranger.token))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
}

async fn org_log_filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let org = org_with_history(&app, &alice, &bob).await;
    let path = format!("/orgs/{org}/audit-log");
    let get = |query: String| {
        let path = format!("{path}?{query}");
        let token = alice.token.clone();
        let app = &app;
        async move { app.get(&path, Auth::Bearer(&token)).await }
    };

    let created = get("type=organization.created,organizationMembership.updated".into()).await;
    assert_eq!(
        types(&created.body),
        ["organizationMembership.updated", "organization.created"]
    );
    let by_alice = get(format!("actor_id={}", alice.id)).await;
    assert_eq!(by_alice.body["data"].as_array().unwrap().len(), 3);

    let mut seen = Vec::new();
    let mut query = "page_size=3".to_owned();
    loop {
        let page = get(query.clone()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(types(&page.body));
        match page.body["next_page_token"].as_str() {
            Some(token) => query = format!("page_size=3&page_token={token}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "every event once: {seen:?}");

    let later = (app.clock.now() + Duration::hours(1)).to_rfc3339();
    let since = get(format!("since={}", urlencode(&later))).await;
    assert_eq!(since.body["data"], json!([]));
    let until = get(format!("until={}", urlencode(&later))).await;
    assert_eq!(until.body["data"].as_array().unwrap().len(), 4);

    get("page_token=nonsense".into())
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    get("since=yesterday".into())
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

async fn instance_log_is_for_api_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let org = org_with_history(&app, &alice, &bob).await;
    let deleted = app
        .delete(&format!("/orgs/{org}"), Auth::Bearer(&alice.token))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    app.create_org(&bob, "Other").await;

    app.get("/admin/audit-log", Auth::Bearer(&alice.token))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let path = format!("/admin/audit-log?org_id={org}");
    let read = app.get(&path, Auth::Bearer(&app.read_key)).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let kinds = types(&read.body);
    assert_eq!(kinds.len(), 7, "{kinds:?}");
    assert_eq!(kinds[0], "organization.deleted");
    assert!(!read.body.to_string().contains("salary_band"));
    let all = app
        .get("/admin/audit-log", Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 9);
    assert!(all.body.to_string().contains("salary_band"));
}

/// With `POLIS_IDENTITY_TRAITS` listing names only, the log hides members' addresses as
/// member lists do.
async fn log_hides_traits_member_lists_hide(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.identity_traits = vec!["first_name".into(), "last_name".into()];
    })
    .await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let org = org_with_history(&app, &alice, &bob).await;
    for key in [&alice.token, &app.admin_key] {
        let log = app
            .get(&format!("/orgs/{org}/audit-log"), Auth::Bearer(key))
            .await;
        assert_eq!(log.status, StatusCode::OK, "{}", log.body);
        assert!(!log.body.to_string().contains(&bob.email), "{}", log.body);
        let profile = &log.body["data"][1]["data"]["public_user_data"];
        assert_eq!(profile["user_id"], bob.id.to_string());
        assert_eq!(profile["identifier"], Value::Null, "{profile}");
    }
}

/// Retention removes what is past it, except what an enabled endpoint still awaits.
async fn pruning_keeps_what_webhooks_still_need(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut raw = app.db.raw().await;
    let endpoint = Uuid::now_v7();
    raw.run(&[(
        "INSERT INTO webhook_endpoints (id, url, secret, created_at, updated_at) \
         VALUES ($1, 'https://hooks.example.com/', 'whsec_dGVzdA==', \
         CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        Some(endpoint),
    )])
    .await;
    let alice = app.user("alice");
    app.create_org(&alice, "Old").await;
    app.clock.advance(Duration::days(10));
    app.create_org(&alice, "New").await;
    let events = "SELECT COUNT(*) FROM events";
    let deliveries = "SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1";
    assert_eq!(raw.count(events, None).await, 4);
    let cutoff = app.clock.now() - Duration::days(5);
    assert_eq!(app.store().prune_events(cutoff).await.unwrap(), 0);
    assert_eq!(
        raw.count(events, None).await,
        4,
        "pending deliveries keep them"
    );

    // A disabled endpoint holds nothing back.
    let set_disabled = "UPDATE webhook_endpoints SET disabled_at = CURRENT_TIMESTAMP WHERE id = $1";
    raw.run(&[(set_disabled, Some(endpoint))]).await;
    assert_eq!(app.store().prune_events(cutoff).await.unwrap(), 2);
    assert_eq!(raw.count(events, None).await, 2);
    assert_eq!(
        raw.count(deliveries, Some(endpoint)).await,
        2,
        "the new org's"
    );

    pruning_skips_delivered_events(&app, &mut raw, endpoint).await;
}

/// A delivery that succeeded holds nothing back either.
async fn pruning_skips_delivered_events(app: &TestApp, raw: &mut RawConn, endpoint: Uuid) {
    let events = "SELECT COUNT(*) FROM events";
    let deliveries = "SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1";
    let enable = "UPDATE webhook_endpoints SET disabled_at = NULL WHERE id = $1";
    let succeeded = "UPDATE webhook_deliveries SET status = 'succeeded' WHERE endpoint_id = $1";
    raw.run(&[(enable, Some(endpoint)), (succeeded, Some(endpoint))])
        .await;
    app.clock.advance(Duration::days(10));
    let cutoff = app.clock.now() - Duration::days(5);
    assert_eq!(app.store().prune_events(cutoff).await.unwrap(), 2);
    assert_eq!(raw.count(events, None).await, 0);
    assert_eq!(raw.count(deliveries, Some(endpoint)).await, 0);
}

on_both_backends!(
    org_log_shows_changes_newest_first,
    org_log_filters_and_pages,
    instance_log_is_for_api_keys,
    log_hides_traits_member_lists_hide,
    pruning_keeps_what_webhooks_still_need,
);
