//! The Clerk import through `POST /admin/imports/clerk` (and `GET …/org-ids`), on both
//! backends, with identities in the Kratos double.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{Auth, Backend, Reply, TestApp};
use crate::on_both_backends;
use crate::support::kratos_double::IdentitySeed;

const T0: i64 = 1_716_883_200_000;

pub fn org(id: &str, slug: &str) -> Value {
    json!({"object": "organization", "id": id, "name": format!("Org {slug}"), "slug": slug,
        "image_url": "https://img.clerk.com/x", "has_image": true,
        "public_metadata": {"plan": "pro"}, "private_metadata": {"crm_id": "ORG-1"},
        "max_allowed_memberships": 0, "admin_delete_enabled": true,
        "created_by": "user_alice", "created_at": T0, "updated_at": T0 + 300_000})
}

pub fn membership(id: &str, org: &str, user: &str, email: &str, role: &str) -> Value {
    json!({"object": "organization_membership", "id": id, "role": role, "permissions": [],
        "public_metadata": {"department": "ops"}, "private_metadata": {},
        "organization": {"object": "organization", "id": org, "name": "x", "slug": "x"},
        "public_user_data": {"user_id": user, "first_name": null, "last_name": null,
            "identifier": email, "has_image": false},
        "created_at": T0, "updated_at": T0})
}

pub fn invitation(id: &str, org: &str, email: &str, status: &str) -> Value {
    json!({"object": "organization_invitation", "id": id, "email_address": email,
        "role": "org:member", "organization_id": org, "inviter_id": "user_alice",
        "status": status, "public_metadata": {}, "private_metadata": {},
        "url": null, "expires_at": T0 + 30 * 86_400_000_i64, "created_at": T0, "updated_at": T0})
}

/// An identity the Olympus user migration created for a Clerk user.
pub fn migrated(app: &TestApp, clerk_id: &str, email: &str) -> Uuid {
    app.kratos.insert_identity(IdentitySeed {
        traits: json!({"email": email}),
        metadata_admin: Some(json!({"legacy_clerk_id": clerk_id})),
        ..IdentitySeed::default()
    })
}

fn plain_identity(app: &TestApp, email: &str) -> Uuid {
    app.kratos.insert_identity(IdentitySeed {
        traits: json!({"email": email}),
        ..IdentitySeed::default()
    })
}

async fn import(app: &TestApp, doc: &Value, dry_run: bool) -> Reply {
    let path = format!("/admin/imports/clerk?dry_run={dry_run}");
    app.post(&path, Auth::Bearer(&app.admin_key), doc.clone())
        .await
}

