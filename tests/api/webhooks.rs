//! Webhook endpoints and delivery: signed Clerk-shaped envelopes verified by an
//! independent Standard Webhooks implementation, Svix's retry schedule on the manual
//! clock, `Retry-After`, `410 Gone` and five days of failures, secret rotation, type
//! filters, test events, replays, and the refusal of private URLs.

mod receiver;
mod replicas;

use std::collections::HashSet;
use std::time::Duration;

use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_backends;
use receiver::{Received, Receiver};

/// A test app whose worker may call the local receiver and looks for work often.
pub async fn app_with_webhooks(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        settings.webhooks.allow_private_urls = true;
        settings.webhooks.poll_interval_ms = 20;
        settings.webhooks.instance_id = "ins_test".into();
    })
    .await
}

/// Registers `receiver` with `body`'s other fields; returns the endpoint and its secret.
pub async fn create_endpoint(app: &TestApp, receiver: &Receiver, body: Value) -> (String, String) {
    let mut body = body;
    body["url"] = json!(receiver.url);
    let reply = app
        .post("/admin/webhooks", Auth::Bearer(&app.admin_key), body)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (reply.str("id"), reply.str("secret"))
}

/// The endpoint's attempts, newest first, once there are at least `count`.
async fn attempts(app: &TestApp, endpoint: &str, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let reply = app
            .get(
                &format!("/admin/webhooks/{endpoint}/deliveries"),
                Auth::Bearer(&app.admin_key),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let data = reply.body["data"].as_array().unwrap().clone();
        if data.len() >= count {
            return data;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} attempts recorded");
}

async fn endpoint(app: &TestApp, id: &str) -> Value {
    let reply = app
        .get(
            &format!("/admin/webhooks/{id}"),
            Auth::Bearer(&app.admin_key),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn of_type<'a>(received: &'a [Received], kind: &str) -> Vec<&'a Received> {
    received
        .iter()
        .filter(|r| r.json()["type"] == kind)
        .collect()
}

async fn deliveries_are_signed_clerk_envelopes(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let receiver = Receiver::start().await;
    let (endpoint_id, secret) = create_endpoint(&app, &receiver, json!({})).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;

    let received = receiver.wait_for(2).await;
    let created = of_type(&received, "organization.created");
    let delivery = created.first().expect("organization.created delivered");
    let webhook = standardwebhooks::Webhook::new(&secret).unwrap();
    webhook
        .verify(&delivery.body, &delivery.headers)
        .expect("the standardwebhooks crate verifies the delivery");
    for name in ["id", "timestamp", "signature"] {
        assert_eq!(
            delivery.header(&format!("svix-{name}")),
            delivery.header(&format!("webhook-{name}"))
        );
    }
    let envelope = delivery.json();
    assert_eq!(envelope["object"], "event");
    assert_eq!(envelope["instance_id"], "ins_test");
    assert!(envelope["timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    assert_eq!(envelope["data"]["id"], org["id"]);
    assert_eq!(
        envelope["event_attributes"]["http_request"]["client_ip"],
        "127.0.0.1"
    );
    assert!(delivery.header("webhook-id").starts_with("msg_"));

    let attempts = attempts(&app, &endpoint_id, 2).await;
    assert!(
        attempts.iter().all(|a| a["status_code"] == 204),
        "{attempts:?}"
    );
    assert!(attempts.iter().all(|a| a["next_attempt_at"].is_null()));
    assert_eq!(attempts[0]["attempt"], 1);
    assert_delivery_metrics(&app, 2).await;
}

/// Prometheus counts the successful attempts and shows the outbox lag.
async fn assert_delivery_metrics(app: &TestApp, succeeded: usize) {
    let metrics = reqwest::get(format!("{}/metrics/prometheus", app.metrics_base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            r#"polis_webhook_deliveries_total{{outcome="succeeded"}} {succeeded}"#
        )),
        "{metrics}"
    );
    assert!(metrics.contains("polis_webhook_outbox_lag_seconds"));
}

/// The time from an attempt to the next one it scheduled.
fn retry_gap(attempt: &Value) -> TimeDelta {
    let at = |key: &str| chrono::DateTime::parse_from_rfc3339(attempt[key].as_str().unwrap());
    at("next_attempt_at").unwrap() - at("attempted_at").unwrap()
}

/// Moves the clock to a second before the next attempt is due (nothing comes), then to
/// when it is due (it comes); returns what arrived so far.
async fn next_attempt_after(
    app: &TestApp,
    receiver: &Receiver,
    delay: TimeDelta,
    received: usize,
) -> Vec<Received> {
    app.clock.advance(delay - TimeDelta::seconds(1));
    receiver
        .assert_still(received, Duration::from_millis(300))
        .await;
    app.clock.advance(TimeDelta::seconds(1));
    receiver.wait_for(received + 1).await
}

async fn failures_are_retried_on_the_schedule(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let receiver = Receiver::start().await;
    let (endpoint_id, secret) = create_endpoint(
        &app,
        &receiver,
        json!({"event_types": ["organization.created"]}),
    )
    .await;
    receiver.script(&[(500, None), (503, Some("600")), (204, None)]);
    app.create_org(&app.user("alice"), "Acme").await;

    receiver.wait_for(1).await;
    let first = attempts(&app, &endpoint_id, 1).await;
    assert_eq!(first[0]["status_code"], 500);
    assert_eq!(retry_gap(&first[0]), TimeDelta::seconds(5));
    next_attempt_after(&app, &receiver, TimeDelta::seconds(5), 1).await;
    let second = attempts(&app, &endpoint_id, 2).await;
    assert_eq!(second[0]["attempt"], 2);
    // The schedule says 5 min; Retry-After asked for 10.
    assert_eq!(retry_gap(&second[0]), TimeDelta::seconds(600));
    let received = next_attempt_after(&app, &receiver, TimeDelta::seconds(600), 2).await;
    let ids: HashSet<String> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 1, "one id across retries: {ids:?}");
    let stamps: HashSet<String> = received
        .iter()
        .map(|r| r.header("webhook-timestamp"))
        .collect();
    assert_eq!(stamps.len(), 3, "each attempt is stamped when sent");
    received
        .iter()
        .for_each(|delivery| delivery.verify(&secret));
    let third = attempts(&app, &endpoint_id, 3).await;
    assert_eq!(third[0]["status_code"], 204);
    assert!(endpoint(&app, &endpoint_id).await["failing_since"].is_null());
}

async fn replay(app: &TestApp, endpoint_id: &str, body: Value) -> crate::harness::Reply {
    app.post(
        &format!("/admin/webhooks/{endpoint_id}/replay"),
        Auth::Bearer(&app.admin_key),
        body,
    )
    .await
}

/// A redirect is a failure, not followed; of a long answer 4 KiB are kept.
async fn redirects_are_not_followed_and_answers_are_capped(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let receiver = Receiver::start().await;
    let filter = json!({"event_types": ["organization.created"]});
    let (endpoint_id, _) = create_endpoint(&app, &receiver, filter).await;
    receiver.script(&[(307, Some(&receiver.url)), (200, None)]);
    receiver.answer_body("x".repeat(10_000));
    app.create_org(&app.user("alice"), "Acme").await;
    receiver.wait_for(1).await;
    let first = attempts(&app, &endpoint_id, 1).await;
    assert_eq!(first[0]["status_code"], 307);
    assert!(!first[0]["next_attempt_at"].is_null(), "retried later");
    receiver.assert_still(1, Duration::from_millis(300)).await;
    next_attempt_after(&app, &receiver, TimeDelta::seconds(5), 1).await;
    let second = attempts(&app, &endpoint_id, 2).await;
    assert_eq!(second[0]["status_code"], 200);
    assert_eq!(second[0]["response_body"].as_str().unwrap().len(), 4096);
}

async fn deliveries_are_given_up_after_eight_attempts(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let receiver = Receiver::start().await;
    let (endpoint_id, _) = create_endpoint(
        &app,
        &receiver,
        json!({"event_types": ["organization.created"]}),
    )
    .await;
    receiver.answer_always(500);
    let start = polis::clock::Clock::now(app.clock.as_ref());
    app.create_org(&app.user("alice"), "Acme").await;
    receiver.wait_for(1).await;
    let delays = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
    for (n, delay) in delays.iter().enumerate() {
        attempts(&app, &endpoint_id, n + 1).await;
        next_attempt_after(&app, &receiver, TimeDelta::seconds(*delay), n + 1).await;
    }
    let all = attempts(&app, &endpoint_id, 8).await;
    assert_eq!(all[0]["attempt"], 8);
    assert!(all[0]["next_attempt_at"].is_null(), "given up: {}", all[0]);
    app.clock.advance(TimeDelta::hours(20));
    receiver.assert_still(8, Duration::from_millis(300)).await;
    assert_eq!(endpoint(&app, &endpoint_id).await["disabled"], false);

    receiver.answer_always(204);
    replay_since_resends(&app, &receiver, &endpoint_id, start).await;
}

/// Replays every failed delivery since `start`: the one given up goes out again, with a
/// fresh schedule.
async fn replay_since_resends(
    app: &TestApp,
    receiver: &Receiver,
    endpoint_id: &str,
    start: chrono::DateTime<chrono::Utc>,
) {
    let replayed = replay(app, endpoint_id, json!({"since": start.to_rfc3339()})).await;
    assert_eq!(replayed.status, StatusCode::ACCEPTED, "{}", replayed.body);
    assert_eq!(replayed.body["queued"], 1);
    receiver.wait_for(9).await;
    let after = attempts(app, endpoint_id, 9).await;
    assert_eq!(after[0]["status_code"], 204);
    assert_eq!(after[0]["attempt"], 1, "a replay starts a fresh schedule");
}

async fn one_event_is_replayed_by_its_id(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let receiver = Receiver::start().await;
    let filter = json!({"event_types": ["organization.created"]});
    let (endpoint_id, _) = create_endpoint(&app, &receiver, filter).await;
    app.create_org(&app.user("alice"), "Acme").await;
    let first = receiver.wait_for(1).await;
    let event_id = first[0].header("webhook-id").replace("msg_", "");
    let again = replay(&app, &endpoint_id, json!({ "event_id": event_id })).await;
    assert_eq!(again.body["queued"], 1, "{}", again.body);
    let both = receiver.wait_for(2).await;
    assert_eq!(both[0].body, both[1].body);
    let unknown = replay(
        &app,
        &endpoint_id,
        json!({"event_id": uuid::Uuid::now_v7()}),
    )
    .await;
    unknown.assert_problem(StatusCode::NOT_FOUND, "event_not_found");
    let neither = replay(&app, &endpoint_id, json!({})).await;
    neither.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

/// The endpoint once `done` holds for it (up to 5 s).
async fn endpoint_once(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let current = endpoint(app, id).await;
        if done(&current) {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    endpoint(app, id).await
}

async fn gone_disables_the_endpoint(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let gone = Receiver::start().await;
    let filter = json!({"event_types": ["organization.created"]});
    let (gone_id, _) = create_endpoint(&app, &gone, filter).await;
    gone.answer_always(410);
    let alice = app.user("alice");
    app.create_org(&alice, "One").await;
    gone.wait_for(1).await;
    let disabled = endpoint_once(&app, &gone_id, |e| e["disabled"] == true).await;
    assert_eq!(disabled["disabled"], true, "{disabled}");
    assert!(disabled["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("410"));
    app.create_org(&alice, "Two").await;
    gone.assert_still(1, Duration::from_millis(300)).await;
}

async fn five_days_of_failures_disable_the_endpoint(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let failing = Receiver::start().await;
    let filter = json!({"event_types": ["organization.created"]});
    let (failing_id, _) = create_endpoint(&app, &failing, filter).await;
    failing.answer_always(500);
    app.create_org(&app.user("alice"), "One").await;
    failing.wait_for(1).await;
    let failing_since = endpoint_once(&app, &failing_id, |e| !e["failing_since"].is_null()).await;
    assert!(!failing_since["failing_since"].is_null());
    // The retry due then fails too, five days after the first failure.
    app.clock.advance(TimeDelta::days(5));
    let disabled = endpoint_once(&app, &failing_id, |e| e["disabled"] == true).await;
    assert_eq!(disabled["disabled"], true, "{disabled}");
    assert!(disabled["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("5 days"));

    let enabled = app
        .patch(
            &format!("/admin/webhooks/{failing_id}"),
            Auth::Bearer(&app.admin_key),
            json!({"disabled": false}),
        )
        .await;
    assert_eq!(enabled.body["disabled"], false, "{}", enabled.body);
    assert!(enabled.body["failing_since"].is_null());
}

async fn a_rotated_secret_signs_beside_the_old_one_for_a_day(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let receiver = Receiver::start().await;
    let (endpoint_id, old) = create_endpoint(&app, &receiver, json!({})).await;
    let rotated = app
        .post(
            &format!("/admin/webhooks/{endpoint_id}/rotate-secret"),
            Auth::Bearer(&app.admin_key),
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = rotated.str("secret");
    assert_ne!(new, old);
    let test = app
        .post(
            &format!("/admin/webhooks/{endpoint_id}/test"),
            Auth::Bearer(&app.admin_key),
            json!({}),
        )
        .await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    let received = receiver.wait_for(1).await;
    assert_eq!(
        received[0].header("webhook-signature").split(' ').count(),
        2
    );
    received[0].verify(&new);
    received[0].verify(&old);

    app.clock.advance(TimeDelta::hours(25));
    app.post(
        &format!("/admin/webhooks/{endpoint_id}/test"),
        Auth::Bearer(&app.admin_key),
        json!({}),
    )
    .await;
    let received = receiver.wait_for(2).await;
    assert_eq!(
        received[1].header("webhook-signature").split(' ').count(),
        1
    );
    received[1].verify(&new);
}

/// The `test` event is in the outbox (and so the audit log) like any change.
async fn assert_test_event_recorded(app: &TestApp, endpoint_id: &str) {
    let recorded = app.db.raw().await.events().await;
    let test_event = recorded
        .iter()
        .find(|e| e.kind == "test")
        .expect("recorded");
    assert_eq!(
        (
            test_event.target_type.as_str(),
            test_event.actor_type.as_str()
        ),
        ("webhook_endpoint", "api_key")
    );
    assert_eq!(test_event.target_id, endpoint_id);
    assert!(test_event.actor_id.is_some() && test_event.request_id.is_some());
    assert_eq!(test_event.client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(test_event.user_agent, None, "the test client sends none");
    assert_eq!(test_event.data.0["object"], "test");
}

async fn a_test_event_reaches_a_filtered_endpoint(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let receiver = Receiver::start().await;
    let (endpoint_id, secret) = create_endpoint(
        &app,
        &receiver,
        json!({"event_types": ["organizationMembership.created"], "description": "members"}),
    )
    .await;
    let test = app
        .post(
            &format!("/admin/webhooks/{endpoint_id}/test"),
            Auth::Bearer(&app.admin_key),
            json!({}),
        )
        .await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].json()["type"], "test");
    assert_eq!(
        received[0].header("webhook-id"),
        format!("msg_{}", test.str("event_id"))
    );
    received[0].verify(&secret);
    assert_test_event_recorded(&app, &endpoint_id).await;

    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    app.add_member(
        &alice,
        org["id"].as_str().unwrap(),
        &app.user("bob"),
        "org:member",
    )
    .await;
    receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let types: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| r.json()["type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            json!("test"),
            json!("organizationMembership.created"),
            json!("organizationMembership.created")
        ]
    );
}

async fn endpoints_need_admin_keys_and_known_types(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let receiver = Receiver::start().await;
    let by_read_key = app
        .post(
            "/admin/webhooks",
            Auth::Bearer(&app.read_key),
            json!({"url": receiver.url}),
        )
        .await;
    by_read_key.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let unknown_type = app
        .post(
            "/admin/webhooks",
            Auth::Bearer(&app.admin_key),
            json!({"url": receiver.url, "event_types": ["user.created"]}),
        )
        .await;
    unknown_type.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(unknown_type.body["errors"][0]["field"], "event_types[0]");
    let garbage = app
        .get("/admin/webhooks/not-an-id", Auth::Bearer(&app.admin_key))
        .await;
    garbage.assert_problem(StatusCode::NOT_FOUND, "webhook_not_found");
}

/// Three endpoints, two per page: the second page holds the third, and ends.
async fn assert_pages_of_two(app: &TestApp, ids: &[String]) {
    let path = "/admin/webhooks";
    let first = app
        .get(&format!("{path}?page_size=2"), Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 2);
    assert!(
        first.body["data"][0].get("secret").is_none(),
        "no secret in lists"
    );
    let token = first.str("next_page_token");
    let second = app
        .get(
            &format!("{path}?page_size=2&page_token={token}"),
            Auth::Bearer(&app.admin_key),
        )
        .await;
    assert_eq!(second.body["data"][0]["id"], json!(ids[2]));
    assert!(second.body["next_page_token"].is_null());
}

async fn endpoints_are_paged_changed_and_deleted(backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let receiver = Receiver::start().await;
    let path = "/admin/webhooks";
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create_endpoint(&app, &receiver, json!({})).await.0);
    }
    assert_pages_of_two(&app, &ids).await;
    let patched = app
        .patch(
            &format!("{path}/{}", ids[0]),
            Auth::Bearer(&app.admin_key),
            json!({"disabled": true, "description": "paused", "event_types": ["role.created"]}),
        )
        .await;
    assert_eq!(patched.body["disabled"], true, "{}", patched.body);
    assert_eq!(patched.body["description"], "paused");
    assert_eq!(patched.body["event_types"], json!(["role.created"]));
    let deleted = app
        .delete(&format!("{path}/{}", ids[1]), Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app
        .get(&format!("{path}/{}", ids[1]), Auth::Bearer(&app.admin_key))
        .await;
    gone.assert_problem(StatusCode::NOT_FOUND, "webhook_not_found");

    // The disabled endpoint and the deleted one receive nothing; the third does.
    app.create_org(&app.user("alice"), "Acme").await;
    receiver.wait_for(2).await;
    receiver.assert_still(2, Duration::from_millis(300)).await;
}

async fn private_urls_are_refused_by_default(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for url in [
        "http://hooks.example.com/polis",
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
        "https://100.64.1.1/hook",
    ] {
        let reply = app
            .post(
                "/admin/webhooks",
                Auth::Bearer(&app.admin_key),
                json!({ "url": url }),
            )
            .await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(reply.body["errors"][0]["field"], "url", "{url}");
    }
    let created = app
        .post(
            "/admin/webhooks",
            Auth::Bearer(&app.admin_key),
            json!({"url": "https://hooks.example.com/polis"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let moved = app
        .patch(
            &format!("/admin/webhooks/{}", created.str("id")),
            Auth::Bearer(&app.admin_key),
            json!({"url": "https://192.168.0.10/hook"}),
        )
        .await;
    moved.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

on_both_backends!(
    deliveries_are_signed_clerk_envelopes,
    failures_are_retried_on_the_schedule,
    deliveries_are_given_up_after_eight_attempts,
    redirects_are_not_followed_and_answers_are_capped,
    one_event_is_replayed_by_its_id,
    gone_disables_the_endpoint,
    five_days_of_failures_disable_the_endpoint,
    a_rotated_secret_signs_beside_the_old_one_for_a_day,
    a_test_event_reaches_a_filtered_endpoint,
    endpoints_need_admin_keys_and_known_types,
    endpoints_are_paged_changed_and_deleted,
    private_urls_are_refused_by_default,
);

/// The lease, at the store: a claimed delivery is no other worker's until its lease
/// runs out, and then it is (the worker that held it died).
async fn a_claimed_delivery_is_claimed_again_only_after_its_lease(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.webhooks.allow_private_urls = true;
        // The app's own worker stays out of the way.
        settings.webhooks.poll_interval_ms = 60_000;
    })
    .await;
    let receiver = Receiver::start().await;
    // Registered after the worker's first look, so only this test claims.
    tokio::time::sleep(Duration::from_millis(100)).await;
    create_endpoint(
        &app,
        &receiver,
        json!({"event_types": ["organization.created"]}),
    )
    .await;
    app.create_org(&app.user("alice"), "Acme").await;
    let now = polis::clock::Clock::now(app.clock.as_ref());
    let lease = TimeDelta::seconds(60);
    let (dead, alive) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let store = app.store();
    let first = store
        .claim_webhook_deliveries(dead, now, now + lease, 16)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let held = store
        .claim_webhook_deliveries(alive, now, now + lease, 16)
        .await
        .unwrap();
    assert!(held.is_empty(), "claimed twice while leased");
    let later = now + lease;
    let taken = store
        .claim_webhook_deliveries(alive, later, later + lease, 16)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "the lease ran out");
    assert_eq!(taken[0].event_id, first[0].event_id);
}

on_both_backends!(a_claimed_delivery_is_claimed_again_only_after_its_lease);
