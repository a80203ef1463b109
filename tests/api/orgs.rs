//! `/orgs` through the real router.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

async fn create_read_update_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme Corp").await;
    assert_eq!(org["slug"], "acme-corp");
    assert_eq!(org["members_count"], 1);
    assert_eq!(org["created_by"], alice.id.to_string());
    assert!(
        org.get("private_metadata").is_none(),
        "identities never see private metadata"
    );
    let id = org["id"].as_str().unwrap();

    // The creator is its admin.
    let me = app
        .get(
            &format!("/orgs/{id}/members/{}", alice.id),
            Auth::Bearer(&alice.token),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["role"], "org:admin");

    // Readable by id and by slug.
    for key in [id, "acme-corp"] {
        let got = app
            .get(&format!("/orgs/{key}"), Auth::Bearer(&alice.token))
            .await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.body["id"], id);
    }

    update_profile_and_cap(&app, &alice, id).await;

    let deleted = app
        .delete(&format!("/orgs/{id}"), Auth::Bearer(&alice.token))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.get(&format!("/orgs/{id}"), Auth::Bearer(&alice.token))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    let members = app
        .store()
        .find_membership(id.parse().unwrap(), alice.id)
        .await
        .unwrap();
    assert!(members.is_none(), "memberships go with the org");
}

