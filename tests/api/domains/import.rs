//! The Clerk import of domains (`orgdmn_…`) and pending membership requests
//! (`orgreq_…`): reported per row, dry run included, idempotent, and never taking a
//! name another org has verified.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Auth, Backend, TestApp};
use crate::import::{membership, migrated, org};
use crate::on_both_backends;

on_both_backends!(
    domains_and_requests_are_imported,
    a_name_verified_elsewhere_is_imported_unverified,
);

const T0: i64 = 1_716_883_200_000;

fn domain(id: &str, org: &str, name: &str, mode: &str, status: &str) -> Value {
    let verification = json!({"status": status, "strategy": "email_code", "attempts": 1,
        "expire_at": T0, "verified_at": null});
    json!({"object": "organization_domain", "id": id, "organization_id": org, "name": name,
        "enrollment_mode": mode, "affiliation_email_address": format!("it@{name}"),
        "affiliation_verification": verification, "verification": verification,
        "ownership_verification": null, "total_pending_invitations": 0,
        "total_pending_suggestions": 0, "created_at": T0, "updated_at": T0})
}

fn request(id: &str, org: &str, user: &str, email: &str, status: &str) -> Value {
    json!({"object": "organization_membership_request", "id": id, "organization_id": org,
        "status": status, "public_user_data": {"user_id": user, "identifier": email},
        "created_at": T0, "updated_at": T0})
}

fn acme_doc() -> Value {
    json!({
        "organizations": [org("org_acme", "acme")],
        "memberships": [
            membership("orgmem_1", "org_acme", "user_alice", "alice@acme.test", "admin"),
        ],
        "domains": [
            domain("orgdmn_1", "org_acme", "acme.test", "automatic_suggestion", "verified"),
            domain("orgdmn_2", "org_acme", "acme.org", "manual_invitation", "unverified"),
            domain("orgdmn_3", "org_acme", "gmail.com", "manual_invitation", "verified"),
            domain("orgdmn_9", "org_nowhere", "nowhere.test", "manual_invitation", "verified"),
        ],
        "membership_requests": [
            request("orgreq_1", "org_acme", "user_bob", "bob@acme.test", "pending"),
            request("orgreq_2", "org_acme", "user_zed", "zed@acme.test", "pending"),
            request("orgreq_3", "org_acme", "user_alice", "alice@acme.test", "pending"),
        ],
    })
}

async fn import(app: &TestApp, doc: &Value, dry_run: bool) -> Value {
    let reply = app
        .post(
            &format!("/admin/imports/clerk?dry_run={dry_run}"),
            Auth::Bearer(&app.admin_key),
            doc.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn statuses(rows: &Value) -> Vec<&str> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

async fn domains_and_requests_are_imported(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    migrated(&app, "user_alice", "alice@acme.test");
    let bob = migrated(&app, "user_bob", "bob@acme.test");
    let doc = acme_doc();

    let dry = import(&app, &doc, true).await;
    first_report(&dry);
    let none = app
        .get("/orgs/org_acme/domains", Auth::Bearer(&app.admin_key))
        .await;
    none.assert_problem(StatusCode::NOT_FOUND, "org_not_found");

    let real = import(&app, &doc, false).await;
    first_report(&real);
    imported_rows_read_back(&app, bob).await;

    let again = import(&app, &doc, false).await;
    assert_eq!(
        again["summary"]["domains"],
        json!({"created": 0, "updated": 0, "unchanged": 2, "skipped": 1})
    );
    assert_eq!(
        statuses(&again["orgs"][0]["membership_requests"]),
        ["unchanged", "skipped", "skipped"]
    );
    let events = app.db.raw().await.events().await;
    let created: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "organizationDomain.created")
        .collect();
    assert_eq!(created.len(), 2);
    assert!(created.iter().all(|e| e.actor_type == "import"));
}

fn first_report(report: &Value) {
    assert_eq!(
        report["summary"]["domains"],
        json!({"created": 2, "updated": 0, "unchanged": 0, "skipped": 1})
    );
    assert_eq!(
        report["summary"]["membership_requests"],
        json!({"created": 1, "updated": 0, "unchanged": 0, "skipped": 2})
    );
    let acme = &report["orgs"][0];
    assert_eq!(
        statuses(&acme["domains"]),
        ["created", "created", "skipped"]
    );
    assert_eq!(acme["domains"][0]["verified"], true);
    assert_eq!(acme["domains"][1]["verified"], false);
    assert_eq!(
        statuses(&acme["membership_requests"]),
        ["created", "skipped", "skipped"]
    );
    let codes: Vec<(&str, &str)> = acme["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["clerk_id"].as_str().unwrap(), p["code"].as_str().unwrap()))
        .collect();
    assert!(codes.contains(&("orgdmn_3", "invalid_field")), "{codes:?}");
    assert!(codes.contains(&("orgreq_2", "unmapped_user")), "{codes:?}");
    assert!(
        codes.contains(&("orgreq_3", "duplicate_request")),
        "{codes:?}"
    );
    let orphan = &report["problems"][0];
    assert_eq!(orphan["clerk_id"], "orgdmn_9");
    assert_eq!(orphan["code"], "unknown_organization");
}

async fn imported_rows_read_back(app: &TestApp, bob: uuid::Uuid) {
    let list = app
        .get("/orgs/org_acme/domains", Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let acme = &list.body["data"][0];
    assert_eq!(acme["name"], "acme.test");
    assert_eq!(acme["verified"], true);
    assert_eq!(acme["verification"]["strategy"], "import");
    assert_eq!(acme["enrollment_mode"], "automatic_suggestion");
    assert_eq!(acme["affiliation_email_address"], "it@acme.test");
    assert_eq!(list.body["data"][1]["verified"], false);
    let pending = app
        .db
        .raw()
        .await
        .count(
            "SELECT COUNT(*) FROM membership_requests WHERE identity_id = $1 \
             AND status = 'pending' AND clerk_id = 'orgreq_1'",
            Some(bob),
        )
        .await;
    assert_eq!(pending, 1);
}

async fn a_name_verified_elsewhere_is_imported_unverified(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let mine = app.create_org(&alice, "Mine").await;
    let added = app
        .post(
            &format!("/orgs/{}/domains", mine["id"].as_str().unwrap()),
            Auth::Bearer(&app.admin_key),
            json!({"name": "acme.test"}),
        )
        .await;
    assert_eq!(added.body["verified"], true, "{}", added.body);
    migrated(&app, "user_alice", "alice@acme.test");
    let doc = json!({
        "organizations": [org("org_acme", "acme")],
        "memberships": [
            membership("orgmem_1", "org_acme", "user_alice", "alice@acme.test", "admin"),
        ],
        "domains": [domain("orgdmn_1", "org_acme", "acme.test", "automatic_invitation", "verified")],
    });
    let report = import(&app, &doc, false).await;
    let acme = &report["orgs"][0];
    assert_eq!(acme["domains"][0]["status"], "created");
    assert_eq!(acme["domains"][0]["verified"], false);
    assert_eq!(acme["problems"][0]["code"], "domain_verified_elsewhere");
    let list = app
        .get("/orgs/org_acme/domains", Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(list.body["data"][0]["verified"], false, "{}", list.body);
}
