//! Who may grant what (issue 9, items 1–3): the grant rule, the caller's right checked
//! again inside the write's transaction, and who may add members without consent.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{Auth, Backend, RawConn, TestApp, User};
use crate::on_both_backends;

/// A custom role that may read and manage members, and nothing else.
async fn member_manager_role(app: &TestApp) -> &'static str {
    let created = app
        .post(
            "/roles",
            Auth::Bearer(&app.admin_key),
            json!({
                "key": "org:member_manager",
                "name": "Member manager",
                "permissions": ["org:sys_memberships:read", "org:sys_memberships:manage"]
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    "org:member_manager"
}

/// The review's finding: a member-manager made itself `org:admin`, then demoted the
/// creator. Now it may hand out only what it holds, and act only on members who hold
/// no more than it does; the creator (`org:admin`) is unaffected.
async fn managers_grant_only_what_they_hold(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let role = member_manager_role(&app).await;
    let (alice, mallory, bob) = (app.user("alice"), app.user("mallory"), app.user("bob"));
    let org = app.create_org(&alice, "Acme").await;
    let id = org["id"].as_str().unwrap();
    app.add_member(&alice, id, &mallory, role).await;
    let as_mallory = || Auth::Bearer(&mallory.token);
    let refused = [
        (
            Method::PATCH,
            format!("/orgs/{id}/members/{}", mallory.id),
            json!({"role": "org:admin"}),
        ),
        (
            Method::PATCH,
            format!("/orgs/{id}/members/{}", alice.id),
            json!({"role": "org:member"}),
        ),
        (
            Method::DELETE,
            format!("/orgs/{id}/members/{}", alice.id),
            Value::Null,
        ),
        (
            Method::PATCH,
            format!("/orgs/{id}/members/{}/metadata", alice.id),
            json!({"public_metadata": {"x": 1}}),
        ),
        (
            Method::POST,
            format!("/orgs/{id}/members"),
            json!({"identity_id": bob.id, "role": "org:admin"}),
        ),
        (
            Method::POST,
            format!("/orgs/{id}/invitations"),
            json!({"email_address": "eve@example.com", "role": "org:admin"}),
        ),
    ];
    for (method, path, body) in refused {
        let body = (!body.is_null()).then_some(body);
        app.call(method.clone(), &path, as_mallory(), body)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "role_not_grantable");
    }
    let roles = app
        .get(&format!("/orgs/{id}/members/{}", alice.id), as_mallory())
        .await;
    assert_eq!(roles.body["role"], "org:admin", "{}", roles.body);

    // What it holds, it may hand out and manage.
    let added = app
        .post(
            &format!("/orgs/{id}/members"),
            as_mallory(),
            json!({"identity_id": bob.id, "role": role}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let demoted = app
        .patch(
            &format!("/orgs/{id}/members/{}", bob.id),
            as_mallory(),
            json!({"role": "org:member"}),
        )
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.body);
    // The creator still grants anything, custom roles included.
    let promoted = app
        .patch(
            &format!("/orgs/{id}/members/{}", mallory.id),
            Auth::Bearer(&alice.token),
            json!({"role": "org:admin"}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
}

/// By default only API keys add members by identity id: an identity that knows
/// someone's id cannot enrol them without consent, and is pointed to invitations.
async fn direct_adds_need_an_api_key_by_default(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.direct_add = polis::domain::DirectAdd::ApiKeys;
    })
    .await;
    let (alice, victim) = (app.user("alice"), app.user("victim"));
    let org = app.create_org(&alice, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let add = json!({"identity_id": victim.id});
    app.post(
        &format!("/orgs/{id}/members"),
        Auth::Bearer(&alice.token),
        add.clone(),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "direct_add_disabled");
    let mine = app
        .get("/me/memberships", Auth::Bearer(&victim.token))
        .await;
    assert_eq!(mine.body["data"], json!([]), "{}", mine.body);
    let invited = app
        .post(
            &format!("/orgs/{id}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": victim.email}),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let by_key = app
        .post(
            &format!("/orgs/{id}/members"),
            Auth::Bearer(&app.admin_key),
            add,
        )
        .await;
    assert_eq!(by_key.status, StatusCode::CREATED, "{}", by_key.body);
}

/// Takes, as another replica's transaction would, the locks a write by `caller` in
/// `org` waits for: the org row (writes to the org itself, and to its managers) and
/// the caller's own membership row (every write share-locks it).
async fn hold_write_lock(raw: &mut RawConn, org: Uuid, caller: Uuid) {
    match raw {
        RawConn::Sqlite(_) => raw.run(&[("BEGIN IMMEDIATE", None)]).await,
        RawConn::Postgres(_) => {
            raw.run(&[
                ("BEGIN", None),
                ("SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE", Some(org)),
                (
                    "SELECT 1 FROM org_membership WHERE identity_id = $1 FOR UPDATE",
                    Some(caller),
                ),
            ])
            .await;
        }
    }
}

/// A manager's write is on its way (past the early check, waiting for the lock) when
/// its membership is deleted and committed elsewhere: once the lock is held, the write
/// sees the caller is no member and refuses (404), for every kind of write.
async fn a_caller_removed_meanwhile_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let org_id: Uuid = id.parse().unwrap();
    let carol = app.user("carol");
    app.add_member(&alice, id, &carol, "org:member").await;
    let invited = app
        .post(
            &format!("/orgs/{id}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": "dana@example.com"}),
        )
        .await;
    let invitation = invited.str("id");
    let writes = [
        (
            Method::DELETE,
            format!("/orgs/{id}/members/{}", carol.id),
            None,
        ),
        (
            Method::PATCH,
            format!("/orgs/{id}/members/{}", carol.id),
            Some(json!({"role": "org:admin"})),
        ),
        (
            Method::PATCH,
            format!("/orgs/{id}/members/{}/metadata", carol.id),
            Some(json!({"public_metadata": {"x": 1}})),
        ),
        (
            Method::PATCH,
            format!("/orgs/{id}/metadata"),
            Some(json!({"public_metadata": {"x": 1}})),
        ),
        (
            Method::PATCH,
            format!("/orgs/{id}"),
            Some(json!({"name": "Taken"})),
        ),
        (
            Method::POST,
            format!("/orgs/{id}/invitations"),
            Some(json!({"email_address": "erin@example.com"})),
        ),
        (
            Method::POST,
            format!("/orgs/{id}/invitations/{invitation}/revoke"),
            None,
        ),
        (Method::DELETE, format!("/orgs/{id}"), None),
    ];
    for (method, path, body) in writes {
        let mallory = app.user("mallory");
        app.add_member(&alice, id, &mallory, "org:admin").await;
        let reply = write_while_removed(&app, org_id, &mallory, (method, &path, body)).await;
        reply.assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    }
    let after = app
        .get(&format!("/orgs/{id}"), Auth::Bearer(&alice.token))
        .await;
    assert_eq!(after.body["name"], "Acme", "{}", after.body);
    assert_eq!(after.body["public_metadata"], json!({}));
    let members = app
        .get(
            &format!("/orgs/{id}/members/{}", carol.id),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(members.body["role"], "org:member", "{}", members.body);
}

/// Sends `request` as `caller` while the test holds the org's write lock, deletes the
/// caller's membership under that lock, commits, and returns the write's answer.
async fn write_while_removed(
    app: &TestApp,
    org: Uuid,
    caller: &User,
    (method, path, body): (Method, &str, Option<Value>),
) -> crate::harness::Reply {
    let mut raw = app.db.raw().await;
    hold_write_lock(&mut raw, org, caller.id).await;
    let request = app.call(method, path, Auth::Bearer(&caller.token), body);
    let (reply, ()) = tokio::join!(request, async {
        // Long enough for the request to pass its early check and wait for the lock.
        tokio::time::sleep(Duration::from_millis(400)).await;
        raw.run(&[
            (
                "DELETE FROM org_membership WHERE identity_id = $1",
                Some(caller.id),
            ),
            ("COMMIT", None),
        ])
        .await;
    });
    reply
}

on_both_backends!(
    a_caller_removed_meanwhile_is_refused,
    direct_adds_need_an_api_key_by_default,
    managers_grant_only_what_they_hold,
);
