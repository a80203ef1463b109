//! The outbox: every committed change records exactly one event per changed object, in
//! its own transaction, with who made it and from which request; refused changes and
//! dry runs record none.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{Auth, Backend, EventRow, RawConn, Reply, TestApp, User};
use crate::on_both_backends;

/// Reads the outbox and hands back only what was recorded since the last look.
struct Outbox {
    raw: RawConn,
    seen: usize,
}

impl Outbox {
    async fn open(app: &TestApp) -> Outbox {
        let mut outbox = Outbox {
            raw: app.db.raw().await,
            seen: 0,
        };
        outbox.new_events().await;
        outbox
    }

    async fn new_events(&mut self) -> Vec<EventRow> {
        let all = self.raw.events().await;
        let fresh = all[self.seen..].to_vec();
        self.seen = all.len();
        fresh
    }

    /// Asserts the types recorded since the last look, in order, and returns them.
    async fn expect(&mut self, kinds: &[&str]) -> Vec<EventRow> {
        let fresh = self.new_events().await;
        let got: Vec<&str> = fresh.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(got, kinds, "{fresh:#?}");
        fresh
    }
}

/// Sends `body` as `user` with a request id and a user agent of the test's own.
async fn traced(app: &TestApp, method: Method, path: &str, user: &User, body: Value) -> Reply {
    let request = app
        .request(method, path, Auth::Bearer(&user.token))
        .header("X-Request-Id", "req-events-1")
        .header("User-Agent", "events-test/1.0")
        .json(&body);
    Reply::from(request.send().await.expect("request")).await
}

fn assert_identity_event(event: &EventRow, user: &User, org: &str) {
    assert_eq!(event.actor_type, "identity");
    assert_eq!(
        event.actor_id.as_deref(),
        Some(user.id.to_string().as_str())
    );
    assert_eq!(event.request_id.as_deref(), Some("req-events-1"));
    assert_eq!(event.user_agent.as_deref(), Some("events-test/1.0"));
    assert_eq!(event.client_ip.as_deref(), Some("127.0.0.1"));
    let data = &event.data.0;
    let org_in_data = data["organization"]["id"]
        .as_str()
        .or(data["id"].as_str())
        .unwrap_or_default();
    assert_eq!(org_in_data, org, "{data}");
}

