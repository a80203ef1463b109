//! Invitations through the real router: inviting, listing, revoking, accepting and
//! declining, expiry, the cap, and org scoping.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

async fn invite(app: &TestApp, admin: &User, org: &str, email: &str) -> serde_json::Value {
    let reply = app
        .post(
            &format!("/orgs/{org}/invitations"),
            Auth::Bearer(&admin.token),
            json!({"email_address": email}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

/// An address no Kratos identity has yet (the invitee signs up later).
fn fresh_email(name: &str) -> String {
    format!(
        "{}-{}@example.org",
        name.to_lowercase(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

async fn invite_sign_up_and_accept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let email = fresh_email("Dana");
    let (token, id) = invite_with_everything(&app, &alice, &email).await;

    // Dana signs up in Kratos, verifies her address, and finds the invitation.
    let dana_id = app
        .kratos
        .add_identity(json!({"email": email, "first_name": "Dana"}));
    let dana = app.kratos.create_session(dana_id);
    let mine = app.get("/me/invitations", Auth::Bearer(&dana.token)).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert_eq!(mine.body["data"][0]["id"], id.as_str());
    assert_eq!(mine.body["data"][0]["org"]["slug"], "acme");

    let accepted = app
        .post(
            "/invitations/accept",
            Auth::Bearer(&dana.token),
            json!({"token": token}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    assert_eq!(accepted.body["role"], "org:admin");
    assert_eq!(accepted.body["public_metadata"], json!({"team": "ops"}));
    assert_eq!(accepted.body["identity"]["traits"]["first_name"], "Dana");

    // Accepting twice is refused cleanly, by token and by id.
    app.post(
        "/invitations/accept",
        Auth::Bearer(&dana.token),
        json!({"token": token}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "invitation_not_pending");
    app.post(
        &format!("/me/invitations/{id}/accept"),
        Auth::Bearer(&dana.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "invitation_not_pending");

    let org_id = org["id"].as_str().unwrap();
    accepted_invitation_shows(&app, &alice, org_id, dana_id, &email, &id).await;
    app.get("/invitations/accept", Auth::None).await;
    app.post(
        "/invitations/accept",
        Auth::Bearer(&dana.token),
        json!({"token": "nope"}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "invitation_not_found");
}

/// Invites `email` to `acme` with a role, metadata and a redirect URL; the token and
/// the id of the invitation.
async fn invite_with_everything(app: &TestApp, alice: &User, email: &str) -> (String, String) {
    let created = app
        .post(
            "/orgs/acme/invitations",
            Auth::Bearer(&alice.token),
            json!({"email_address": email.to_uppercase(), "role": "org:admin",
                   "public_metadata": {"team": "ops"}, "redirect_url": "https://app.example.com/join"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let body = &created.body;
    assert_eq!(body["email_address"], email, "stored lower-cased");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["inviter_id"], alice.id.to_string());
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 43);
    let url = body["url"].as_str().unwrap();
    assert_eq!(
        url,
        format!("https://app.example.com/join?invitation_token={token}")
    );
    let id = body["id"].as_str().unwrap().to_owned();
    // The token is shown once: reads never carry it.
    let read = app
        .get(
            &format!("/orgs/acme/invitations/{id}"),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert!(read.body.get("token").is_none());
    assert_eq!(read.body["status"], "pending");
    (token, id)
}

/// After acceptance the member list shows the invitee's profile and the invitation
/// lists as accepted.
async fn accepted_invitation_shows(
    app: &TestApp,
    alice: &User,
    org_id: &str,
    dana_id: uuid::Uuid,
    email: &str,
    id: &str,
) {
    // Dana appears in the member list with her name.
    let members = app
        .get(
            &format!("/orgs/{org_id}/members"),
            Auth::Bearer(&alice.token),
        )
        .await;
    let dana_row = members.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["identity_id"] == dana_id.to_string())
        .cloned()
        .unwrap();
    assert_eq!(dana_row["identity"]["traits"]["email"], email);
    let listed = app
        .get(
            "/orgs/acme/invitations?status=accepted",
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(listed.body["data"][0]["id"], id);
}

async fn only_the_invited_verified_address_accepts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    app.create_org(&alice, "Acme").await;
    let email = fresh_email("erin");
    let created = invite(&app, &alice, "acme", &email).await;
    let id = created["id"].as_str().unwrap();
    let token = created["token"].as_str().unwrap();

    // Someone else, even holding the token, cannot accept.
    let mallory = app.user("mallory");
    app.post(
        "/invitations/accept",
        Auth::Bearer(&mallory.token),
        json!({"token": token}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "invitation_email_mismatch");
    app.post(
        &format!("/me/invitations/{id}/accept"),
        Auth::Bearer(&mallory.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "invitation_not_found");
    let theirs = app
        .get("/me/invitations", Auth::Bearer(&mallory.token))
        .await;
    assert_eq!(theirs.body["data"], json!([]));

    // The right address, but not verified in Kratos.
    let unverified = app
        .kratos
        .insert_identity(crate::support::kratos_double::IdentitySeed {
            traits: json!({"email": email}),
            verified: false,
            ..Default::default()
        });
    let session = app.kratos.create_session(unverified);
    app.post(
        "/invitations/accept",
        Auth::Bearer(&session.token),
        json!({"token": token}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "invitation_email_mismatch");
    assert_eq!(
        app.get("/me/invitations", Auth::Bearer(&session.token))
            .await
            .body["data"],
        json!([])
    );
    // API keys have no addresses.
    app.post(
        "/invitations/accept",
        Auth::Bearer(&app.admin_key),
        json!({"token": token}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

async fn decline_and_revoke(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    app.create_org(&alice, "Acme").await;
    let bob = app.user("bob");
    let other = invite(&app, &alice, "acme", &fresh_email("x")).await;
    let declined_id = other["id"].as_str().unwrap().to_owned();
    // Bob is already a Kratos identity; his invitation is declined by him.
    let bobs = invite(&app, &alice, "acme", &bob.email).await;
    let bobs_id = bobs["id"].as_str().unwrap();
    let declined = app
        .post(
            &format!("/me/invitations/{bobs_id}/decline"),
            Auth::Bearer(&bob.token),
            json!({}),
        )
        .await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    assert_eq!(declined.body["status"], "declined");
    app.post(
        &format!("/me/invitations/{bobs_id}/accept"),
        Auth::Bearer(&bob.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "invitation_not_pending");

    let revoked = app
        .post(
            &format!("/orgs/acme/invitations/{declined_id}/revoke"),
            Auth::Bearer(&alice.token),
            json!({}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.body["status"], "revoked");
    app.post(
        &format!("/orgs/acme/invitations/{declined_id}/revoke"),
        Auth::Bearer(&alice.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "invitation_not_pending");
    let revoked_list = app
        .get(
            "/orgs/acme/invitations?status=revoked",
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(revoked_list.body["data"].as_array().unwrap().len(), 1);
    app.get(
        "/orgs/acme/invitations?status=bogus",
        Auth::Bearer(&alice.token),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

async fn duplicates_members_and_bad_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let bob = app.user("bob");
    app.add_member(&alice, org["id"].as_str().unwrap(), &bob, "org:member")
        .await;
    let auth = Auth::Bearer(&alice.token);
    let email = fresh_email("frank");
    invite(&app, &alice, "acme", &email).await;
    app.post(
        "/orgs/acme/invitations",
        auth.clone(),
        json!({"email_address": email.to_uppercase()}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "invitation_exists");
    app.post(
        "/orgs/acme/invitations",
        auth.clone(),
        json!({"email_address": bob.email}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "already_member");
    app.post(
        "/orgs/acme/invitations",
        auth.clone(),
        json!({"email_address": fresh_email("g"), "role": "org:nope"}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_role");
    let bad = app
        .post(
            "/orgs/acme/invitations",
            auth.clone(),
            json!({"email_address": "not-an-address", "expires_in_days": 400,
                   "redirect_url": "javascript:alert(1)"}),
        )
        .await;
    bad.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email_address", "expires_in_days", "redirect_url"]);
    app.post(
        "/orgs/acme/invitations",
        auth.clone(),
        json!({"email_address": fresh_email("h"), "private_metadata": {}}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // Plain members may not invite or even list invitations.
    app.post(
        "/orgs/acme/invitations",
        Auth::Bearer(&bob.token),
        json!({"email_address": fresh_email("i")}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.get("/orgs/acme/invitations", Auth::Bearer(&bob.token))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let pending = app.get("/orgs/acme/invitations?status=pending", auth).await;
    assert_eq!(
        pending.body["data"].as_array().unwrap().len(),
        1,
        "refusals wrote nothing"
    );
}

async fn bulk_is_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    app.create_org(&alice, "Acme").await;
    let auth = Auth::Bearer(&alice.token);
    let taken = fresh_email("taken");
    invite(&app, &alice, "acme", &taken).await;
    let batch: Vec<_> = (0..3)
        .map(|i| json!({"email_address": fresh_email(&format!("b{i}"))}))
        .chain([json!({"email_address": taken})])
        .collect();
    app.post("/orgs/acme/invitations/bulk", auth.clone(), json!(batch))
        .await
        .assert_problem(StatusCode::CONFLICT, "invitation_exists");
    let dupes =
        json!([{"email_address": "same@example.org"}, {"email_address": "SAME@example.org"}]);
    let reply = app
        .post("/orgs/acme/invitations/bulk", auth.clone(), dupes)
        .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(reply.body["errors"][0]["field"], "[1].email_address");
    let too_many: Vec<_> = (0..101)
        .map(|i| json!({"email_address": format!("u{i}@example.org")}))
        .collect();
    app.post("/orgs/acme/invitations/bulk", auth.clone(), json!(too_many))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let pending = app.get("/orgs/acme/invitations", auth.clone()).await;
    assert_eq!(
        pending.body["data"].as_array().unwrap().len(),
        1,
        "nothing from failed batches"
    );

    let good: Vec<_> = (0..3)
        .map(|i| json!({"email_address": fresh_email(&format!("ok{i}"))}))
        .collect();
    let created = app
        .post("/orgs/acme/invitations/bulk", auth.clone(), json!(good))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let data = created.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert!(data.iter().all(|i| i["token"].is_string()));
}

async fn expiry_with_a_controlled_clock(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    app.create_org(&alice, "Acme").await;
    let grace = app.user("grace");
    let reply = app
        .post(
            "/orgs/acme/invitations",
            Auth::Bearer(&alice.token),
            json!({"email_address": grace.email, "expires_in_days": 1}),
        )
        .await;
    let id = reply.str("id");
    app.clock.advance(Duration::hours(25));
    let read = app
        .get(
            &format!("/orgs/acme/invitations/{id}"),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(read.body["status"], "expired");
    let expired = app
        .get(
            "/orgs/acme/invitations?status=expired",
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(expired.body["data"][0]["id"], id.as_str());
    let pending = app
        .get(
            "/orgs/acme/invitations?status=pending",
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(pending.body["data"], json!([]));
    assert_eq!(
        app.get("/me/invitations", Auth::Bearer(&grace.token))
            .await
            .body["data"],
        json!([])
    );
    app.post(
        &format!("/me/invitations/{id}/accept"),
        Auth::Bearer(&grace.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "invitation_not_pending");
    // An expired invitation does not block a new one.
    invite(&app, &alice, "acme", &grace.email).await;
}

async fn pending_invitations_count_toward_the_cap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let id = app.create_capped_org(&alice, "Tiny", 3).await;
    invite(&app, &alice, &id, &fresh_email("a")).await;
    let expiring = app
        .post(
            &format!("/orgs/{id}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": fresh_email("b"), "expires_in_days": 1}),
        )
        .await;
    assert_eq!(expiring.status, StatusCode::CREATED);
    // Alice plus two pending invitations fill three seats.
    app.post(
        &format!("/orgs/{id}/invitations"),
        Auth::Bearer(&alice.token),
        json!({"email_address": fresh_email("c")}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "membership_quota_exceeded");
    let bob = app.user("bob");
    app.post(
        &format!("/orgs/{id}/members"),
        Auth::Bearer(&alice.token),
        json!({"identity_id": bob.id}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "membership_quota_exceeded");
    // Once one expires, its seat is free again.
    app.clock.advance(Duration::days(2));
    app.add_member(&alice, &id, &bob, "org:member").await;
}

async fn invitations_stay_in_their_org(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let bob = app.user("bob");
    app.create_org(&alice, "Org A").await;
    app.create_org(&bob, "Org B").await;
    let b_invite = invite(&app, &bob, "org-b", &fresh_email("x")).await;
    let b_id = b_invite["id"].as_str().unwrap();
    // Alice, admin of A, reaches B's invitation only through A's URL: not found.
    app.get(
        &format!("/orgs/org-a/invitations/{b_id}"),
        Auth::Bearer(&alice.token),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "invitation_not_found");
    app.post(
        &format!("/orgs/org-a/invitations/{b_id}/revoke"),
        Auth::Bearer(&alice.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "invitation_not_found");
    app.get(
        &format!("/orgs/org-b/invitations/{b_id}"),
        Auth::Bearer(&alice.token),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    let a_list = app
        .get("/orgs/org-a/invitations", Auth::Bearer(&alice.token))
        .await;
    assert_eq!(a_list.body["data"], json!([]));
    let still = app
        .get(
            &format!("/orgs/org-b/invitations/{b_id}"),
            Auth::Bearer(&bob.token),
        )
        .await;
    assert_eq!(still.body["status"], "pending");
}

async fn concurrent_accepts_make_one_membership(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let heidi = app.user("heidi");
    let created = invite(&app, &alice, "acme", &heidi.email).await;
    let id = created["id"].as_str().unwrap();
    let token = created["token"].as_str().unwrap();
    let by_id = format!("/me/invitations/{id}/accept");
    let attempts = (0..6).map(|i| {
        if i % 2 == 0 {
            app.post(&by_id, Auth::Bearer(&heidi.token), json!({}))
        } else {
            app.post(
                "/invitations/accept",
                Auth::Bearer(&heidi.token),
                json!({"token": token}),
            )
        }
    });
    let replies = futures::future::join_all(attempts).await;
    let created_count = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(
        created_count,
        1,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    }
    let count = app
        .get(
            &format!("/orgs/{}", org["id"].as_str().unwrap()),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(count.body["members_count"], 2);
}

on_both_backends!(
    invite_sign_up_and_accept,
    only_the_invited_verified_address_accepts,
    decline_and_revoke,
    duplicates_members_and_bad_input,
    bulk_is_all_or_nothing,
    expiry_with_a_controlled_clock,
    pending_invitations_count_toward_the_cap,
    invitations_stay_in_their_org,
    concurrent_accepts_make_one_membership,
);