async fn import_ok(app: &TestApp, doc: &Value, dry_run: bool) -> Value {
    let reply = import(app, doc, dry_run).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn org_count(app: &TestApp) -> usize {
    let reply = app
        .get("/orgs?page_size=500", Auth::Bearer(&app.admin_key))
        .await;
    reply.body["data"].as_array().map_or(0, Vec::len)
}

fn problem_codes(org: &Value) -> Vec<String> {
    org["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect()
}

/// The report without what differs between a dry and a real run.
fn comparable(report: &Value) -> Value {
    let mut report = report.clone();
    report["dry_run"] = Value::Null;
    for org in report["orgs"].as_array_mut().unwrap() {
        org["id"] = Value::Null;
    }
    report
}

fn acme_doc(alice_map: Option<Uuid>) -> Value {
    let mut doc = json!({
        "organizations": [org("org_acme", "acme")],
        "memberships": [
            membership("orgmem_1", "org_acme", "user_alice", "alice@acme.test", "admin"),
            membership("orgmem_2", "org_acme", "user_bob", "bob@acme.test", "basic_member"),
            membership("orgmem_3", "org_acme", "user_carol", "carol@acme.test", "org:billing"),
        ],
        "invitations": [
            invitation("orginv_1", "org_acme", "Dan@Acme.test", "pending"),
            invitation("orginv_2", "org_acme", "erin@acme.test", "accepted"),
        ],
        "roles": [{"object": "role", "id": "role_1", "key": "org:billing", "name": "Billing",
            "description": "Pays", "permissions": [{"object": "permission", "key": "org:invoices:read"}]}],
    });
    if let Some(id) = alice_map {
        doc["user_map"] = json!({"user_carol": id});
    }
    doc
}

/// What the first real import of [`acme_doc`] reports.
fn first_run_report(real: &Value) {
    assert_eq!(
        real["identity_mapping"],
        json!({"user_map": 1, "legacy_clerk_id": 1, "email": 1, "unmapped": 0})
    );
    assert_eq!(real["summary"]["memberships"]["created"], 3);
    assert_eq!(
        real["summary"]["invitations"],
        json!({"created": 1, "updated": 0, "unchanged": 0, "skipped": 1})
    );
    assert_eq!(
        real["roles"],
        json!([{"key": "org:billing", "status": "created"}])
    );
    let acme = &real["orgs"][0];
    assert_eq!(acme["status"], "created");
    assert_eq!(problem_codes(acme), ["invitation_not_pending"]);
    let members: Vec<(&str, &str)> = acme["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mapped_by"].as_str().unwrap(),
                m["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            ("legacy_clerk_id", "org:admin"),
            ("email", "org:member"),
            ("user_map", "org:billing")
        ]
    );
}

/// The imported org through the normal API, by its Clerk id too.
async fn imported_org_reads_back(app: &TestApp, alice: Uuid, bob: Uuid, carol: Uuid) {
    let got = app
        .get("/orgs/org_acme", Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.body["slug"], "acme");
    assert_eq!(got.body["clerk_id"], "org_acme");
    assert_eq!(got.body["members_count"], 3);
    assert_eq!(got.body["created_by"], alice.to_string());
    assert_eq!(got.body["private_metadata"], json!({"crm_id": "ORG-1"}));
    assert_eq!(got.body["created_at"], "2024-05-28T08:00:00Z");
    let session = app.kratos.create_session(alice);
    let mine = app
        .get("/orgs/org_acme/members", Auth::Bearer(&session.token))
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    let ids = mine.body.to_string();
    for id in [alice, bob, carol] {
        assert!(ids.contains(&id.to_string()), "{ids}");
    }
}

async fn dry_run_import_rerun(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = migrated(&app, "user_alice", "alice@acme.test");
    let bob = plain_identity(&app, "bob@acme.test");
    let carol = plain_identity(&app, "someone-else@acme.test");
    let doc = acme_doc(Some(carol));

    let dry = import_ok(&app, &doc, true).await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["changed"], true);
    assert_eq!(org_count(&app).await, 0, "a dry run writes nothing");
    let roles = app.get("/roles", Auth::Bearer(&app.admin_key)).await;
    assert!(
        !roles.body.to_string().contains("org:billing"),
        "{}",
        roles.body
    );

    let real = import_ok(&app, &doc, false).await;
    assert_eq!(
        comparable(&dry),
        comparable(&real),
        "the dry run reports what the real run does"
    );
    first_run_report(&real);

    let again = import_ok(&app, &doc, false).await;
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["summary"]["orgs"]["unchanged"], 1);
    assert_eq!(again["summary"]["memberships"]["unchanged"], 3);
    assert_eq!(again["summary"]["invitations"]["unchanged"], 1);

    imported_org_reads_back(&app, alice, bob, carol).await;
}

