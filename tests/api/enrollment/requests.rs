//! Membership requests: the managers' side, and the whole story a new user lives.

use reqwest::StatusCode;
use serde_json::json;

use super::{add_domain, data, event_types, org, person};
use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

/// Bob accepts his one suggestion; returns his request's id.
async fn request_to_join(app: &TestApp, bob: &User) -> String {
    let suggested = data(app, "/me/suggestions", bob).await;
    assert_eq!(suggested.len(), 1, "{suggested:?}");
    let id = suggested[0]["id"].as_str().unwrap();
    let accepted = app
        .post(
            &format!("/me/suggestions/{id}/accept"),
            Auth::Bearer(&bob.token),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let mine = data(app, "/me/membership-requests", bob).await;
    mine[0]["id"].as_str().unwrap().to_owned()
}

/// Alice's pending list shows Bob's request with his public data.
async fn assert_listed_pending(app: &TestApp, alice: &User, acme: &str, bob: &User, id: &str) {
    let path = format!("/orgs/{acme}/membership-requests?status=pending");
    let pending = data(app, &path, alice).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["id"], id);
    assert_eq!(pending[0]["object"], "organization_membership_request");
    assert_eq!(
        pending[0]["public_user_data"]["user_id"],
        bob.id.to_string()
    );
    assert_eq!(pending[0]["public_user_data"]["identifier"], "bob@acme.com");
    assert_eq!(pending[0]["public_user_data"]["first_name"], "Bob");
}

/// The story: Alice creates Acme and verifies acme.com; Bob signs up with
/// bob@acme.com, sees Acme suggested, asks to join; Alice accepts; Bob is a member.
async fn alice_accepts_bobs_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    add_domain(&app, &acme, "acme.com", "automatic_suggestion", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let id = request_to_join(&app, &bob).await;

    assert_listed_pending(&app, &alice, &acme, &bob, &id).await;

    let accepted = app
        .post(
            &format!("/orgs/{acme}/membership-requests/{id}/accept"),
            Auth::Bearer(&alice.token),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(accepted.body["status"], "accepted");
    let members = data(&app, &format!("/orgs/{acme}/members"), &alice).await;
    let bob_member = members
        .iter()
        .find(|m| m["identity_id"] == bob.id.to_string())
        .expect("Bob is listed");
    assert_eq!(bob_member["role"], "org:member");
    assert!(data(&app, "/me/suggestions", &bob).await.is_empty());
    let path = format!("/orgs/{acme}/membership-requests?status=accepted");
    assert_eq!(data(&app, &path, &alice).await.len(), 1);
    let types = event_types(&app).await;
    let wanted = [
        "organizationMembershipRequest.created",
        "organizationMembershipRequest.accepted",
        "organizationMembership.created",
    ];
    assert!(
        wanted.iter().all(|kind| types.iter().any(|t| t == kind)),
        "{types:?}"
    );
}

/// Rejecting: Bob stays out, the request cannot be decided again, and the suggestion is
/// answered: no longer listed, nor acceptable again.
async fn rejected_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    add_domain(&app, &acme, "acme.com", "automatic_suggestion", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let id = request_to_join(&app, &bob).await;
    let base = format!("/orgs/{acme}/membership-requests/{id}");
    let rejected = app
        .post(
            &format!("{base}/reject"),
            Auth::Bearer(&alice.token),
            json!({}),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);
    assert_eq!(rejected.body["status"], "rejected");
    for action in ["accept", "reject"] {
        app.post(
            &format!("{base}/{action}"),
            Auth::Bearer(&alice.token),
            json!({}),
        )
        .await
        .assert_problem(StatusCode::CONFLICT, "membership_request_not_pending");
    }
    let members = data(&app, &format!("/orgs/{acme}/members"), &alice).await;
    assert_eq!(members.len(), 1);
    bob_sees_the_rejection(&app, &bob).await;
    assert!(event_types(&app)
        .await
        .iter()
        .any(|t| t == "organizationMembershipRequest.rejected"));
}

/// Bob's request reads `rejected`, and the suggestion is withdrawn (kept, not listed).
async fn bob_sees_the_rejection(app: &TestApp, bob: &User) {
    let mine = data(app, "/me/membership-requests", bob).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "rejected");
    assert!(data(app, "/me/suggestions", bob).await.is_empty());
    let mut conn = app.db.raw().await;
    let withdrawn =
        "SELECT COUNT(*) FROM org_suggestions WHERE status = 'withdrawn' AND identity_id = $1";
    assert_eq!(conn.count(withdrawn, Some(bob.id)).await, 1);
}

