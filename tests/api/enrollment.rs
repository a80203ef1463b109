//! Joining by verified domain through the real router: automatic invitations,
//! suggestions, membership requests, and what a non-member never learns. Domains are
//! written with SQL here (as the domains routes would leave them) and enrolled with the
//! store call those routes make.

mod jobs;
mod manual;
mod requests;
mod routes;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{Auth, Backend, RawConn, TestApp, User};
use crate::on_both_backends;

/// A Kratos identity whose only (verified) address is `email`, with a session.
pub fn person(app: &TestApp, name: &str, email: &str) -> User {
    let id = app
        .kratos
        .add_identity(json!({"email": email, "first_name": name}));
    let session = app.kratos.create_session(id);
    User {
        id,
        token: session.token,
        cookie: session.cookie,
        email: email.to_owned(),
    }
}

/// Runs one statement binding a UUID, then text values, on the test's own connection.
async fn exec(conn: &mut RawConn, sql: &str, id: Uuid, texts: &[&str]) {
    match conn {
        RawConn::Sqlite(c) => {
            let mut q = sqlx::query(sql).bind(id);
            for t in texts {
                q = q.bind(*t);
            }
            q.execute(&mut *c).await.expect(sql);
        }
        RawConn::Postgres(c) => {
            let mut q = sqlx::query(sql).bind(id);
            for t in texts {
                q = q.bind(*t);
            }
            q.execute(&mut *c).await.expect(sql);
        }
    }
}

/// Adds a domain to `org` as the domains routes leave it, verified or not; returns its id.
pub async fn add_domain(app: &TestApp, org: &str, name: &str, mode: &str, verified: bool) -> Uuid {
    let id = Uuid::now_v7();
    let mut conn = app.db.raw().await;
    exec(
        &mut conn,
        "INSERT INTO org_domains (id, org_id, name, enrollment_mode, created_at, updated_at) \
         SELECT $1, o.id, $2, $3, o.created_at, o.created_at FROM orgs o WHERE o.slug = $4",
        id,
        &[name, mode, org],
    )
    .await;
    if verified {
        verify(app, id).await;
    }
    id
}

/// Marks a domain verified and enrolls for it, as verification does.
pub async fn verify(app: &TestApp, domain: Uuid) {
    let mut conn = app.db.raw().await;
    exec(
        &mut conn,
        "UPDATE org_domains SET verified_at = created_at, verification_strategy = 'admin' \
         WHERE id = $1",
        domain,
        &[],
    )
    .await;
    enroll(app, domain).await;
}

/// Changes a domain's mode and enrolls for it, as `PATCH …/domains/{id}` does.
pub async fn set_mode(app: &TestApp, domain: Uuid, mode: &str) {
    let mut conn = app.db.raw().await;
    exec(
        &mut conn,
        "UPDATE org_domains SET enrollment_mode = $2 WHERE id = $1",
        domain,
        &[mode],
    )
    .await;
    enroll(app, domain).await;
}

/// Asks for the domain's identities to be enrolled, as verification and mode changes
/// do, and waits for the background worker to have done it.
async fn enroll(app: &TestApp, domain: Uuid) {
    let mut conn = app.db.raw().await;
    exec(
        &mut conn,
        "INSERT INTO domain_enrollments (domain_id, generation, requested_at) \
         VALUES ($1, 1, CURRENT_TIMESTAMP) ON CONFLICT (domain_id) \
         DO UPDATE SET generation = domain_enrollments.generation + 1",
        domain,
        &[],
    )
    .await;
    app.state.enrollment.domains_changed().await;
    enrollment_settled(app).await;
}

