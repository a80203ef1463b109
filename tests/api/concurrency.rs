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

/// The fast paths: removing a plain member takes no org lock, so it runs beside the
/// last two admins demoting each other; both invariants still hold every round.
async fn plain_removals_race_admin_demotions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    for round in 0..6 {
        let org = app.create_org(&alice, &format!("Race {round}")).await;
        let id = org["id"].as_str().unwrap().to_owned();
        app.add_member(&alice, &id, &bob, "org:admin").await;
        let plain: Vec<_> = (0..4).map(|i| app.user(&format!("p{round}{i}"))).collect();
        for member in &plain {
            app.add_member(&alice, &id, member, "org:member").await;
        }
        let app = &app;
        let patch = |actor: &crate::harness::User, target: uuid::Uuid| {
            let path = format!("/orgs/{id}/members/{target}");
            let token = actor.token.clone();
            async move {
                app.patch(&path, Auth::Bearer(&token), json!({"role": "org:member"}))
                    .await
            }
        };
        let removals = plain.iter().map(|m| {
            let path = format!("/orgs/{id}/members/{}", m.id);
            let token = alice.token.clone();
            async move { app.delete(&path, Auth::Bearer(&token)).await }
        });
        let (a, b, removed) = tokio::join!(
            patch(&alice, bob.id),
            patch(&bob, alice.id),
            futures::future::join_all(removals)
        );
        let wins = [&a, &b]
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert_eq!(wins, 1, "round {round}: {} / {}", a.body, b.body);
        let admins = app
            .get(
                &format!("/orgs/{id}/members?role=org:admin"),
                Auth::Bearer(&app.admin_key),
            )
            .await;
        assert_eq!(admins.body["data"].as_array().unwrap().len(), 1);
        // The winner is the remaining admin; a removal by the loser may have come
        // after its demotion and been refused, never half done.
        for reply in removed {
            assert!(
                matches!(reply.status, StatusCode::NO_CONTENT | StatusCode::FORBIDDEN),
                "round {round}: {}",
                reply.body
            );
        }
    }
}

/// Adds run beside an admin key setting a cap: the cap holds from the moment it is
/// set. The org's count in the update's own answer is the membership when the cap was
/// set; afterwards no add may take the org past max(cap, that count).
async fn adds_race_a_cap_being_set(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    for round in 0..4 {
        let org = app.create_org(&alice, &format!("Open {round}")).await;
        let id = org["id"].as_str().unwrap().to_owned();
        let users: Vec<_> = (0..16).map(|i| app.user(&format!("a{round}{i}"))).collect();
        let path = format!("/orgs/{id}/members");
        let adds = users.iter().map(|u| {
            app.post(
                &path,
                Auth::Bearer(&alice.token),
                json!({"identity_id": u.id}),
            )
        });
        let org_path = format!("/orgs/{id}");
        let cap = app.patch(
            &org_path,
            Auth::Bearer(&app.admin_key),
            json!({"max_allowed_memberships": 4}),
        );
        let (replies, capped) = tokio::join!(futures::future::join_all(adds), cap);
        assert_eq!(capped.status, StatusCode::OK, "{}", capped.body);
        for reply in &replies {
            assert!(
                reply.status == StatusCode::CREATED
                    || reply.body["code"] == "membership_quota_exceeded",
                "{}",
                reply.body
            );
        }
        let at_cap_time = capped.body["members_count"].as_i64().unwrap();
        let now = app
            .get(&format!("/orgs/{id}"), Auth::Bearer(&app.admin_key))
            .await;
        let count = now.body["members_count"].as_i64().unwrap();
        assert!(
            count <= at_cap_time.max(4),
            "round {round}: {count} members, {at_cap_time} when the cap of 4 was set"
        );
    }
}

on_both_backends!(
    adds_race_a_cap_being_set,
    last_two_admins_demote_each_other,
    parallel_adds_respect_the_cap,
    plain_removals_race_admin_demotions,
);
