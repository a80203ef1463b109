//! `/orgs/{org}/members` through the real router.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

async fn add_list_change_remove(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let bob = app.user("bob");
    let org = app.create_org(&alice, "Crew").await;
    let id = org["id"].as_str().unwrap();
    let auth = Auth::Bearer(&alice.token);

    let added = app
        .post(
            &format!("/orgs/{id}/members"),
            auth.clone(),
            json!({"identity_id": bob.id}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["role"], "org:member", "the default role");
    assert_eq!(
        added.body["permissions"],
        json!(["org:sys_memberships:read"])
    );
    assert_eq!(added.body["org_id"], id);

    let carol = app.user("carol");
    refused_adds(&app, id, &auth, &bob, &carol).await;

    let listed = app
        .get(&format!("/orgs/{id}/members"), Auth::Bearer(&bob.token))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    let admins = app
        .get(
            "/orgs/crew/members?role=org:admin",
            Auth::Bearer(&bob.token),
        )
        .await;
    let admins = admins.body["data"].as_array().unwrap().clone();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0]["identity_id"], alice.id.to_string());

    change_roles(&app, id, &auth, &bob, &carol).await;

    let removed = app
        .delete(&format!("/orgs/{id}/members/{}", bob.id), auth.clone())
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    app.get(&format!("/orgs/{id}/members/{}", bob.id), auth.clone())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "member_not_found");
    app.get(&format!("/orgs/{id}/members/not-a-uuid"), auth)
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