/// Waits until no domain's enrollment is pending (the worker has run every request).
pub async fn enrollment_settled(app: &TestApp) {
    let mut conn = app.db.raw().await;
    for _ in 0..500 {
        if conn
            .count("SELECT COUNT(*) FROM domain_enrollments", None)
            .await
            == 0
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("domain enrollment still pending after 10 s");
}

/// An org named `name` (slug the same, lower-case) created by `owner`.
pub async fn org(app: &TestApp, owner: &User, name: &str) -> String {
    let created = app.create_org(owner, name).await;
    created["slug"].as_str().unwrap().to_owned()
}

pub async fn data(app: &TestApp, path: &str, user: &User) -> Vec<Value> {
    let reply = app.get(path, Auth::Bearer(&user.token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body["data"].as_array().cloned().unwrap_or_default()
}

pub async fn event_types(app: &TestApp) -> Vec<String> {
    let mut conn = app.db.raw().await;
    conn.events().await.into_iter().map(|e| e.kind).collect()
}

/// An identity with a verified address at an `automatic_invitation` domain finds a
/// pending invitation with the default role, accepts it like any other, and joins.
async fn automatic_invitation_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    add_domain(&app, &acme, "acme.com", "automatic_invitation", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");

    let mine = data(&app, "/me/invitations", &bob).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["email_address"], "bob@acme.com");
    assert_eq!(mine[0]["role"], "org:member");
    assert_eq!(mine[0]["inviter_id"], Value::Null);
    assert_eq!(mine[0]["expires_at"], Value::Null);
    assert_eq!(mine[0]["org"]["slug"], acme);
    // Seen again: nothing more is made.
    assert_eq!(data(&app, "/me/invitations", &bob).await.len(), 1);
    // Not among the org's own invitations (as in Clerk).
    let listed = data(&app, &format!("/orgs/{acme}/invitations"), &alice).await;
    assert!(listed.is_empty(), "{listed:?}");

    let id = mine[0]["id"].as_str().unwrap();
    accept_and_join(&app, &alice, &acme, &bob, id).await;
    assert!(data(&app, "/me/invitations", &bob).await.is_empty());
    invitation_events(&app).await;
}

/// The automatic invitation's creation is recorded as Polis's own, then its acceptance.
async fn invitation_events(app: &TestApp) {
    let mut conn = app.db.raw().await;
    let events = conn.events().await;
    let created = events
        .iter()
        .find(|e| e.kind == "organizationInvitation.created")
        .expect("created");
    assert_eq!(created.actor_type, "system");
    assert_eq!(created.data["inviter_id"], Value::Null);
    assert!(events
        .iter()
        .any(|e| e.kind == "organizationInvitation.accepted"));
}

/// Bob accepts invitation `id` from `/me/invitations` and is listed with the default role.
async fn accept_and_join(app: &TestApp, alice: &User, acme: &str, bob: &User, id: &str) {
    let accepted = app
        .post(
            &format!("/me/invitations/{id}/accept"),
            Auth::Bearer(&bob.token),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    assert_eq!(accepted.body["role"], "org:member");
    let members = data(app, &format!("/orgs/{acme}/members"), alice).await;
    assert!(members
        .iter()
        .any(|m| m["identity_id"] == bob.id.to_string()));
}

/// Unverified addresses, unverified domains and `manual_invitation` domains enroll
/// nobody and reveal nothing.
async fn nothing_without_verification_or_automatic_mode(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    let globex = org(&app, &alice, "Globex").await;
    let initech = org(&app, &alice, "Initech").await;
    add_domain(&app, &acme, "acme.com", "automatic_invitation", true).await;
    add_domain(&app, &globex, "globex.com", "automatic_suggestion", false).await;
    add_domain(&app, &initech, "initech.com", "manual_invitation", true).await;

    let unverified = app
        .kratos
        .insert_identity(crate::support::kratos_double::IdentitySeed {
            traits: json!({"email": "eve@acme.com"}),
            verified: false,
            ..Default::default()
        });
    let eve = app.kratos.create_session(unverified);
    let eve = User {
        id: unverified,
        token: eve.token,
        cookie: eve.cookie,
        email: "eve@acme.com".into(),
    };
    let gus = person(&app, "Gus", "gus@globex.com");
    let ian = person(&app, "Ian", "ian@initech.com");
    for user in [&eve, &gus, &ian] {
        assert!(data(&app, "/me/invitations", user).await.is_empty());
        assert!(data(&app, "/me/suggestions", user).await.is_empty());
    }
    let mut conn = app.db.raw().await;
    let made = conn
        .count(
            "SELECT (SELECT COUNT(*) FROM invitations) + (SELECT COUNT(*) FROM org_suggestions)",
            None,
        )
        .await;
    assert_eq!(made, 0);
}

/// A suggestion shows the org's public fields only; accepting makes one pending request.
async fn suggestion_accepted_makes_a_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    add_domain(&app, &acme, "acme.com", "automatic_suggestion", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");

    let suggested = data(&app, "/me/suggestions", &bob).await;
    assert_eq!(suggested.len(), 1, "{suggested:?}");
    assert_eq!(suggested[0]["object"], "organization_suggestion");
    assert_eq!(suggested[0]["status"], "pending");
    assert_public_only(&suggested[0], &acme);
    let id = suggested[0]["id"].as_str().unwrap();
    let path = format!("/me/suggestions/{id}/accept");
    for _ in 0..2 {
        let accepted = app.post(&path, Auth::Bearer(&bob.token), json!({})).await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
        assert_eq!(accepted.body["status"], "accepted");
    }
    let requests = data(&app, "/me/membership-requests", &bob).await;
    assert_eq!(requests.len(), 1, "accepting twice makes one request");
    assert_eq!(requests[0]["status"], "pending");
    assert_eq!(
        requests[0]["public_organization_data"]["slug"],
        acme.as_str()
    );
    let listed = data(&app, "/me/suggestions", &bob).await;
    assert_eq!(listed[0]["status"], "accepted");
    let types = event_types(&app).await;
    assert!(types.contains(&"organizationMembershipRequest.created".to_owned()));
}

/// A suggestion's org shows its public fields and nothing else.
fn assert_public_only(suggestion: &Value, slug: &str) {
    let public = suggestion["public_organization_data"].as_object().unwrap();
    let mut keys: Vec<&str> = public.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["has_image", "id", "image_url", "name", "slug"]);
    assert_eq!(public["slug"], slug);
}

/// Someone else's suggestion is not found, whoever asks; API keys have none.
async fn suggestions_are_private(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    add_domain(&app, &acme, "acme.com", "automatic_suggestion", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let carol = person(&app, "Carol", "carol@elsewhere.org");
    let suggested = data(&app, "/me/suggestions", &bob).await;
    let id = suggested[0]["id"].as_str().unwrap();

    assert!(data(&app, "/me/suggestions", &carol).await.is_empty());
    let path = format!("/me/suggestions/{id}/accept");
    for token in [&carol.token, &alice.token] {
        app.post(&path, Auth::Bearer(token), json!({}))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "suggestion_not_found");
    }
    app.post(
        "/me/suggestions/not-a-uuid/accept",
        Auth::Bearer(&bob.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "suggestion_not_found");
    app.get("/me/suggestions", Auth::Bearer(&app.admin_key))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // Alice, a member with a verified acme.com address, is not suggested her own org.
    let alice_at_acme = person(&app, "Alice", "alice@acme.com");
    app.add_member(&alice, &acme, &alice_at_acme, "org:member")
        .await;
    assert!(data(&app, "/me/suggestions", &alice_at_acme)
        .await
        .is_empty());
}

/// Turning a domain to `manual_invitation` hides its suggestions at once, and they can
/// no longer be accepted; a new identity gets none.
async fn manual_mode_hides_suggestions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    let domain = add_domain(&app, &acme, "acme.com", "automatic_suggestion", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let suggested = data(&app, "/me/suggestions", &bob).await;
    let id = suggested[0]["id"].as_str().unwrap().to_owned();

    set_mode(&app, domain, "manual_invitation").await;
    assert!(data(&app, "/me/suggestions", &bob).await.is_empty());
    app.post(
        &format!("/me/suggestions/{id}/accept"),
        Auth::Bearer(&bob.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "suggestion_not_found");
    let dan = person(&app, "Dan", "dan@acme.com");
    assert!(data(&app, "/me/suggestions", &dan).await.is_empty());
    assert!(data(&app, "/me/invitations", &dan).await.is_empty());
    assert!(data(&app, "/me/membership-requests", &bob).await.is_empty());

    // Back to suggesting: Bob's suggestion shows again, and Dan is suggested too.
    set_mode(&app, domain, "automatic_suggestion").await;
    assert_eq!(data(&app, "/me/suggestions", &bob).await.len(), 1);
    assert_eq!(data(&app, "/me/suggestions", &dan).await.len(), 1);
}

/// An identity seen before a domain is verified is enrolled when it is, without being
/// seen again; so is one seen before a mode turns automatic.
async fn verification_enrolls_identities_seen_earlier(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let dan = person(&app, "Dan", "dan@acme.com");
    assert!(data(&app, "/me/memberships", &bob).await.is_empty());
    assert!(data(&app, "/me/memberships", &dan).await.is_empty());
    let mut conn = app.db.raw().await;
    let recorded = conn
        .count("SELECT COUNT(*) FROM identity_verified_addresses", None)
        .await;
    assert_eq!(recorded, 2);

    let domain = add_domain(&app, &acme, "acme.com", "automatic_invitation", false).await;
    verify(&app, domain).await;
    let invited = conn
        .count(
            "SELECT COUNT(*) FROM invitations WHERE domain_id IS NOT NULL AND status = 'pending'",
            None,
        )
        .await;
    assert_eq!(invited, 2, "both were invited when the domain was verified");
    assert_eq!(data(&app, "/me/invitations", &bob).await.len(), 1);

    declined_is_not_made_again(&app, &dan, domain).await;
}

/// Dan declines his automatic invitation; neither the domain nor Dan being seen makes
/// it again.
async fn declined_is_not_made_again(app: &TestApp, dan: &User, domain: Uuid) {
    let id = data(app, "/me/invitations", dan).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let declined = app
        .post(
            &format!("/me/invitations/{id}/decline"),
            Auth::Bearer(&dan.token),
            json!({}),
        )
        .await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    verify(app, domain).await;
    let enrolled = app
        .store()
        .enroll_identity(
            dan.id,
            std::slice::from_ref(&dan.email),
            "org:member",
            Utc::now(),
        )
        .await
        .expect("enroll");
    assert_eq!(enrolled.invitations, 0);
    assert!(data(app, "/me/invitations", dan).await.is_empty());
}

/// A domain's pending invitations take no seat; accepting one needs a free seat.
async fn automatic_invitations_and_the_cap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org_id = app.create_capped_org(&alice, "Acme", 2).await;
    let slug = "acme";
    add_domain(&app, slug, "acme.com", "automatic_invitation", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let invitation = data(&app, "/me/invitations", &bob).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Bob's invitation holds no seat: Alice may still invite someone to the last one.
    let invited = app
        .post(
            &format!("/orgs/{org_id}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": "carol@example.org"}),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    app.post(
        &format!("/me/invitations/{invitation}/accept"),
        Auth::Bearer(&bob.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "membership_quota_exceeded");
}

/// A verified suggesting acme.com for `slug`, written with SQL alone: no enrollment runs.
async fn suggesting_domain_behind_the_stores_back(app: &TestApp, slug: &str) {
    let mut raw = app.db.raw().await;
    exec(
        &mut raw,
        "INSERT INTO org_domains (id, org_id, name, enrollment_mode, verified_at, created_at, \
         updated_at) SELECT $1, o.id, 'acme.com', 'automatic_suggestion', o.created_at, \
         o.created_at, o.created_at FROM orgs o WHERE o.slug = $2",
        Uuid::now_v7(),
        &[slug],
    )
    .await;
}

/// Seen again with the same addresses and domains, an identity costs no database work
/// (the recorded addresses, removed behind Polis's back, are not written again); a new
/// automatic domain at its address makes the next call evaluate it.
async fn seen_again_costs_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    let bob = person(&app, "Bob", "bob@acme.com");
    data(&app, "/me/memberships", &bob).await;
    let mut conn = app.db.raw().await;
    let recorded = "SELECT COUNT(*) FROM identity_verified_addresses WHERE identity_id = $1";
    assert_eq!(conn.count(recorded, Some(bob.id)).await, 1);
    conn.run(&[("DELETE FROM identity_verified_addresses", None)])
        .await;
    data(&app, "/me/memberships", &bob).await;
    assert_eq!(conn.count(recorded, Some(bob.id)).await, 0, "no work done");

    suggesting_domain_behind_the_stores_back(&app, &acme).await;
    app.state.enrollment.domains_changed().await;
    data(&app, "/me/memberships", &bob).await;
    assert_eq!(conn.count(recorded, Some(bob.id)).await, 1);
    assert_eq!(data(&app, "/me/suggestions", &bob).await.len(), 1);
}

on_both_backends!(
    seen_again_costs_nothing,
    automatic_invitation_is_accepted,
    nothing_without_verification_or_automatic_mode,
    suggestion_accepted_makes_a_request,
    suggestions_are_private,
    manual_mode_hides_suggestions,
    verification_enrolls_identities_seen_earlier,
    automatic_invitations_and_the_cap,
    access_tokens_leave_recorded_addresses_alone,
    a_suggestion_needs_the_address_that_earned_it,
);

/// Bob's address moves off acme.com: his next session no longer shows Acme suggested,
/// and the suggestion cannot be accepted.
async fn a_suggestion_needs_the_address_that_earned_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    add_domain(&app, &acme, "acme.com", "automatic_suggestion", true).await;
    let bob = person(&app, "Bob", "bob@acme.com");
    let suggested = data(&app, "/me/suggestions", &bob).await;
    assert_eq!(suggested.len(), 1, "{suggested:?}");
    let id = suggested[0]["id"].as_str().unwrap().to_owned();

    app.kratos
        .insert_identity(crate::support::kratos_double::IdentitySeed {
            id: Some(bob.id),
            traits: json!({"email": "bob@elsewhere.example", "first_name": "Bob"}),
            verified: true,
            state: "active".into(),
            ..Default::default()
        });
    let session = app.kratos.create_session(bob.id);
    let moved = User {
        token: session.token,
        cookie: session.cookie,
        ..bob.clone()
    };
    assert!(data(&app, "/me/suggestions", &moved).await.is_empty());
    app.post(
        &format!("/me/suggestions/{id}/accept"),
        Auth::Bearer(&moved.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "suggestion_not_found");
}

/// A call with a Hydra access token (which says nothing of verified addresses) is not
/// taken for an identity that lost its addresses: a domain verified afterwards still
/// finds Bob, whom a session call showed at acme.com.
async fn access_tokens_leave_recorded_addresses_alone(backend: Backend) {
    let hydra = crate::support::hydra_double::HydraDouble::start().await;
    let url = hydra.admin_url();
    let app = TestApp::spawn_with(backend, |s| {
        s.claims.hydra_admin_url = Some(url.parse().unwrap());
    })
    .await;
    let alice = app.user("alice");
    let acme = org(&app, &alice, "Acme").await;
    let bob = person(&app, "Bob", "bob@acme.com");
    assert!(data(&app, "/me/memberships", &bob).await.is_empty());
    let token = hydra.issue(
        &bob.id.to_string(),
        "mobile-app",
        &["orgs:read"],
        std::time::Duration::from_secs(3600),
    );
    let by_token = app.get("/me/memberships", Auth::Bearer(&token)).await;
    assert_eq!(by_token.status, StatusCode::OK, "{}", by_token.body);
    let recorded = app
        .db
        .raw()
        .await
        .count("SELECT COUNT(*) FROM identity_verified_addresses", None)
        .await;
    assert_eq!(recorded, 1, "the token call kept Bob's address");
    let domain = add_domain(&app, &acme, "acme.com", "automatic_invitation", false).await;
    verify(&app, domain).await;
    assert_eq!(data(&app, "/me/invitations", &bob).await.len(), 1);
}
