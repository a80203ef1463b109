//! Enrollment driven by the domains routes themselves: an org admin with a verified
//! address at the domain adds it (verified at once), changes its mode, deletes it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{data, enrollment_settled, person};
use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

/// Alice (alice@acme.com) creates Acme and adds acme.com in `mode`: verified at once.
pub(super) async fn acme_with_domain(app: &TestApp, mode: &str) -> (User, String, String) {
    let alice = person(app, "Alice", "alice@acme.com");
    let created = app.create_org(&alice, "Acme").await;
    let slug = created["slug"].as_str().unwrap().to_owned();
    let domain = app
        .post(
            &format!("/orgs/{slug}/domains"),
            Auth::Bearer(&alice.token),
            json!({"name": "acme.com", "enrollment_mode": mode}),
        )
        .await;
    assert_eq!(domain.status, StatusCode::CREATED, "{}", domain.body);
    assert_eq!(domain.body["verification"]["status"], "verified");
    (alice, slug, domain.str("id"))
}

pub(super) async fn patch_mode(app: &TestApp, alice: &User, slug: &str, domain: &str, body: Value) {
    let reply = app
        .patch(
            &format!("/orgs/{slug}/domains/{domain}"),
            Auth::Bearer(&alice.token),
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// The story end to end, through the real routes only.
async fn story_through_the_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, acme, _) = acme_with_domain(&app, "automatic_suggestion").await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let suggested = data(&app, "/me/suggestions", &bob).await;
    assert_eq!(suggested.len(), 1, "{suggested:?}");
    assert_eq!(suggested[0]["public_organization_data"]["name"], "Acme");
    let id = suggested[0]["id"].as_str().unwrap();
    let accepted = app
        .post(
            &format!("/me/suggestions/{id}/accept"),
            Auth::Bearer(&bob.token),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let path = format!("/orgs/{acme}/membership-requests?status=pending");
    let requests = data(&app, &path, &alice).await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = requests[0]["id"].as_str().unwrap();
    let decided = app
        .post(
            &format!("/orgs/{acme}/membership-requests/{request}/accept"),
            Auth::Bearer(&alice.token),
            json!({}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    let members = data(&app, &format!("/orgs/{acme}/members"), &alice).await;
    assert!(
        members
            .iter()
            .any(|m| m["identity_id"] == bob.id.to_string() && m["role"] == "org:member"),
        "{members:?}"
    );
}

/// Identities seen before are enrolled when the domain is added or turns automatic (by
/// the background worker), before they call again; turning it manual hides suggestions
/// at once.
async fn domain_changes_enroll_and_hide(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bob = person(&app, "Bob", "bob@acme.com");
    assert!(data(&app, "/me/memberships", &bob).await.is_empty());
    let (alice, acme, domain) = acme_with_domain(&app, "manual_invitation").await;
    let mut conn = app.db.raw().await;
    let count = "SELECT (SELECT COUNT(*) FROM invitations WHERE domain_id IS NOT NULL) \
                 + (SELECT COUNT(*) FROM org_suggestions)";
    assert_eq!(conn.count(count, None).await, 0, "manual enrolls nobody");

    patch_mode(
        &app,
        &alice,
        &acme,
        &domain,
        json!({"enrollment_mode": "automatic_suggestion"}),
    )
    .await;
    enrollment_settled(&app).await;
    assert_eq!(
        conn.count(count, None).await,
        1,
        "Bob was suggested before calling again"
    );
    assert_eq!(data(&app, "/me/suggestions", &bob).await.len(), 1);

    patch_mode(
        &app,
        &alice,
        &acme,
        &domain,
        json!({"enrollment_mode": "manual_invitation"}),
    )
    .await;
    assert!(data(&app, "/me/suggestions", &bob).await.is_empty());

    invitations_then_deletion(&app, &alice, &bob, &acme, &domain).await;
}

/// Turned to `automatic_invitation`, the domain invites Bob (not among the org's own
/// invitations); deleted, it suggests nothing.
async fn invitations_then_deletion(
    app: &TestApp,
    alice: &User,
    bob: &User,
    acme: &str,
    domain: &str,
) {
    patch_mode(
        app,
        alice,
        acme,
        domain,
        json!({"enrollment_mode": "automatic_invitation"}),
    )
    .await;
    let invited = data(app, "/me/invitations", bob).await;
    assert_eq!(invited.len(), 1, "{invited:?}");
    assert_eq!(invited[0]["role"], "org:member");
    let listed = data(app, &format!("/orgs/{acme}/invitations"), alice).await;
    assert!(
        listed.is_empty(),
        "domain invitations are not the org's own"
    );

    let deleted = app
        .delete(
            &format!("/orgs/{acme}/domains/{domain}"),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert!(data(app, "/me/suggestions", bob).await.is_empty());
}

on_both_backends!(story_through_the_routes, domain_changes_enroll_and_hide);