async fn improved_mapping_adds_what_was_missing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    migrated(&app, "user_bob", "bob@acme.test");
    migrated(&app, "user_carl", "carl@acme.test");
    let doc = json!({
        "organizations": [org("org_acme", "acme")],
        "memberships": [
            membership("orgmem_1", "org_acme", "user_alice", "alice@acme.test", "org:admin"),
            membership("orgmem_2", "org_acme", "user_bob", "bob@acme.test", "org:member"),
            membership("orgmem_3", "org_acme", "user_carl", "carl@acme.test", "org:ghost"),
        ],
    });
    let first = import_ok(&app, &doc, false).await;
    let acme = &first["orgs"][0];
    assert_eq!(acme["status"], "created");
    let codes = problem_codes(acme);
    for code in ["unmapped_user", "unknown_role", "org_without_admin"] {
        assert!(codes.contains(&code.to_owned()), "{codes:?}");
    }
    let unmapped = acme["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "unmapped_user" && p["clerk_id"] == "orgmem_1");
    assert!(unmapped.is_some(), "{acme}");
    assert_eq!(first["identity_mapping"]["unmapped"], 1);
    assert_eq!(
        first["summary"]["memberships"],
        json!({"created": 1, "updated": 0, "unchanged": 0, "skipped": 2})
    );

    // The admin fixes the mapping in Kratos and runs again.
    migrated(&app, "user_alice", "alice@acme.test");
    let second = import_ok(&app, &doc, false).await;
    let acme = &second["orgs"][0];
    // Its creator now maps too, so created_by is filled in.
    assert_eq!(acme["status"], "updated");
    let statuses: Vec<&str> = acme["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["created", "unchanged", "skipped"]);
    assert!(!problem_codes(acme).contains(&"org_without_admin".to_owned()));
    assert_eq!(second["changed"], true);
}

async fn one_bad_org_does_not_stop_the_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner");
    app.create_org(&owner, "Taken").await;
    migrated(&app, "user_alice", "alice@acme.test");
    let mut broken = org("org_broken", "broken");
    broken["image_url"] = json!("javascript:alert(1)");
    let doc = json!({
        "organizations": [org("org_taken", "taken"), broken, org("org_fine", "fine")],
        "memberships": [
            membership("orgmem_1", "org_taken", "user_alice", "a@x.test", "org:admin"),
            membership("orgmem_2", "org_broken", "user_alice", "a@x.test", "org:admin"),
            membership("orgmem_3", "org_fine", "user_alice", "a@x.test", "org:admin"),
            membership("orgmem_4", "org_gone", "user_alice", "a@x.test", "org:admin"),
        ],
    });
    let report = import_ok(&app, &doc, false).await;
    let orgs = report["orgs"].as_array().unwrap();
    assert_eq!(orgs[0]["status"], "skipped");
    assert_eq!(problem_codes(&orgs[0]), ["slug_conflict"]);
    assert_eq!(orgs[0]["memberships"][0]["status"], "skipped");
    assert_eq!(orgs[1]["status"], "skipped");
    assert_eq!(orgs[1]["problems"][0]["code"], "invalid_field");
    assert_eq!(orgs[1]["problems"][0]["field"], "image_url");
    assert_eq!(orgs[2]["status"], "created");
    assert_eq!(report["problems"][0]["code"], "unknown_organization");
    assert_eq!(report["problems"][0]["clerk_id"], "orgmem_4");
    assert_eq!(org_count(&app).await, 2);
    let taken = app.get("/orgs/taken", Auth::Bearer(&app.admin_key)).await;
    assert_eq!(
        taken.body["clerk_id"],
        Value::Null,
        "the existing org is untouched"
    );
    app.get("/orgs/org_broken", Auth::Bearer(&app.admin_key))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
}

/// Read keys and identities may not import; the document must be sent as JSON.
async fn only_admin_keys_send_json(app: &TestApp) {
    let doc = json!({"organizations": []});
    app.post(
        "/admin/imports/clerk",
        Auth::Bearer(&app.read_key),
        doc.clone(),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let user = app.user("mallory");
    let reply = app
        .post("/admin/imports/clerk", Auth::Bearer(&user.token), doc)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    let reply = app
        .request(
            reqwest::Method::POST,
            "/admin/imports/clerk",
            Auth::Bearer(&app.admin_key),
        )
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn bad_input_names_the_path_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let send = |body: &'static str| {
        app.request(
            reqwest::Method::POST,
            "/admin/imports/clerk",
            Auth::Bearer(&app.admin_key),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
    };
    let reply = send(r#"{"organizations": [{"id": "org_1", "name": "A", "slug": "a"},"#)
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["code"], "invalid_json");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("organizations[1]"),
        "{body}"
    );

    let cases = [
        (
            json!({"organizations": [org("org_1", "a")],
            "memberships": [membership("orgmem_1", "org_1", "user_1", "a@x.test", "org:admin"),
                {"id": "orgmem_2", "role": "org:admin", "organization": {"id": "org_1"},
                 "public_user_data": {"user_id": 42}}]}),
            "memberships[1].public_user_data.user_id",
        ),
        (
            json!({"organizations": [org("org_1", "a"), org("org_1", "b")]}),
            "organizations[1].id",
        ),
        (
            json!({"organizations": [org("org_1", "a")],
            "memberships": [membership("orgmem_1", "org_1", "user_1", "a@x.test", "org:admin"),
                membership("orgmem_1", "org_1", "user_2", "b@x.test", "org:admin")]}),
            "memberships[1].id",
        ),
        (json!({"organizations": {"id": "org_1"}}), "organizations"),
        (json!({"memberships": []}), "organizations"),
        (
            json!({"organizations": [org("org_1", "a")], "user_map": {"user_1": "not-a-uuid"}}),
            "user_map.user_1",
        ),
    ];
    for (doc, path) in cases {
        let reply = import(&app, &doc, false).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(reply.body["errors"][0]["field"], path, "{}", reply.body);
    }
    assert_eq!(org_count(&app).await, 0, "nothing was written");

    only_admin_keys_send_json(&app).await;
}

