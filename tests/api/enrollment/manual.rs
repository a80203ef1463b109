//! A manager's invitations and a domain's to the same address: a manager's invitation
//! replaces a domain's pending one (hidden from the org's list, so it must not block
//! her), and an expired manager's invitation does not block the domain's.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::routes::{acme_with_domain, patch_mode};
use super::{add_domain, data, enrollment_settled, org, person};
use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

/// Alice invites `body` (one invitation, or a bulk list) to `slug`; returns the created.
async fn alice_invites(app: &TestApp, alice: &User, slug: &str, body: Value) -> Vec<Value> {
    let bulk = body.is_array();
    let path = if bulk {
        format!("/orgs/{slug}/invitations/bulk")
    } else {
        format!("/orgs/{slug}/invitations")
    };
    let reply = app.post(&path, Auth::Bearer(&alice.token), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    if bulk {
        reply.body["data"].as_array().unwrap().clone()
    } else {
        vec![reply.body]
    }
}

/// The id of the one invitation `user` sees in `/me/invitations`, checking who made it.
async fn only_invitation(app: &TestApp, user: &User, inviter: Option<&User>) -> String {
    let mine = data(app, "/me/invitations", user).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    let expected = inviter.map_or(Value::Null, |u| json!(u.id.to_string()));
    assert_eq!(mine[0]["inviter_id"], expected, "{mine:?}");
    mine[0]["id"].as_str().unwrap().to_owned()
}

/// The invitation `id` of `slug`, as Alice reads it by id.
async fn status_of(app: &TestApp, alice: &User, slug: &str, id: &str) -> Value {
    let path = format!("/orgs/{slug}/invitations/{id}");
    let reply = app.get(&path, Auth::Bearer(&alice.token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["status"].clone()
}

/// Bob and Carol hold invitations acme.com made. Alice invites Bob, then Carol (in a
/// bulk list): each time the domain's invitation is revoked, with its event by Alice,
/// and hers is the one the invitee sees and accepts.
async fn manager_invitation_replaces_the_domains(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, acme, _) = acme_with_domain(&app, "automatic_invitation").await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let carol = person(&app, "Carol", "carol@acme.com");
    let bobs_automatic = only_invitation(&app, &bob, None).await;
    let carols_automatic = only_invitation(&app, &carol, None).await;
    let org = (&alice, acme.as_str());
    assert!(data(&app, &format!("/orgs/{acme}/invitations"), &alice)
        .await
        .is_empty());

    let one = json!({"email_address": "bob@acme.com"});
    let bobs = replaces(&app, org, (&bob, &bobs_automatic), one, 0).await;
    let bulk = json!([{"email_address": "dan@example.org"}, {"email_address": "carol@acme.com"}]);
    replaces(&app, org, (&carol, &carols_automatic), bulk, 1).await;
    revocations_recorded(&app, &alice, &[&bobs_automatic, &carols_automatic]).await;

    let accepted = app
        .post(
            &format!("/me/invitations/{bobs}/accept"),
            Auth::Bearer(&bob.token),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    // The org's list shows Alice's three invitations, none of the domain's.
    let listed = data(&app, &format!("/orgs/{acme}/invitations"), &alice).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
}

/// Alice (of org `slug`) invites `body`, whose item `index` is for `invitee`, who held
/// the domain's invitation `automatic`: that one is now revoked, and the invitee sees
/// Alice's alone. Returns its id.
async fn replaces(
    app: &TestApp,
    (alice, slug): (&User, &str),
    (invitee, automatic): (&User, &str),
    body: Value,
    index: usize,
) -> String {
    let created = alice_invites(app, alice, slug, body).await;
    let id = created[index]["id"].as_str().unwrap().to_owned();
    assert_eq!(created[index]["inviter_id"], alice.id.to_string());
    assert_eq!(status_of(app, alice, slug, automatic).await, "revoked");
    assert_eq!(only_invitation(app, invitee, Some(alice)).await, id);
    id
}

/// Each of `ids` has one `organizationInvitation.revoked` event, by `by`.
async fn revocations_recorded(app: &TestApp, by: &User, ids: &[&String]) {
    let mut conn = app.db.raw().await;
    let events = conn.events().await;
    for id in ids {
        let revoked: Vec<_> = events
            .iter()
            .filter(|e| e.kind == "organizationInvitation.revoked" && &e.target_id == *id)
            .collect();
        assert_eq!(revoked.len(), 1, "{id}: {events:?}");
        assert_eq!(revoked[0].actor_type, "identity");
        assert_eq!(
            revoked[0].actor_id.as_deref(),
            Some(by.id.to_string().as_str())
        );
        assert_eq!(revoked[0].data["status"], "revoked");
    }
}

/// Alice invited bob@acme.com for a day and it lapsed, still stored `pending`. When
/// acme.com turns to `automatic_invitation`, Bob gets the domain's invitation.
async fn expired_manager_invitation_does_not_block_the_domains(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, acme, domain) = acme_with_domain(&app, "manual_invitation").await;
    let bob = person(&app, "Bob", "bob@acme.com");
    // Bob is seen (his address recorded), so the domain's change finds him.
    assert!(data(&app, "/me/memberships", &bob).await.is_empty());
    let body = json!({"email_address": "bob@acme.com", "expires_in_days": 1});
    let created = alice_invites(&app, &alice, &acme, body).await;
    let manual = created[0]["id"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::days(2));
    assert_eq!(status_of(&app, &alice, &acme, &manual).await, "expired");

    let body = json!({"enrollment_mode": "automatic_invitation"});
    patch_mode(&app, &alice, &acme, &domain, body).await;
    enrollment_settled(&app).await;
    let mut conn = app.db.raw().await;
    let sql = "SELECT COUNT(*) FROM invitations WHERE domain_id IS NOT NULL AND status = 'pending'";
    assert_eq!(conn.count(sql, None).await, 1, "the domain invited Bob");
    let stored = "SELECT COUNT(*) FROM invitations WHERE domain_id IS NULL AND status = 'expired'";
    assert_eq!(
        conn.count(stored, None).await,
        1,
        "Alice's is stored expired"
    );
    let automatic = only_invitation(&app, &bob, None).await;
    assert_ne!(automatic, manual);
}

on_both_backends!(
    manager_invitation_replaces_the_domains,
    expired_manager_invitation_does_not_block_the_domains,
);

/// PostgreSQL, where the two really overlap: a domain's enrollment has inserted an
/// invitation to bob@acme.com, not yet committed, when Alice invites him. Its insert holds
/// the org's row in key-share mode (the foreign key) until it commits, so Alice's org lock
/// waits for it, then sees the domain's invitation and supersedes it: 201, not a 409
/// `invitation_exists`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_domain_invitation_committed_meanwhile_is_superseded() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    let domain = add_domain(&app, &acme, "acme.com", "automatic_invitation", true).await;
    let mut enrolling = app.db.raw().await;
    enrolling
        .run(&[
            ("BEGIN", None),
            (
                "INSERT INTO invitations (id, org_id, email_address, role, status, domain_id, \
                 public_metadata, private_metadata, created_at, updated_at) \
                 SELECT gen_random_uuid(), d.org_id, 'bob@acme.com', 'org:member', 'pending', \
                 d.id, '{}', '{}', now(), now() FROM org_domains d WHERE d.id = $1",
                Some(domain),
            ),
        ])
        .await;
    let commit_once_alice_waits = async {
        let mut watcher = app.db.raw().await;
        let waiting = "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                       AND query LIKE 'SELECT max_allowed_memberships FROM orgs%'";
        let mut seen = false;
        for _ in 0..500 {
            seen = watcher.count(waiting, None).await > 0;
            if seen {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        enrolling.run(&[("COMMIT", None)]).await;
        seen
    };
    let body = json!({"email_address": "bob@acme.com"});
    let (created, alice_waited) = tokio::join!(
        alice_invites(&app, &alice, &acme, body),
        commit_once_alice_waits
    );
    assert!(alice_waited, "Alice's invitation waited for the enrollment");
    let mut conn = app.db.raw().await;
    let by_domain = "SELECT COUNT(*) FROM invitations WHERE domain_id = $1 AND status = 'revoked'";
    assert_eq!(conn.count(by_domain, Some(domain)).await, 1);
    let pending = "SELECT COUNT(*) FROM invitations WHERE status = 'pending'";
    assert_eq!(conn.count(pending, None).await, 1);
    assert!(created[0]["id"].is_string());
}
