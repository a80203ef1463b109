//! Adding, listing, reading, changing and deleting domains; the name rules; who may;
//! the events; and withdrawing what a domain enrolled.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{add_domain, run_with, user_at};
use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    domains_are_added_listed_changed_and_deleted,
    names_are_checked,
    an_org_has_at_most_ten_domains,
    domains_need_their_permissions,
    admin_keys_and_verified_addresses_verify_at_once,
    delete_pending_withdraws_what_the_domain_enrolled,
);

async fn domains_are_added_listed_changed_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let me = Auth::Bearer(&alice.token);
    let created = app
        .post(
            &format!("/orgs/{org}/domains"),
            me.clone(),
            json!({"name": " Acme.COM. "}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let domain = &created.body;
    check_new_domain(domain, org);
    let id = domain["id"].as_str().unwrap();

    let list = app.get(&format!("/orgs/{org}/domains"), me.clone()).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["data"][0]["id"], id);
    assert_eq!(list.body["next_page_token"], Value::Null);
    // By slug too, like every org route.
    let one = app
        .get(&format!("/orgs/acme/domains/{id}"), me.clone())
        .await;
    assert_eq!(one.body["name"], "acme.com", "{}", one.body);

    change_and_delete(&app, &alice.token, org, id).await;
    events_tell_the_story(&app, &alice.token, org, id).await;
}

fn check_new_domain(domain: &Value, org: &str) {
    assert_eq!(domain["name"], "acme.com");
    assert_eq!(domain["org_id"], org);
    assert_eq!(domain["enrollment_mode"], "manual_invitation");
    assert_eq!(domain["verified"], false);
    assert_eq!(domain["verification"]["status"], "unverified");
    assert_eq!(domain["verification"]["strategy"], Value::Null);
    assert_eq!(domain["total_pending_invitations"], 0);
}

async fn change_and_delete(app: &TestApp, token: &str, org: &str, id: &str) {
    let me = Auth::Bearer(token);
    let changed = app
        .patch(
            &format!("/orgs/{org}/domains/{id}"),
            me.clone(),
            json!({"enrollment_mode": "automatic_suggestion"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["enrollment_mode"], "automatic_suggestion");
    // The same mode again changes nothing and records no event (see the events below).
    let same = app
        .patch(
            &format!("/orgs/{org}/domains/{id}"),
            me.clone(),
            json!({"enrollment_mode": "automatic_suggestion", "delete_pending": true}),
        )
        .await;
    assert_eq!(same.body["updated_at"], changed.body["updated_at"]);
    app.patch(
        &format!("/orgs/{org}/domains/{id}"),
        me.clone(),
        json!({"enrollment_mode": "enterprise_sso"}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let deleted = app
        .delete(&format!("/orgs/{org}/domains/{id}"), me.clone())
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body, json!({"id": id, "deleted": true}));
    app.get(&format!("/orgs/{org}/domains/{id}"), me.clone())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "domain_not_found");
    app.delete(&format!("/orgs/{org}/domains/{id}"), me)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "domain_not_found");
}

async fn events_tell_the_story(app: &TestApp, token: &str, org: &str, id: &str) {
    let events = app.db.raw().await.events().await;
    let domain_events: Vec<_> = events
        .iter()
        .filter(|e| e.target_type == "organization_domain")
        .collect();
    let kinds: Vec<&str> = domain_events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "organizationDomain.created",
            "organizationDomain.updated",
            "organizationDomain.deleted"
        ]
    );
    let created = &domain_events[0].data.0;
    assert_eq!(created["object"], "organization_domain");
    assert_eq!(created["id"], id);
    assert_eq!(created["organization_id"], org);
    assert_eq!(created["name"], "acme.com");
    assert_eq!(created["enrollment_mode"], "manual_invitation");
    assert_eq!(created["affiliation_verification"]["status"], "unverified");
    assert_eq!(created["verification"], created["affiliation_verification"]);
    assert!(created["created_at"].is_i64());
    assert_eq!(domain_events[0].target_id, id);
    assert_eq!(domain_events[0].actor_type, "identity");
    assert_eq!(
        domain_events[2].data.0,
        json!({"object": "organization_domain", "id": id, "deleted": true})
    );
    // The audit log shows them.
    let log = app
        .get(&format!("/orgs/{org}/audit-log"), Auth::Bearer(token))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    assert_eq!(log.body["data"][0]["type"], "organizationDomain.deleted");
}