async fn camel_case_sdk_dumps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = migrated(&app, "user_alice", "alice@acme.test");
    let doc = json!({
        "organizations": [{"id": "org_c", "name": "Camel", "slug": "camel", "imageUrl": null,
            "publicMetadata": {"a": 1}, "privateMetadata": null, "maxAllowedMemberships": 5,
            "createdBy": "user_alice", "createdAt": T0, "updatedAt": T0}],
        "memberships": [{"id": "orgmem_c", "role": "org:admin", "publicMetadata": {},
            "organization": {"id": "org_c"},
            "publicUserData": {"userId": "user_alice", "identifier": "alice@acme.test"},
            "createdAt": T0, "updatedAt": T0}],
        "userMap": {},
    });
    let report = import_ok(&app, &doc, false).await;
    assert_eq!(report["orgs"][0]["status"], "created", "{report}");
    assert_eq!(report["orgs"][0]["problems"], json!([]));
    let got = app.get("/orgs/org_c", Auth::Bearer(&app.admin_key)).await;
    assert_eq!(got.body["max_allowed_memberships"], 5);
    assert_eq!(got.body["created_by"], alice.to_string());
    assert_eq!(got.body["public_metadata"], json!({"a": 1}));
}

async fn org_ids_page_through_imported_orgs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = json!({"organizations": [org("org_b", "b"), org("org_a", "a"), org("org_c", "c")]});
    let report = import_ok(&app, &doc, false).await;
    assert_eq!(report["summary"]["orgs"]["created"], 3);
    assert!(problem_codes(&report["orgs"][0]).contains(&"org_without_admin".to_owned()));
    let first = app
        .get(
            "/admin/imports/clerk/org-ids?page_size=2",
            Auth::Bearer(&app.read_key),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let ids: Vec<&str> = first.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["clerk_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["org_a", "org_b"]);
    let token = first.str("next_page_token");
    let second = app
        .get(
            &format!("/admin/imports/clerk/org-ids?page_size=2&page_token={token}"),
            Auth::Bearer(&app.read_key),
        )
        .await;
    assert_eq!(second.body["data"][0]["clerk_id"], "org_c");
    assert_eq!(second.body["next_page_token"], Value::Null);
    let id = second.body["data"][0]["id"].as_str().unwrap().to_owned();
    let by_uuid = app
        .get(&format!("/orgs/{id}"), Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(by_uuid.body["clerk_id"], "org_c");
    let user = app.user("eve");
    app.get("/admin/imports/clerk/org-ids", Auth::Bearer(&user.token))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

/// Orgs are written in batches (one transaction, a savepoint each): an org refused in
/// the middle of a batch is rolled back alone, and the dry run reports the same.
async fn a_refused_org_inside_a_batch_leaves_the_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    migrated(&app, "user_alice", "alice@acme.test");
    let doc = json!({
        "organizations": [org("org_first", "same"), org("org_second", "same"), org("org_third", "third")],
        "memberships": [
            membership("orgmem_1", "org_first", "user_alice", "a@x.test", "org:admin"),
            membership("orgmem_2", "org_second", "user_alice", "a@x.test", "org:admin"),
            membership("orgmem_3", "org_third", "user_alice", "a@x.test", "org:member"),
        ],
    });
    let dry = import_ok(&app, &doc, true).await;
    assert_eq!(org_count(&app).await, 0, "a dry run writes nothing");
    let real = import_ok(&app, &doc, false).await;
    assert_eq!(comparable(&dry), comparable(&real));
    let statuses: Vec<&Value> = real["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!("created"), &json!("skipped"), &json!("created")]
    );
    assert_eq!(problem_codes(&real["orgs"][1]), ["slug_conflict"]);
    assert_eq!(real["orgs"][1]["memberships"][0]["status"], "skipped");
    assert_eq!(problem_codes(&real["orgs"][2]), ["org_without_admin"]);
    assert_eq!(real["summary"]["memberships"]["created"], 2);
    assert_eq!(org_count(&app).await, 2);
    let again = import_ok(&app, &doc, false).await;
    assert_eq!(again["changed"], false, "{again}");
}

/// A Clerk invitation id already imported into one org is never rewritten from another:
/// the second org fails whole, with a reported problem, and the first keeps its invitation.
async fn an_invitation_id_belongs_to_one_org(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    migrated(&app, "user_alice", "alice@acme.test");
    let admin = |org: &str| {
        membership(
            &format!("orgmem_{org}"),
            org,
            "user_alice",
            "alice@acme.test",
            "org:admin",
        )
    };
    let first = json!({"organizations": [org("org_first", "first")],
        "memberships": [admin("org_first")],
        "invitations": [invitation("orginv_shared", "org_first", "dan@acme.test", "pending")]});
    import_ok(&app, &first, false).await;
    let second = json!({"organizations": [org("org_second", "second")],
        "memberships": [admin("org_second")],
        "invitations": [invitation("orginv_shared", "org_second", "eve@acme.test", "pending")]});
    let report = import_ok(&app, &second, false).await;
    assert_eq!(report["orgs"][0]["status"], "skipped", "{report}");
    assert_eq!(problem_codes(&report["orgs"][0]), ["apply_failed"]);
    let kept = app
        .get("/orgs/org_first/invitations", Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(kept.body["data"][0]["email_address"], "dan@acme.test");
    app.get("/orgs/org_second", Auth::Bearer(&app.admin_key))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
}

/// A slug someone took before the import (e.g. after sign-ups opened) skips the org,
/// never renaming it silently; `slug_overrides` lets the admin choose its slug, in the
/// dry run as in the real run, by the same slug rules.
async fn slug_overrides_resolve_a_slug_conflict(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner");
    app.create_org(&owner, "Taken").await;
    migrated(&app, "user_alice", "alice@acme.test");
    let mut doc = json!({
        "organizations": [org("org_taken", "taken"), org("org_fine", "fine")],
        "memberships": [
            membership("orgmem_1", "org_taken", "user_alice", "a@x.test", "org:admin"),
            membership("orgmem_2", "org_fine", "user_alice", "a@x.test", "org:admin"),
        ],
    });
    let skipped = import_ok(&app, &doc, true).await;
    assert_eq!(problem_codes(&skipped["orgs"][0]), ["slug_conflict"]);
    let detail = skipped["orgs"][0]["problems"][0]["detail"]
        .as_str()
        .unwrap();
    assert!(detail.contains("slug_overrides"), "{detail}");

    doc["slug_overrides"] = json!({"org_taken": "taken-2", "org_typo": "typo"});
    let dry = import_ok(&app, &doc, true).await;
    overridden_and_warned(&dry);
    assert_eq!(org_count(&app).await, 1, "a dry run writes nothing");
    let real = import_ok(&app, &doc, false).await;
    assert_eq!(comparable(&dry), comparable(&real));
    let imported = app.get("/orgs/taken-2", Auth::Bearer(&app.admin_key)).await;
    assert_eq!(imported.body["clerk_id"], "org_taken", "{}", imported.body);
    let existing = app.get("/orgs/taken", Auth::Bearer(&app.admin_key)).await;
    assert_eq!(
        existing.body["clerk_id"],
        Value::Null,
        "the owner's org is untouched"
    );
    let again = import_ok(&app, &doc, false).await;
    assert_eq!(again["changed"], false, "{again}");
    bad_slug_overrides_are_refused(&app, doc).await;
}

/// The report of a run with `{"org_taken": "taken-2", "org_typo": "typo"}`.
fn overridden_and_warned(report: &Value) {
    assert_eq!(report["orgs"][0]["status"], "created", "{report}");
    assert_eq!(report["orgs"][0]["slug"], "taken-2");
    assert_eq!(report["orgs"][0]["memberships"][0]["status"], "created");
    assert_eq!(report["problems"][0]["code"], "unknown_organization");
    assert_eq!(report["problems"][0]["clerk_id"], "org_typo");
    assert_eq!(report["problems"][0]["field"], "slug_overrides");
}

async fn bad_slug_overrides_are_refused(app: &TestApp, mut doc: Value) {
    for (overrides, field) in [
        (
            json!({"org_taken": "Not A Slug"}),
            "slug_overrides.org_taken",
        ),
        (json!({"org_taken": 7}), "slug_overrides.org_taken"),
        (json!(["org_taken"]), "slug_overrides"),
    ] {
        doc["slug_overrides"] = overrides;
        let reply = import(app, &doc, false).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(reply.body["errors"][0]["field"], field, "{}", reply.body);
    }
}

/// Events are written per batch, after its orgs: an org rolled back to its savepoint
/// (here a slug conflict) records none, a dry run none, an unchanged re-run none.
async fn imported_rows_record_their_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    migrated(&app, "user_alice", "alice@acme.test");
    let doc = json!({
        "organizations": [org("org_first", "same"), org("org_second", "same"), org("org_third", "third")],
        "memberships": [
            membership("orgmem_1", "org_first", "user_alice", "a@x.test", "org:admin"),
            membership("orgmem_2", "org_second", "user_alice", "a@x.test", "org:admin"),
            membership("orgmem_3", "org_third", "user_alice", "a@x.test", "org:member"),
        ],
        "invitations": [invitation("orginv_1", "org_third", "dan@acme.test", "pending")],
    });
    let mut raw = app.db.raw().await;
    import_ok(&app, &doc, true).await;
    assert_eq!(raw.count("SELECT COUNT(*) FROM events", None).await, 0);
    import_ok(&app, &doc, false).await;
    let events = raw.events().await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "organization.created",
            "organizationMembership.created",
            "organization.created",
            "organizationMembership.created",
            "organizationInvitation.created",
        ]
    );
    for event in &events {
        assert_eq!(
            (event.actor_type.as_str(), &event.actor_id),
            ("import", &None)
        );
        let origin = [&event.request_id, &event.client_ip, &event.user_agent];
        assert_eq!(
            origin,
            [&None, &None, &None],
            "an import has no request origin"
        );
    }
    assert_eq!(events[0].target_type, "organization");
    assert_eq!(events[0].target_id, events[1].data.0["organization"]["id"]);
    assert_eq!(events[1].data.0["organization"]["slug"], "same");
    assert_eq!(events[3].data.0["organization"]["slug"], "third");
    import_ok(&app, &doc, false).await;
    assert_eq!(raw.count("SELECT COUNT(*) FROM events", None).await, 5);
}

