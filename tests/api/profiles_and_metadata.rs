//! Member profiles from Kratos, member search, and metadata merges.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

async fn members_carry_their_kratos_profile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let bob = app.user("bob");
    app.add_member(&alice, id, &bob, "org:member").await;

    let members = app
        .get(&format!("/orgs/{id}/members"), Auth::Bearer(&alice.token))
        .await;
    let data = members.body["data"].as_array().unwrap();
    let row = data
        .iter()
        .find(|m| m["identity_id"] == bob.id.to_string())
        .unwrap();
    assert_eq!(row["identity"]["id"], bob.id.to_string());
    assert_eq!(
        row["identity"]["traits"],
        json!({"email": bob.email, "first_name": "bob"})
    );

    // Within the cache TTL, listing again asks Kratos nothing.
    let before = app.kratos.admin_calls();
    app.get(&format!("/orgs/{id}/members"), Auth::Bearer(&alice.token))
        .await;
    assert_eq!(app.kratos.admin_calls(), before);

    let single = app
        .get(
            &format!("/orgs/{id}/members/{}", bob.id),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(single.body["identity"]["traits"]["first_name"], "bob");
}

async fn deleted_identities_read_as_null(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let ghost = app.user("ghost");
    app.store()
        .add_member(
            id.parse().unwrap(),
            ghost.id,
            "org:member",
            crate::harness::as_admin(),
        )
        .await
        .unwrap();
    app.kratos.delete_identity(ghost.id);
    let members = app
        .get(&format!("/orgs/{id}/members"), Auth::Bearer(&alice.token))
        .await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.body);
    let row = members.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["identity_id"] == ghost.id.to_string())
        .cloned()
        .unwrap();
    assert_eq!(row["identity"], serde_json::Value::Null);
}

async fn member_search(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let named = app.kratos.add_identity(
        json!({"email": "zoe.quinn@corp.example", "first_name": "Zoë", "last_name": "Quinn"}),
    );
    let other = app
        .kratos
        .add_identity(json!({"email": "sam@corp.example", "first_name": "Sam"}));
    for identity in [named, other] {
        let reply = app
            .post(
                &format!("/orgs/{id}/members"),
                Auth::Bearer(&alice.token),
                json!({"identity_id": identity}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    for query in ["QUINN", "zoe.quinn@", "Zoë"] {
        let found = app
            .get(
                &format!("/orgs/{id}/members?query={}", urlencode(query)),
                Auth::Bearer(&alice.token),
            )
            .await;
        let ids: Vec<&str> = found.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["identity_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [named.to_string()], "query {query}");
    }
    let none = app
        .get(
            &format!("/orgs/{id}/members?query=%25"),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(none.body["data"], json!([]), "wildcards match literally");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A member's metadata merges like the org's; the member may not write it.
async fn member_metadata_merges(app: &TestApp, id: &str, alice: &User, bob: &User) {
    let member = app
        .patch(
            &format!("/orgs/{id}/members/{}/metadata", bob.id),
            Auth::Bearer(&alice.token),
            json!({"public_metadata": {"department": "ops", "desk": {"floor": 3}}}),
        )
        .await;
    assert_eq!(member.status, StatusCode::OK, "{}", member.body);
    let member = app
        .patch(
            &format!("/orgs/{id}/members/{}/metadata", bob.id),
            Auth::Bearer(&alice.token),
            json!({"public_metadata": {"desk": {"floor": null, "seat": "3A"}}}),
        )
        .await;
    assert_eq!(
        member.body["public_metadata"],
        json!({"department": "ops", "desk": {"seat": "3A"}})
    );
    app.patch(
        &format!("/orgs/{id}/members/{}/metadata", bob.id),
        Auth::Bearer(&bob.token),
        json!({"public_metadata": {"x": 1}}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

async fn metadata_merges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let bob = app.user("bob");
    let created = app
        .post(
            "/orgs",
            Auth::Bearer(&alice.token),
            json!({"name": "Acme", "public_metadata": {"plan": "pro", "limits": {"seats": 5, "projects": 2}}}),
        )
        .await;
    let id = created.str("id");
    app.add_member(&alice, &id, &bob, "org:member").await;
    let merged = app
        .patch(
            &format!("/orgs/{id}/metadata"),
            Auth::Bearer(&alice.token),
            json!({"public_metadata": {"limits": {"seats": 10, "projects": null}, "region": "eu"}}),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!(
        merged.body["public_metadata"],
        json!({"plan": "pro", "limits": {"seats": 10}, "region": "eu"})
    );
    // Private metadata: admin keys only, and only they see it.
    app.patch(
        &format!("/orgs/{id}/metadata"),
        Auth::Bearer(&alice.token),
        json!({"private_metadata": {"a": 1}}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let private = app
        .patch(
            &format!("/orgs/{id}/metadata"),
            Auth::Bearer(&app.admin_key),
            json!({"private_metadata": {"crm": "X"}}),
        )
        .await;
    assert_eq!(private.body["private_metadata"], json!({"crm": "X"}));
    // Members without the permission may not write.
    app.patch(
        &format!("/orgs/{id}/metadata"),
        Auth::Bearer(&bob.token),
        json!({"public_metadata": {}}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // 8 KB per field, after merging.
    let big = "x".repeat(5000);
    app.patch(
        &format!("/orgs/{id}/metadata"),
        Auth::Bearer(&alice.token),
        json!({"public_metadata": {"a": big}}),
    )
    .await;
    app.patch(
        &format!("/orgs/{id}/metadata"),
        Auth::Bearer(&alice.token),
        json!({"public_metadata": {"b": big}}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.patch(
        &format!("/orgs/{id}/metadata"),
        Auth::Bearer(&alice.token),
        json!({"public_metadata": [1]}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    member_metadata_merges(&app, &id, &alice, &bob).await;
}

/// Kratos pages even `ids` lookups; a page of 500 members must still get 500 profiles.
async fn large_pages_get_every_profile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Big").await;
    let org_id: uuid::Uuid = org["id"].as_str().unwrap().parse().unwrap();
    for i in 0..300 {
        let id = app
            .kratos
            .add_identity(json!({"email": format!("m{i}@big.example")}));
        app.store()
            .add_member(org_id, id, "org:member", crate::harness::as_admin())
            .await
            .unwrap();
    }
    let page = app
        .get(
            &format!("/orgs/{org_id}/members?page_size=500"),
            Auth::Bearer(&alice.token),
        )
        .await;
    let data = page.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 301);
    let missing = data.iter().filter(|m| m["identity"].is_null()).count();
    assert_eq!(missing, 0, "every member's profile came back");
}

on_both_backends!(
    large_pages_get_every_profile,
    members_carry_their_kratos_profile,
    deleted_identities_read_as_null,
    member_search,
    metadata_merges,
);