async fn names_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let path = format!("/orgs/{}/domains", org["id"].as_str().unwrap());
    let me = || Auth::Bearer(&alice.token);
    for bad in [
        "",
        "localhost",
        "*.acme.com",
        "127.0.0.1",
        "[::1]",
        "acme..com",
        "ac_me.com",
        "a@acme.com",
    ] {
        let reply = app.post(&path, me(), json!({"name": bad})).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(reply.body["errors"][0]["field"], "name", "{bad:?}");
    }
    for provider in ["gmail.com", "Outlook.com", "mail.yahoo.com", "proton.me"] {
        app.post(&path, me(), json!({"name": provider}))
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "domain_blocked");
    }
    let idn = app
        .post(&path, me(), json!({"name": "Bücher.example"}))
        .await;
    assert_eq!(idn.status, StatusCode::CREATED, "{}", idn.body);
    assert_eq!(idn.body["name"], "xn--bcher-kva.example");
    // The same name, in either form, is already there.
    for same in ["xn--bcher-kva.example", "BÜCHER.example."] {
        app.post(&path, me(), json!({"name": same}))
            .await
            .assert_problem(StatusCode::CONFLICT, "domain_exists");
    }
    app.post(&path, me(), json!({"name": "acme.com", "verified": true}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

async fn an_org_has_at_most_ten_domains(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    for i in 0..10 {
        add_domain(
            &app,
            Auth::Bearer(&alice.token),
            org,
            &format!("acme{i}.com"),
        )
        .await;
    }
    app.post(
        &format!("/orgs/{org}/domains"),
        Auth::Bearer(&alice.token),
        json!({"name": "acme10.com"}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "domain_quota_exceeded");
    // Pages of the ten.
    let first = app
        .get(
            &format!("/orgs/{org}/domains?page_size=6"),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 6);
    let token = first.body["next_page_token"].as_str().unwrap();
    let second = app
        .get(
            &format!("/orgs/{org}/domains?page_size=6&page_token={token}"),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(second.body["data"].as_array().unwrap().len(), 4);
    assert_eq!(second.body["next_page_token"], Value::Null);
}

async fn domains_need_their_permissions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob, carol, dave) = (
        app.user("alice"),
        app.user("bob"),
        app.user("carol"),
        app.user("dave"),
    );
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let id = add_domain(&app, Auth::Bearer(&alice.token), org, "acme.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let role = app
        .post(
            "/roles",
            Auth::Bearer(&app.admin_key),
            json!({"key": "org:domain_reader", "name": "Domain reader",
                   "permissions": ["org:sys_domains:read"]}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    app.add_member(&alice, org, &bob, "org:member").await;
    app.add_member(&alice, org, &carol, "org:domain_reader")
        .await;
    let list = format!("/orgs/{org}/domains");
    let one = format!("/orgs/{org}/domains/{id}");

    // A member without org:sys_domains:read: 403; a non-member: the org is not found.
    app.get(&list, Auth::Bearer(&bob.token))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    for path in [&list, &one] {
        app.get(path, Auth::Bearer(&dave.token))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    }
    app.post(
        &list,
        Auth::Bearer(&dave.token),
        json!({"name": "dave.com"}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    readers_only_read(&app, &[&carol.token, &app.read_key], &list, &one).await;
    // Another org's domain is not found through this org.
    let other = app.create_org(&dave, "Dave's").await;
    let other_path = format!("/orgs/{}/domains/{id}", other["id"].as_str().unwrap());
    app.get(&other_path, Auth::Bearer(&dave.token))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "domain_not_found");
    app.get(
        &format!("/orgs/{org}/domains/not-a-uuid"),
        Auth::Bearer(&alice.token),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "domain_not_found");
}

/// Readers read, and only managers write.
async fn readers_only_read(app: &TestApp, readers: &[&str], list: &str, one: &str) {
    for reader in readers.iter().copied() {
        assert_eq!(
            app.get(one, Auth::Bearer(reader)).await.status,
            StatusCode::OK
        );
        app.post(list, Auth::Bearer(reader), json!({"name": "other.com"}))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        app.patch(
            one,
            Auth::Bearer(reader),
            json!({"enrollment_mode": "automatic_invitation"}),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        app.delete(one, Auth::Bearer(reader))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
}

async fn admin_keys_and_verified_addresses_verify_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = user_at(&app, "ada@acme.com");
    let org = app.create_org(&ada, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let by_address = add_domain(&app, Auth::Bearer(&ada.token), org, "ACME.com").await;
    assert_eq!(by_address["verified"], true);
    assert_eq!(by_address["verification"]["status"], "verified");
    assert_eq!(by_address["verification"]["strategy"], "verified_address");
    assert!(by_address["verification"]["verified_at"].is_string());
    // Ada's address is not at a subdomain or another domain: those wait for a code.
    let sub = add_domain(&app, Auth::Bearer(&ada.token), org, "eu.acme.com").await;
    assert_eq!(sub["verified"], false);
    let by_key = add_domain(&app, Auth::Bearer(&app.admin_key), org, "acme.org").await;
    assert_eq!(by_key["verification"]["strategy"], "admin");
    assert_eq!(by_key["verified"], true);

    // Another org may add acme.com, learning nothing; verifying it at once is refused
    // without naming the org that holds it.
    let bob = user_at(&app, "bob@acme.com");
    let rival = app.create_org(&bob, "Rival").await;
    let rival = rival["id"].as_str().unwrap();
    let refused = app
        .post(
            &format!("/orgs/{rival}/domains"),
            Auth::Bearer(&bob.token),
            json!({"name": "acme.com"}),
        )
        .await;
    refused.assert_problem(StatusCode::CONFLICT, "domain_taken");
    assert!(!refused.body["detail"].as_str().unwrap().contains("Acme"));
    let carol = app.user("carol");
    let third = app.create_org(&carol, "Third").await;
    let unverified = add_domain(
        &app,
        Auth::Bearer(&carol.token),
        third["id"].as_str().unwrap(),
        "acme.com",
    )
    .await;
    assert_eq!(unverified["verified"], false);
}

async fn delete_pending_withdraws_what_the_domain_enrolled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let domain = add_domain(&app, Auth::Bearer(&app.admin_key), org, "acme.com").await;
    let id: Uuid = domain["id"].as_str().unwrap().parse().unwrap();
    let (invitation, suggestion) = enrolled_by(&app, id).await;
    let path = format!("/orgs/{org}/domains/{id}");
    let read = app.get(&path, Auth::Bearer(&alice.token)).await;
    assert_eq!(read.body["total_pending_invitations"], 1, "{}", read.body);
    assert_eq!(read.body["total_pending_suggestions"], 1);

    // Changing the mode alone keeps them; delete_pending withdraws them.
    let kept = app
        .patch(
            &path,
            Auth::Bearer(&alice.token),
            json!({"enrollment_mode": "manual_invitation"}),
        )
        .await;
    assert_eq!(kept.body["total_pending_invitations"], 1, "{}", kept.body);
    let withdrawn = app
        .patch(
            &path,
            Auth::Bearer(&alice.token),
            json!({"delete_pending": true}),
        )
        .await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.body);
    assert_eq!(withdrawn.body["total_pending_invitations"], 0);
    assert_eq!(withdrawn.body["total_pending_suggestions"], 0);
    withdrawn_for_good(&app, &alice.token, org, (invitation, suggestion)).await;
}

async fn withdrawn_for_good(app: &TestApp, token: &str, org: &str, rows: (Uuid, Uuid)) {
    let (invitation, suggestion) = rows;
    let revoked = app
        .get(
            &format!("/orgs/{org}/invitations/{invitation}"),
            Auth::Bearer(token),
        )
        .await;
    assert_eq!(revoked.body["status"], "revoked", "{}", revoked.body);
    let mut raw = app.db.raw().await;
    let withdrawn_suggestions = raw
        .count(
            "SELECT COUNT(*) FROM org_suggestions WHERE id = $1 AND status = 'withdrawn'",
            Some(suggestion),
        )
        .await;
    assert_eq!(withdrawn_suggestions, 1);
    let kinds: Vec<String> = raw.events().await.into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&"organizationInvitation.revoked".to_owned()));
}

/// A pending invitation and a pending suggestion made by domain `id`, as the enrollment
/// would make them (written directly: enrollment is not part of this branch).
async fn enrolled_by(app: &TestApp, id: Uuid) -> (Uuid, Uuid) {
    let (invitation, suggestion) = (Uuid::now_v7(), Uuid::now_v7());
    let mut raw = app.db.raw().await;
    run_with(
        &mut raw,
        "INSERT INTO invitations (id, org_id, email_address, role, status, domain_id, \
         created_at, updated_at) SELECT $1, d.org_id, 'dana@acme.com', 'org:member', \
         'pending', d.id, d.created_at, d.created_at FROM org_domains d WHERE d.id = $2",
        &[invitation, id],
    )
    .await;
    run_with(
        &mut raw,
        "INSERT INTO org_suggestions (id, identity_id, org_id, domain_id, status, created_at, \
         updated_at) SELECT $1, $3, d.org_id, d.id, 'pending', d.created_at, d.created_at \
         FROM org_domains d WHERE d.id = $2",
        &[suggestion, id, Uuid::now_v7()],
    )
    .await;
    (invitation, suggestion)
}