/// The report streams out while the orgs are written, in parallel where the backend
/// allows: it is still one JSON object, its orgs in document order, totals included.
async fn a_streamed_report_keeps_document_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids: Vec<String> = (0..300).map(|i| format!("org_{i:03}")).collect();
    let orgs: Vec<Value> = ids
        .iter()
        .map(|id| org(id, &id.replace('_', "-")))
        .collect();
    let report = import_ok(&app, &json!({"organizations": orgs, "extra": 1}), false).await;
    let reported: Vec<&str> = report["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["clerk_id"].as_str().unwrap())
        .collect();
    assert_eq!(reported, ids);
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["changed"], true);
    assert_eq!(report["summary"]["orgs"]["created"], 300);
    assert_eq!(report["ignored_keys"], json!(["extra"]));
    assert_eq!(report["roles"], json!([]));
}

on_both_backends!(
    imported_rows_record_their_events,
    a_streamed_report_keeps_document_order,
    slug_overrides_resolve_a_slug_conflict,
    an_invitation_id_belongs_to_one_org,
    dry_run_import_rerun,
    improved_mapping_adds_what_was_missing,
    one_bad_org_does_not_stop_the_others,
    bad_input_names_the_path_and_writes_nothing,
    camel_case_sdk_dumps,
    org_ids_page_through_imported_orgs,
    a_refused_org_inside_a_batch_leaves_the_others,
);

