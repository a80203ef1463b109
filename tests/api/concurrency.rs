//! Invariants under real concurrent requests (design.md §4).

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_backends;

/// The last two admins demote each other at the same moment: exactly one wins.
async fn last_two_admins_demote_each_other(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for round in 0..8 {
        let alice = app.user("alice");
        let bob = app.user("bob");
        let org = app.create_org(&alice, &format!("Duel {round}")).await;
        let id = org["id"].as_str().unwrap().to_owned();
        app.add_member(&alice, &id, &bob, "org:admin").await;
        let app = &app;
        let demote = |actor: crate::harness::User, target: uuid::Uuid| {
            let path = format!("/orgs/{id}/members/{target}");
            async move {
                app.patch(
                    &path,
                    Auth::Bearer(&actor.token),
                    json!({"role": "org:member"}),
                )
                .await
            }
        };
        let (a, b) = tokio::join!(demote(alice.clone(), bob.id), demote(bob.clone(), alice.id));
        // One demotion wins. The other is refused: `last_admin` when both passed the
        // permission check first, `forbidden` when the winner committed before the
        // loser's permission check ran (the loser is no longer an admin then).
        let (winner, loser) = if a.status == StatusCode::OK {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(winner.status, StatusCode::OK, "{}", winner.body);
        let code = loser.body["code"].as_str().unwrap_or_default();
        assert!(
            matches!(code, "last_admin" | "forbidden"),
            "exactly one demotion may win: {}",
            loser.body
        );
        let admins = app
            .get(
                &format!("/orgs/{id}/members?role=org:admin"),
                Auth::Bearer(&app.admin_key),
            )
            .await;
        assert_eq!(
            admins.body["data"].as_array().unwrap().len(),
            1,
            "round {round}"
        );
    }
}

/// N parallel adds against a cap of K leave exactly K members.
async fn parallel_adds_respect_the_cap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let cap: usize = 5;
    let id = app.create_capped_org(&alice, "Capped", cap as i32).await;
    let users: Vec<_> = (0..20).map(|i| app.user(&format!("u{i}"))).collect();
    let path = format!("/orgs/{id}/members");
    let adds = users.iter().map(|u| {
        app.post(
            &path,
            Auth::Bearer(&alice.token),
            json!({"identity_id": u.id}),
        )
    });
    let replies = futures::future::join_all(adds).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let refused = replies
        .iter()
        .filter(|r| {
            r.status == StatusCode::CONFLICT && r.body["code"] == "membership_quota_exceeded"
        })
        .count();
    assert_eq!(created, cap - 1, "the creator holds one seat");
    assert_eq!(
        created + refused,
        users.len(),
        "every other add was refused cleanly"
    );
    let org = app
        .get(&format!("/orgs/{id}"), Auth::Bearer(&alice.token))
        .await;
    assert_eq!(org.body["members_count"], cap);
}

on_both_backends!(
    last_two_admins_demote_each_other,
    parallel_adds_respect_the_cap
);