/// Only managers decide; others get 403 (members) or 404 (non-members, unknown ids).
async fn only_managers_decide(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    add_domain(&app, &acme, "acme.com", "automatic_suggestion", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let id = request_to_join(&app, &bob).await;
    let member = app.user("mel");
    app.add_member(&alice, &acme, &member, "org:member").await;
    let list = format!("/orgs/{acme}/membership-requests");
    let accept = format!("{list}/{id}/accept");
    app.get(&list, Auth::Bearer(&member.token))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.post(&accept, Auth::Bearer(&member.token), json!({}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    for path in [&list, &accept] {
        let reply = if path == &list {
            app.get(path, Auth::Bearer(&bob.token)).await
        } else {
            app.post(path, Auth::Bearer(&bob.token), json!({})).await
        };
        reply.assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    }
    let unknown = format!("{list}/{}/accept", uuid::Uuid::now_v7());
    app.post(&unknown, Auth::Bearer(&alice.token), json!({}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "membership_request_not_found");
    let read = app.get(&list, Auth::Bearer(&app.read_key)).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    app.post(&accept, Auth::Bearer(&app.read_key), json!({}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.get(&format!("{list}?status=bogus"), Auth::Bearer(&alice.token))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

/// Concurrent accepts of one request: exactly one membership, one 200, the rest 409.
async fn concurrent_accepts_make_one_member(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    add_domain(&app, &acme, "acme.com", "automatic_suggestion", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let id = request_to_join(&app, &bob).await;
    let path = format!("/orgs/{acme}/membership-requests/{id}/accept");
    let accepts = (0..8).map(|_| app.post(&path, Auth::Bearer(&alice.token), json!({})));
    let replies = futures::future::join_all(accepts).await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused = replies
        .iter()
        .filter(|r| {
            r.status == StatusCode::CONFLICT && r.body["code"] == "membership_request_not_pending"
        })
        .count();
    assert_eq!((ok, refused), (1, 7), "{replies:?}");
    let members = data(&app, &format!("/orgs/{acme}/members"), &alice).await;
    assert_eq!(members.len(), 2);
    let created = event_types(&app)
        .await
        .iter()
        .filter(|t| *t == "organizationMembership.created")
        .count();
    assert_eq!(created, 2, "the creator's and Bob's");
}

/// Accepting counts toward the cap, pending invitations included.
async fn accepting_respects_the_cap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org_id = app.create_capped_org(&alice, "Acme", 2).await;
    add_domain(&app, "acme", "acme.com", "automatic_suggestion", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let id = request_to_join(&app, &bob).await;
    let invited = app
        .post(
            &format!("/orgs/{org_id}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": "carol@example.org"}),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let path = format!("/orgs/{org_id}/membership-requests/{id}/accept");
    app.post(&path, Auth::Bearer(&alice.token), json!({}))
        .await
        .assert_problem(StatusCode::CONFLICT, "membership_quota_exceeded");
    let pending = data(
        &app,
        &format!("/orgs/{org_id}/membership-requests?status=pending"),
        &alice,
    )
    .await;
    assert_eq!(pending.len(), 1, "the request stays pending");
}

/// Many first calls of a new identity at once make one invitation.
async fn concurrent_first_calls_enroll_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    add_domain(&app, &acme, "acme.com", "automatic_invitation", true).await;
    let globex = org(&app, &alice, "Globex").await;
    add_domain(&app, &globex, "globex.com", "automatic_suggestion", true).await;
    let id = app.kratos.add_identity(json!({"email": "bob@acme.com"}));
    app.kratos.create_session_with_token(id, "bob-one");
    app.kratos.create_session_with_token(id, "bob-two");
    let calls = (0..8).map(|i| {
        let token = if i % 2 == 0 { "bob-one" } else { "bob-two" };
        app.get("/me/memberships", Auth::Bearer(token))
    });
    for reply in futures::future::join_all(calls).await {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let mut conn = app.db.raw().await;
    let invitations = conn
        .count(
            "SELECT COUNT(*) FROM invitations WHERE domain_id IS NOT NULL",
            None,
        )
        .await;
    assert_eq!(invitations, 1);
}

on_both_backends!(
    alice_accepts_bobs_request,
    rejected_request,
    only_managers_decide,
    concurrent_accepts_make_one_member,
    accepting_respects_the_cap,
    concurrent_first_calls_enroll_once,
);