/// Five orgs as Clerk's API holds them: each with Alice, an unmapped member, a pending
/// and a revoked invitation; and the admin role with a custom permission.
fn five_clerk_orgs() -> crate::support::clerk_double::ClerkData {
    let mut data = crate::support::clerk_double::ClerkData::default();
    for i in 0..5 {
        let id = format!("org_{i}");
        data.organizations.push(org(&id, &format!("team-{i}")));
        let mut members = vec![membership(
            &format!("orgmem_{i}_a"),
            &id,
            "user_alice",
            "alice@acme.test",
            "org:admin",
        )];
        members.push(membership(
            &format!("orgmem_{i}_b"),
            &id,
            "user_ghost",
            "ghost@acme.test",
            "org:member",
        ));
        data.memberships.insert(id.clone(), members);
        let mut pending = invitation(&format!("orginv_{i}"), &id, "new@acme.test", "pending");
        pending.as_object_mut().unwrap().remove("organization_id");
        let revoked = invitation(&format!("orginv_{i}_r"), &id, "old@acme.test", "revoked");
        data.invitations.insert(id.clone(), vec![pending, revoked]);
        // Listed per org, Clerk's domains name their org anyway.
        let domain = json!({"object": "organization_domain", "id": format!("orgdmn_{i}"),
            "organization_id": id, "name": format!("team-{i}.test"),
            "enrollment_mode": "manual_invitation",
            "verification": {"status": "verified", "strategy": "email_code"},
            "created_at": T0, "updated_at": T0});
        data.domains.insert(id, vec![domain]);
    }
    data.roles.push(
        json!({"object": "role", "id": "role_1", "key": "org:admin", "name": "Admin",
        "permissions": [{"key": "org:sys_memberships:manage"}, {"key": "org:reports:read"}]}),
    );
    data
}