/// Adding a member twice, an identity Kratos lacks, an unknown role or a malformed id.
async fn refused_adds(app: &TestApp, id: &str, auth: &Auth<'_>, bob: &User, carol: &User) {
    app.post(
        &format!("/orgs/{id}/members"),
        auth.clone(),
        json!({"identity_id": bob.id}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "already_member");
    let ghost = uuid::Uuid::new_v4();
    app.post(
        &format!("/orgs/{id}/members"),
        auth.clone(),
        json!({"identity_id": ghost}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "identity_not_found");
    app.post(
        &format!("/orgs/{id}/members"),
        auth.clone(),
        json!({"identity_id": carol.id, "role": "org:wizard"}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_role");
    app.post(
        &format!("/orgs/{id}/members"),
        auth.clone(),
        json!({"identity_id": "nope"}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

/// A role change, and the ones refused: unknown role, not a member.
async fn change_roles(app: &TestApp, id: &str, auth: &Auth<'_>, bob: &User, carol: &User) {
    let promoted = app
        .patch(
            &format!("/orgs/{id}/members/{}", bob.id),
            auth.clone(),
            json!({"role": "org:admin"}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    assert_eq!(promoted.body["role"], "org:admin");
    app.patch(
        &format!("/orgs/{id}/members/{}", bob.id),
        auth.clone(),
        json!({"role": "org:x"}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_role");
    app.patch(
        &format!("/orgs/{id}/members/{}", carol.id),
        auth.clone(),
        json!({"role": "org:admin"}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "member_not_found");
}

async fn permissions_and_leaving(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let bob = app.user("bob");
    let carol = app.user("carol");
    let org = app.create_org(&alice, "Guild").await;
    let id = org["id"].as_str().unwrap();
    app.add_member(&alice, id, &bob, "org:member").await;
    app.add_member(&alice, id, &carol, "org:member").await;
    let as_bob = Auth::Bearer(&bob.token);

    // Plain members read but do not manage.
    app.post(
        &format!("/orgs/{id}/members"),
        as_bob.clone(),
        json!({"identity_id": alice.id}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.patch(
        &format!("/orgs/{id}/members/{}", carol.id),
        as_bob.clone(),
        json!({"role": "org:admin"}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.delete(&format!("/orgs/{id}/members/{}", carol.id), as_bob.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // Anyone may leave.
    let left = app
        .delete(&format!("/orgs/{id}/members/{}", bob.id), as_bob.clone())
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    // Having left, bob no longer sees the org at all.
    app.get(&format!("/orgs/{id}"), as_bob)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");

    // The last admin may neither leave nor be demoted.
    let as_alice = Auth::Bearer(&alice.token);
    app.delete(
        &format!("/orgs/{id}/members/{}", alice.id),
        as_alice.clone(),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "last_admin");
    let demoted = app
        .patch(
            &format!("/orgs/{id}/members/{}", alice.id),
            as_alice.clone(),
            json!({"role": "org:member"}),
        )
        .await;
    demoted.assert_problem(StatusCode::CONFLICT, "last_admin");
    assert!(demoted.body["detail"]
        .as_str()
        .unwrap()
        .contains("manage members"));
    // Admin keys are held to the same rule.
    app.delete(
        &format!("/orgs/{id}/members/{}", alice.id),
        Auth::Bearer(&app.admin_key),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "last_admin");
}

async fn membership_cap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let id = app.create_capped_org(&alice, "Tiny", 2).await;
    let bob = app.user("bob");
    app.add_member(&alice, &id, &bob, "org:member").await;
    let carol = app.user("carol");
    app.post(
        &format!("/orgs/{id}/members"),
        Auth::Bearer(&alice.token),
        json!({"identity_id": carol.id}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "membership_quota_exceeded");
}

async fn member_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Big").await;
    let id = org["id"].as_str().unwrap();
    let mut expected = vec![alice.id];
    for i in 0..5 {
        let user = app.user(&format!("user{i}"));
        app.add_member(&alice, id, &user, "org:member").await;
        expected.push(user.id);
    }
    expected.sort();
    let mut seen = Vec::new();
    let mut path = format!("/orgs/{id}/members?page_size=2");
    loop {
        let page = app.get(&path, Auth::Bearer(&alice.token)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for m in page.body["data"].as_array().unwrap() {
            seen.push(
                m["identity_id"]
                    .as_str()
                    .unwrap()
                    .parse::<uuid::Uuid>()
                    .unwrap(),
            );
        }
        match page.body["next_page_token"].as_str() {
            Some(t) => path = format!("/orgs/{id}/members?page_size=2&page_token={t}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

async fn kratos_down_when_adding(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let bob = app.user("bob");
    let org = app.create_org(&alice, "Fragile").await;
    let id = org["id"].as_str().unwrap();
    // The session is cached, but the identity lookup must reach Kratos's admin API.
    app.kratos.fail_with_status(Some(500));
    app.post(
        &format!("/orgs/{id}/members"),
        Auth::Bearer(&alice.token),
        json!({"identity_id": bob.id}),
    )
    .await
    .assert_problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "identity_provider_unavailable",
    );
    app.kratos.fail_with_status(None);
    let members = app
        .get(&format!("/orgs/{id}/members"), Auth::Bearer(&alice.token))
        .await;
    assert_eq!(
        members.body["data"].as_array().unwrap().len(),
        1,
        "nothing was added"
    );
}

/// Adding an identity Polis has seen in the last minute does not ask Kratos again; a
/// new one is always checked (no "no such identity" is cached).
async fn known_identities_skip_kratos(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let bob = app.user("bob");
    app.add_member(&alice, id, &bob, "org:member").await;
    app.delete(
        &format!("/orgs/{id}/members/{}", bob.id),
        Auth::Bearer(&alice.token),
    )
    .await;
    app.kratos.reset_counters();
    app.add_member(&alice, id, &bob, "org:member").await;
    assert_eq!(
        app.kratos.admin_calls(),
        0,
        "{:?}",
        app.kratos.admin_requests()
    );
    let stranger = uuid::Uuid::new_v4();
    app.post(
        &format!("/orgs/{id}/members"),
        Auth::Bearer(&alice.token),
        json!({"identity_id": stranger}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "identity_not_found");
    assert_eq!(app.kratos.admin_calls(), 1);
}

on_both_backends!(
    known_identities_skip_kratos,
    add_list_change_remove,
    permissions_and_leaving,
    membership_cap,
    member_pages,
    kratos_down_when_adding,
);