async fn org_changes_record_their_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut outbox = Outbox::open(&app).await;
    let alice = app.user("alice");
    let created = traced(&app, Method::POST, "/orgs", &alice, json!({"name": "Acme"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let org = created.str("id");
    let events = outbox
        .expect(&["organization.created", "organizationMembership.created"])
        .await;
    assert_org_created(&events, &alice, &org);

    let path = format!("/orgs/{org}");
    org_updates_record_their_events(&app, &mut outbox, &alice, &path).await;
    let bob = app.user("bob");
    app.add_member(&alice, &org, &bob, "org:member").await;
    outbox.expect(&["organizationMembership.created"]).await;
    let deleted = traced(&app, Method::DELETE, &path, &alice, Value::Null).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let events = outbox
        .expect(&[
            "organizationMembership.deleted",
            "organizationMembership.deleted",
            "organization.deleted",
        ])
        .await;
    let last = &events[2].data.0;
    assert_eq!(last["deleted"], true);
    assert_eq!(last["id"], org);
    assert_eq!(last["slug"], "acme");
    assert_eq!(last["object"], "organization");
}

fn assert_org_created(events: &[EventRow], alice: &User, org: &str) {
    for event in events {
        assert_identity_event(event, alice, org);
    }
    let org_data = &events[0].data.0;
    assert_eq!(org_data["object"], "organization");
    assert_eq!(org_data["slug"], "acme");
    assert_eq!(org_data["members_count"], 1, "the creator counts");
    assert!(org_data["created_at"].is_i64(), "{org_data}");
    let membership = &events[1].data.0;
    assert_eq!(membership["object"], "organization_membership");
    assert_eq!(membership["id"], format!("{org}:{}", alice.id));
    assert_eq!(membership["role"], "org:admin");
    assert_eq!(
        membership["public_user_data"]["user_id"],
        alice.id.to_string()
    );
    assert_eq!(membership["public_user_data"]["identifier"], alice.email);
    assert_eq!(events[1].target_type, "organization_membership");
}

async fn org_updates_record_their_events(
    app: &TestApp,
    outbox: &mut Outbox,
    alice: &User,
    path: &str,
) {
    let renamed = traced(app, Method::PATCH, path, alice, json!({"name": "Acme 2"})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let events = outbox.expect(&["organization.updated"]).await;
    assert_eq!(events[0].data.0["name"], "Acme 2");

    let metadata = json!({"public_metadata": {"plan": "pro"}});
    let merged = app
        .patch(
            &format!("{path}/metadata"),
            Auth::Bearer(&alice.token),
            metadata,
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    let events = outbox.expect(&["organization.updated"]).await;
    assert_eq!(events[0].data.0["public_metadata"], json!({"plan": "pro"}));
}

async fn membership_changes_record_their_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut outbox = Outbox::open(&app).await;
    let bob = app.user("bob");
    let members = format!("/orgs/{org}/members");
    let body = json!({"identity_id": bob.id, "role": "org:member"});
    let added = traced(&app, Method::POST, &members, &alice, body).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let events = outbox.expect(&["organizationMembership.created"]).await;
    assert_identity_event(&events[0], &alice, &org);
    assert_eq!(events[0].target_id, format!("{org}:{}", bob.id));

    let bob_path = format!("{members}/{}", bob.id);
    let body = json!({"role": "org:admin"});
    let promoted = traced(&app, Method::PATCH, &bob_path, &alice, body).await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    let events = outbox.expect(&["organizationMembership.updated"]).await;
    assert_eq!(events[0].data.0["role"], "org:admin");

    member_metadata_and_removal_record_their_events(&app, &mut outbox, &alice, &bob_path).await;
}

async fn member_metadata_and_removal_record_their_events(
    app: &TestApp,
    outbox: &mut Outbox,
    alice: &User,
    bob_path: &str,
) {
    let body = json!({"private_metadata": {"seat": 7}});
    let noted = app
        .patch(
            &format!("{bob_path}/metadata"),
            Auth::Bearer(&app.admin_key),
            body,
        )
        .await;
    assert_eq!(noted.status, StatusCode::OK, "{}", noted.body);
    let events = outbox.expect(&["organizationMembership.updated"]).await;
    assert_eq!(events[0].actor_type, "api_key");
    assert_eq!(events[0].data.0["private_metadata"], json!({"seat": 7}));

    let removed = app.delete(bob_path, Auth::Bearer(&alice.token)).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let events = outbox.expect(&["organizationMembership.deleted"]).await;
    let bob = bob_path.rsplit('/').next().unwrap();
    assert_eq!(events[0].data.0["public_user_data"]["user_id"], bob);
}

async fn invitation_and_role_changes_record_their_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    app.create_org(&alice, "Acme").await;
    let mut outbox = Outbox::open(&app).await;
    let bob = app.user("bob");
    let carol = app.user("carol");
    let mut ids = Vec::new();
    for invitee in [&bob, &carol] {
        let body = json!({"email_address": invitee.email});
        let invited = app
            .post("/orgs/acme/invitations", Auth::Bearer(&alice.token), body)
            .await;
        assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
        ids.push(invited.str("id"));
    }
    let events = outbox
        .expect(&[
            "organizationInvitation.created",
            "organizationInvitation.created",
        ])
        .await;
    assert_eq!(events[0].data.0["object"], "organization_invitation");
    assert_eq!(events[0].data.0["email_address"], bob.email);
    assert_eq!(events[0].data.0["status"], "pending");

    answers_record_their_events(&app, &mut outbox, [&bob, &carol], &ids).await;

    let body = json!({"email_address": "dan@example.org"});
    let invited = app
        .post("/orgs/acme/invitations", Auth::Bearer(&alice.token), body)
        .await;
    let path = format!("/orgs/acme/invitations/{}/revoke", invited.str("id"));
    let revoked = app.post(&path, Auth::Bearer(&alice.token), json!({})).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    outbox
        .expect(&[
            "organizationInvitation.created",
            "organizationInvitation.revoked",
        ])
        .await;

    role_changes_record_their_events(&app, &mut outbox).await;
}

/// Bob accepts his invitation, Carol declines hers.
async fn answers_record_their_events(
    app: &TestApp,
    outbox: &mut Outbox,
    [bob, carol]: [&User; 2],
    ids: &[String],
) {
    let answer = |who: &User, id: &str, verb: &str| {
        let path = format!("/me/invitations/{id}/{verb}");
        let token = who.token.clone();
        async move { app.post(&path, Auth::Bearer(&token), json!({})).await }
    };
    let accepted = answer(bob, &ids[0], "accept").await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    let events = outbox
        .expect(&[
            "organizationInvitation.accepted",
            "organizationMembership.created",
        ])
        .await;
    assert_eq!(events[0].data.0["user_id"], bob.id.to_string());
    assert_eq!(
        events[0].actor_id.as_deref(),
        Some(bob.id.to_string().as_str())
    );
    let declined = answer(carol, &ids[1], "decline").await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    outbox.expect(&["organizationInvitation.declined"]).await;
}

async fn role_changes_record_their_events(app: &TestApp, outbox: &mut Outbox) {
    let admin = || Auth::Bearer(&app.admin_key);
    let body = json!({"key": "org:billing", "name": "Billing",
        "permissions": ["org:invoices:read"]});
    let created = app.post("/roles", admin(), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let body = json!({"permissions": ["org:invoices:read", "org:invoices:pay"]});
    let updated = app.patch("/roles/org:billing", admin(), body).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    let deleted = app.delete("/roles/org:billing", admin()).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let events = outbox
        .expect(&["role.created", "role.updated", "role.deleted"])
        .await;
    assert!(events.iter().all(|e| e.actor_type == "api_key"));
    assert_eq!(events[0].data.0["object"], "role");
    let permissions = events[1].data.0["permissions"].as_array().unwrap().clone();
    assert!(
        permissions.contains(&json!({"object": "permission", "key": "org:invoices:pay"})),
        "{permissions:?}"
    );
    assert_eq!(events[2].data.0["deleted"], true);
    assert!(events
        .iter()
        .all(|e| e.target_type == "role" && e.target_id == "org:billing"));
}

/// Every refused change leaves the outbox as it was.
async fn refused_changes_record_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let bob = app.user("bob");
    let org = app.create_org(&alice, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.add_member(&alice, &org, &bob, "org:member").await;
    let mut outbox = Outbox::open(&app).await;

    let taken = json!({"name": "Acme", "slug": "acme"});
    app.post("/orgs", Auth::Bearer(&bob.token), taken)
        .await
        .assert_problem(StatusCode::CONFLICT, "slug_taken");
    app.patch(
        &format!("/orgs/{org}/members/{}", alice.id),
        Auth::Bearer(&alice.token),
        json!({"role": "org:member"}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "last_admin");
    app.delete(&format!("/orgs/{org}"), Auth::Bearer(&bob.token))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.post(
        &format!("/orgs/{org}/members"),
        Auth::Bearer(&alice.token),
        json!({"identity_id": bob.id, "role": "org:member"}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "already_member");
    app.post(
        "/roles",
        Auth::Bearer(&app.admin_key),
        json!({"key": "org:admin", "name": "Again", "permissions": []}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "role_exists");
    outbox.expect(&[]).await;

    // A generated slug that collides rolls its first attempt back and retries with a
    // suffix: one org, so one event for it, not two.
    let generated = app
        .post("/orgs", Auth::Bearer(&bob.token), json!({"name": "Acme"}))
        .await;
    assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.body);
    assert_ne!(generated.str("slug"), "acme");
    let events = outbox
        .expect(&["organization.created", "organizationMembership.created"])
        .await;
    assert_eq!(events[0].data.0["slug"], generated.str("slug"));
}

/// A dry run records nothing; the real run records each created row once, as the
/// import, and a re-run that changes nothing records nothing.
async fn import_records_what_it_wrote(backend: Backend) {
    use crate::import::{invitation, membership, migrated, org};
    let app = TestApp::spawn(backend).await;
    let alice = migrated(&app, "user_alice", "alice@acme.test");
    migrated(&app, "user_bob", "bob@acme.test");
    let doc = json!({
        "organizations": [org("org_acme", "acme")],
        "memberships": [
            membership("orgmem_1", "org_acme", "user_alice", "alice@acme.test", "admin"),
            membership("orgmem_2", "org_acme", "user_bob", "bob@acme.test", "org:billing"),
        ],
        "invitations": [invitation("orginv_1", "org_acme", "dan@acme.test", "pending")],
        "roles": [{"object": "role", "id": "role_1", "key": "org:billing", "name": "Billing",
            "permissions": [{"object": "permission", "key": "org:invoices:read"}]}],
    });
    let mut outbox = Outbox::open(&app).await;
    let admin = || Auth::Bearer(&app.admin_key);
    let dry = app
        .post("/admin/imports/clerk?dry_run=true", admin(), doc.clone())
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    outbox.expect(&[]).await;

    let real = app.post("/admin/imports/clerk", admin(), doc.clone()).await;
    assert_eq!(real.status, StatusCode::OK, "{}", real.body);
    let events = outbox
        .expect(&[
            "role.created",
            "organization.created",
            "organizationMembership.created",
            "organizationMembership.created",
            "organizationInvitation.created",
        ])
        .await;
    assert!(
        events.iter().all(|e| e.actor_type == "import"),
        "{events:#?}"
    );
    assert_eq!(
        events[2].data.0["public_user_data"]["user_id"],
        alice.to_string()
    );
    assert_eq!(events[2].data.0["organization"]["slug"], "acme");

    let again = app.post("/admin/imports/clerk", admin(), doc).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    outbox.expect(&[]).await;
}

/// An enabled endpoint gets a pending delivery, in the change's transaction, for each
/// event of a type it listens to; a disabled one gets none.
async fn events_fan_out_to_listening_endpoints(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut raw = app.db.raw().await;
    let all = uuid::Uuid::now_v7();
    let orgs_only = uuid::Uuid::now_v7();
    let disabled = uuid::Uuid::now_v7();
    let insert = "INSERT INTO webhook_endpoints (id, url, secret, created_at, updated_at) \
                  VALUES ($1, 'https://hooks.example.com/', 'whsec_dGVzdA==', \
                  CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)";
    raw.run(&[
        (insert, Some(all)),
        (insert, Some(orgs_only)),
        (insert, Some(disabled)),
        (
            "INSERT INTO webhook_endpoint_types (endpoint_id, type) \
             VALUES ($1, 'organization.created')",
            Some(orgs_only),
        ),
        (
            "UPDATE webhook_endpoints SET disabled_at = CURRENT_TIMESTAMP WHERE id = $1",
            Some(disabled),
        ),
    ])
    .await;
    let alice = app.user("alice");
    app.create_org(&alice, "Acme").await;
    let pending = "SELECT COUNT(*) FROM webhook_deliveries d JOIN events e \
                   ON e.seq = d.event_seq WHERE d.status = 'pending' AND d.endpoint_id = $1";
    assert_eq!(raw.count(pending, Some(all)).await, 2, "both events");
    let only_orgs = raw.count(pending, Some(orgs_only)).await;
    assert_eq!(only_orgs, 1, "organization.created only");
    let none = raw.count(pending, Some(disabled)).await;
    assert_eq!(none, 0, "a disabled endpoint");
}

on_both_backends!(
    org_changes_record_their_events,
    membership_changes_record_their_events,
    invitation_and_role_changes_record_their_events,
    refused_changes_record_nothing,
    import_records_what_it_wrote,
    events_fan_out_to_listening_endpoints,
);