/// `--from-api`: page Clerk (through the double, with a 429 on the way), then import
/// what was paged, on each backend.
async fn from_clerk_api_with_rate_limit(backend: Backend) {
    use crate::support::clerk_double::ClerkDouble;
    use polis::import::clerk_api::ClerkClient;

    let app = TestApp::spawn(backend).await;
    migrated(&app, "user_alice", "alice@acme.test");
    let data = five_clerk_orgs();
    let clerk = ClerkDouble::start("sk_test_secret", data, 2).await;
    clerk.throttle_next(1);

    let client = ClerkClient::new(&clerk.base_url.parse().unwrap(), "sk_test_secret").unwrap();
    let mut document = Vec::new();
    let started = std::time::Instant::now();
    client.export(&mut document, &|_| {}).await.expect("export");
    assert_eq!(clerk.throttled(), 1);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was honoured"
    );
    // 3 pages of orgs, 1 of memberships, of invitations and of domains per org, 1 of
    // roles, + the 429.
    assert_eq!(clerk.requests(), 3 + 5 + 5 + 5 + 1 + 1);

    let mut settings = polis::config::Settings::from_env();
    settings.kratos_admin_url = app.kratos.admin_url().parse().unwrap();
    let kratos =
        polis::auth::kratos::KratosClient::new(&settings, std::time::Duration::from_secs(10))
            .unwrap();
    let mut sink = polis::import::report::CollectingSink::default();
    let summary = polis::import::run(
        std::io::Cursor::new(document),
        app.db.store.clone(),
        kratos,
        polis::import::ImportOptions {
            dry_run: false,
            now: polis::clock::Clock::now(&polis::clock::SystemClock),
            blocked_domains: Default::default(),
        },
        &mut sink,
        &|_| {},
    )
    .await
    .expect("import");
    let report = serde_json::to_value(summary.into_report(sink.into_sorted())).unwrap();
    assert_eq!(report["summary"]["orgs"]["created"], 5, "{report}");
    assert_eq!(
        report["summary"]["memberships"],
        json!({"created": 5, "updated": 0, "unchanged": 0, "skipped": 5})
    );
    assert_eq!(report["summary"]["invitations"]["created"], 5);
    assert_eq!(report["summary"]["domains"]["created"], 5);
    assert_eq!(report["orgs"][0]["domains"][0]["verified"], true);
    assert_eq!(
        report["roles"],
        json!([{"key": "org:admin", "status": "updated"}])
    );
    let role = app
        .get("/roles/org:admin", Auth::Bearer(&app.admin_key))
        .await;
    assert!(
        role.body.to_string().contains("org:reports:read"),
        "{}",
        role.body
    );

    let wrong = ClerkClient::new(&clerk.base_url.parse().unwrap(), "sk_wrong").unwrap();
    let err = wrong
        .export(Vec::new(), &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("401") && !err.contains("sk_"), "{err}");
}

on_both_backends!(from_clerk_api_with_rate_limit);
