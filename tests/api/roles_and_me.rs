//! `/roles` and `/me/memberships` through the real router.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

/// Only admin keys create and change roles; permissions are sorted and deduplicated,
/// and each invalid field is named.
async fn create_and_change_editor(app: &TestApp, alice: &User) {
    let admin = Auth::Bearer(&app.admin_key);
    let body = json!({"key": "org:editor", "name": "Editor",
                      "permissions": ["org:posts:write", "org:posts:read", "org:posts:read"]});
    app.post("/roles", Auth::Bearer(&alice.token), body.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.post("/roles", Auth::Bearer(&app.read_key), body.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let created = app.post("/roles", admin.clone(), body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["permissions"],
        json!(["org:posts:read", "org:posts:write"])
    );
    app.post("/roles", admin.clone(), body)
        .await
        .assert_problem(StatusCode::CONFLICT, "role_exists");

    let invalid = app
        .post(
            "/roles",
            admin.clone(),
            json!({"key": "editor", "name": "", "permissions": ["posts", "org:sys_fake:x"]}),
        )
        .await;
    invalid.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<&str> = invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["key", "name", "permissions[0]", "permissions[1]"]);

    let patched = app
        .patch(
            "/roles/org:editor",
            admin.clone(),
            json!({"description": "Writes posts", "permissions": ["org:posts:write"]}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["description"], "Writes posts");
    assert_eq!(patched.body["permissions"], json!(["org:posts:write"]));
    assert_eq!(
        app.get("/roles/org:editor", Auth::Bearer(&alice.token))
            .await
            .body["name"],
        "Editor"
    );
}

async fn role_catalog(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let admin = Auth::Bearer(&app.admin_key);

    let roles = app.get("/roles", Auth::Bearer(&alice.token)).await;
    assert_eq!(roles.status, StatusCode::OK);
    let keys: Vec<&str> = roles.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["org:admin", "org:member"]);

    create_and_change_editor(&app, &alice).await;

    // In use: refused; unused: deleted.
    let org = app.create_org(&alice, "Press").await;
    let bob = app.user("bob");
    app.add_member(&alice, org["id"].as_str().unwrap(), &bob, "org:editor")
        .await;
    let member = app
        .get(
            &format!("/orgs/press/members/{}", bob.id),
            Auth::Bearer(&bob.token),
        )
        .await;
    assert_eq!(member.body["permissions"], json!(["org:posts:write"]));
    app.delete("/roles/org:editor", admin.clone())
        .await
        .assert_problem(StatusCode::CONFLICT, "role_in_use");
    app.delete("/roles/org:member", admin.clone())
        .await
        .assert_problem(StatusCode::CONFLICT, "role_in_use");
    // Taking member management away from org:admin would strand Press.
    app.patch(
        "/roles/org:admin",
        admin.clone(),
        json!({"permissions": ["org:sys_profile:manage"]}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "last_admin");
    app.delete(
        &format!("/orgs/press/members/{}", bob.id),
        Auth::Bearer(&alice.token),
    )
    .await;
    assert_eq!(
        app.delete("/roles/org:editor", admin.clone()).await.status,
        StatusCode::NO_CONTENT
    );
    app.get("/roles/org:editor", admin)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "role_not_found");
}

async fn my_memberships(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let bob = app.user("bob");
    let first = app.create_org(&alice, "First").await;
    let second = app.create_org(&bob, "Second").await;
    app.add_member(&bob, second["id"].as_str().unwrap(), &alice, "org:member")
        .await;

    let mine = app.get("/me/memberships", Auth::Bearer(&alice.token)).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    let data = mine.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["org"]["id"], first["id"]);
    assert_eq!(data[0]["org"]["name"], "First");
    assert_eq!(data[0]["role"], "org:admin");
    assert_eq!(data[1]["org"]["slug"], "second");
    assert_eq!(data[1]["role"], "org:member");
    assert_eq!(data[1]["permissions"], json!(["org:sys_memberships:read"]));

    let page = app
        .get("/me/memberships?page_size=1", Auth::Bearer(&alice.token))
        .await;
    let token = page.body["next_page_token"].as_str().unwrap();
    let next = app
        .get(
            &format!("/me/memberships?page_size=1&page_token={token}"),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(next.body["data"][0]["org"]["slug"], "second");
    assert_eq!(next.body["next_page_token"], serde_json::Value::Null);

    app.get("/me/memberships", Auth::Bearer(&app.admin_key))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

on_both_backends!(role_catalog, my_memberships);
