//! Three `polis serve` processes deliver from one PostgreSQL outbox; one is killed
//! mid-burst. Every event still arrives, and no message is ever sent twice at once.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::receiver::Receiver;
use crate::harness::{Backend, Reply, TestApp};
use crate::replicas::Replica;

const REPLICA_ENV: &[(&str, &str)] = &[
    ("POLIS_WEBHOOKS_ALLOW_PRIVATE_URLS", "true"),
    ("POLIS_WEBHOOK_POLL_INTERVAL_MS", "20"),
    // A killed replica's deliveries are sent by the others 2 s later.
    ("POLIS_WEBHOOK_LEASE_MS", "2000"),
];

async fn post(base: &str, path: &str, token: &str, body: serde_json::Value) -> Reply {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    Reply::from(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_outbox_and_survive_a_killed_one() {
    // The test app's own worker sleeps through the test: the replicas deliver.
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        settings.webhooks.poll_interval_ms = 60_000;
    })
    .await;
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start_with(&app, REPLICA_ENV).await);
    }
    let receiver = Receiver::start().await;
    // Slow answers keep deliveries in flight when the replica dies.
    receiver.delay(Duration::from_millis(150));
    let created = post(
        &replicas[1].base,
        "/admin/webhooks",
        &app.admin_key,
        json!({ "url": receiver.url }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    let alice = app.user("alice");
    for round in 0..24 {
        if round == 8 {
            // Killed while deliveries are in flight (those of replica 0 among them,
            // most times): they are cut off and sent again once their lease ran out.
            for _ in 0..100 {
                if receiver.in_flight() > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            replicas[0].kill();
        }
        let replica = if round < 8 { round % 3 } else { 1 + round % 2 };
        let reply = post(
            &replicas[replica].base,
            "/orgs",
            &alice.token,
            json!({ "name": format!("Org {round}") }),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }

    let mut raw = app.db.raw().await;
    let events = raw.count("SELECT COUNT(*) FROM events", None).await as usize;
    assert_eq!(events, 48, "two events per org");
    let mut delivered = HashSet::new();
    for _ in 0..300 {
        delivered = receiver
            .received()
            .iter()
            .map(|r| r.header("webhook-id"))
            .collect();
        if delivered.len() == events {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        delivered.len(),
        events,
        "every event delivered at least once"
    );
    assert_eq!(
        receiver.overlapping(),
        Vec::<String>::new(),
        "sent twice at once"
    );
}