/// Org admins change the profile; only admin keys change the membership cap.
async fn update_profile_and_cap(app: &TestApp, alice: &User, id: &str) {
    let patched = app
        .patch(
            &format!("/orgs/{id}"),
            Auth::Bearer(&alice.token),
            json!({"name": "Acme Inc", "slug": "acme-inc", "image_url": "https://img.example.com/a.png",
                   "public_metadata": {"plan": "team"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["name"], "Acme Inc");
    assert_eq!(patched.body["slug"], "acme-inc");
    assert_eq!(patched.body["public_metadata"], json!({"plan": "team"}));
    // The membership cap is a plan limit: admin keys set it, org admins cannot.
    app.patch(
        &format!("/orgs/{id}"),
        Auth::Bearer(&alice.token),
        json!({"max_allowed_memberships": 0}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let capped = app
        .patch(
            &format!("/orgs/{id}"),
            Auth::Bearer(&app.admin_key),
            json!({"max_allowed_memberships": 10}),
        )
        .await;
    assert_eq!(capped.body["max_allowed_memberships"], 10);
    let cleared = app
        .patch(
            &format!("/orgs/{id}"),
            Auth::Bearer(&alice.token),
            json!({"image_url": null}),
        )
        .await;
    assert_eq!(cleared.body["image_url"], serde_json::Value::Null);
    assert_eq!(cleared.body["name"], "Acme Inc");
}

async fn slugs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let first = app.create_org(&alice, "Same Name").await;
    let second = app.create_org(&alice, "Same Name").await;
    assert_eq!(first["slug"], "same-name");
    let generated = second["slug"].as_str().unwrap();
    assert!(generated.starts_with("same-name-"), "{generated}");

    app.post(
        "/orgs",
        Auth::Bearer(&alice.token),
        json!({"name": "X", "slug": "same-name"}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "slug_taken");
    let other = app.create_org(&alice, "Other").await;
    app.patch(
        &format!("/orgs/{}", other["id"].as_str().unwrap()),
        Auth::Bearer(&alice.token),
        json!({"slug": "same-name"}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "slug_taken");
}

async fn bad_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let auth = Auth::Bearer(&alice.token);

    invalid_fields(&app, &auth).await;
    bodies_that_are_not_json(&app, &auth).await;

    app.get("/orgs?page_size=0", auth.clone())
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.get("/orgs?page_token=garbage!", auth.clone())
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.post("/orgs", auth.clone(), json!({"name": "a\u{0}b"}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.post(
        "/orgs",
        auth.clone(),
        json!({"name": "a", "public_metadata": {"k": "\u{0}"}}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.get("/orgs/a%00b", auth.clone())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    app.get("/orgs/no-such-org", auth)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    // Nothing was written by any of the refused requests.
    let listed = app.get("/orgs", Auth::Bearer(&app.admin_key)).await;
    assert_eq!(listed.body["data"], json!([]));
}

/// Each invalid field is named; nothing is created.
async fn invalid_fields(app: &TestApp, auth: &Auth<'_>) {
    let reply = app
        .post(
            "/orgs",
            Auth::Bearer(&app.admin_key),
            json!({"name": " ", "slug": "Not Valid", "image_url": "ftp://x", "max_allowed_memberships": -1,
                   "public_metadata": [1]}),
        )
        .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "slug",
            "image_url",
            "public_metadata",
            "max_allowed_memberships"
        ]
    );

    app.post(
        "/orgs",
        auth.clone(),
        json!({"name": "a", "slug": "0190b7a2-7c1e-7d2b-9a57-0c2f5f0b8e11"}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let typo = app.post("/orgs", auth.clone(), json!({"nmae": "a"})).await;
    typo.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(typo.body["errors"][0]["field"], "nmae");
    let wrong_type = app.post("/orgs", auth.clone(), json!({"name": 5})).await;
    wrong_type.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(wrong_type.body["errors"][0]["field"], "name");
    let big = json!({"name": "a", "public_metadata": {"blob": "x".repeat(9000)}});
    app.post("/orgs", auth.clone(), big)
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

/// Malformed JSON, another content type and an oversized body get their own problems.
async fn bodies_that_are_not_json(app: &TestApp, auth: &Auth<'_>) {
    let malformed = app
        .request(reqwest::Method::POST, "/orgs", auth.clone())
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let problem: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_json");

    let not_json = app
        .request(reqwest::Method::POST, "/orgs", auth.clone())
        .header("content-type", "text/plain")
        .body("name=a")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // The server answers before reading the body and drops the connection, so this
    // request must not leave it in the client's pool.
    let huge = app
        .request(reqwest::Method::POST, "/orgs", auth.clone())
        .header("connection", "close")
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "a".repeat(2 * 1024 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

async fn visibility(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let bob = app.user("bob");
    let carol = app.user("carol");
    let org = app.create_org(&alice, "Private Co").await;
    let id = org["id"].as_str().unwrap();
    app.add_member(&alice, id, &bob, "org:member").await;

    // A stranger cannot tell the org exists: 404 for reads and writes alike.
    for reply in [
        app.get(&format!("/orgs/{id}"), Auth::Bearer(&carol.token))
            .await,
        app.get("/orgs/private-co", Auth::Bearer(&carol.token))
            .await,
        app.patch(
            &format!("/orgs/{id}"),
            Auth::Bearer(&carol.token),
            json!({"name": "x"}),
        )
        .await,
        app.delete(&format!("/orgs/{id}"), Auth::Bearer(&carol.token))
            .await,
        app.get(&format!("/orgs/{id}/members"), Auth::Bearer(&carol.token))
            .await,
    ] {
        reply.assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    }
    // A member without the permission gets 403.
    let auth = Auth::Bearer(&bob.token);
    assert_eq!(
        app.get(&format!("/orgs/{id}"), auth.clone()).await.status,
        StatusCode::OK
    );
    app.patch(&format!("/orgs/{id}"), auth.clone(), json!({"name": "x"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.delete(&format!("/orgs/{id}"), auth)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Each identity lists only its own orgs.
    let listed = app.get("/orgs", Auth::Bearer(&carol.token)).await;
    assert_eq!(listed.body["data"], json!([]));
    let listed = app.get("/orgs", Auth::Bearer(&bob.token)).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
}

async fn listing_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    for i in 0..7 {
        app.create_org(&alice, &format!("Team {i}")).await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => format!("/orgs?page_size=3&page_token={t}"),
            None => "/orgs?page_size=3".to_owned(),
        };
        let page = app.get(&path, Auth::Bearer(&alice.token)).await;
        assert_eq!(page.status, StatusCode::OK);
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        seen.extend(data.iter().map(|o| o["slug"].as_str().unwrap().to_owned()));
        match page.body["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("team-{i}")).collect();
    assert_eq!(seen, expected, "every org once, in creation order");

    let found = app
        .get("/orgs?query=TEAM%205", Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(found.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(found.body["data"][0]["slug"], "team-5");
}

async fn admin_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let admin = Auth::Bearer(&app.admin_key);
    let read = Auth::Bearer(&app.read_key);

    let created = app
        .post(
            "/orgs",
            admin.clone(),
            json!({"name": "Keyed", "private_metadata": {"crm": "A-1"}, "created_by": alice.id}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["private_metadata"], json!({"crm": "A-1"}));
    assert_eq!(created.body["members_count"], 1);
    let id = created.str("id");
    let as_alice = app
        .get(&format!("/orgs/{id}"), Auth::Bearer(&alice.token))
        .await;
    assert!(as_alice.body.get("private_metadata").is_none());

    // Read keys see everything but change nothing, and never see private metadata.
    let seen = app.get(&format!("/orgs/{id}"), read.clone()).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(seen.body.get("private_metadata").is_none());
    app.patch(&format!("/orgs/{id}"), read.clone(), json!({"name": "x"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.post("/orgs", read, json!({"name": "x"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Identities may not set private metadata or act for others.
    app.post(
        "/orgs",
        Auth::Bearer(&alice.token),
        json!({"name": "x", "private_metadata": {}}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.patch(
        &format!("/orgs/{id}"),
        Auth::Bearer(&alice.token),
        json!({"private_metadata": {}}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // created_by must name a Kratos identity.
    app.post(
        "/orgs",
        admin,
        json!({"name": "Ghost", "created_by": uuid::Uuid::new_v4()}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "identity_not_found");
}

on_both_backends!(
    create_read_update_delete,
    slugs,
    bad_input,
    visibility,
    listing_pages,
    admin_keys,
);
