//! What schema-based fuzzing of the committed OpenAPI document found (openapi/fuzz/run.sh):
//! one test per finding, each failing on the code before its fix.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_backends;

/// serde's derive reads a struct from an array of its field values (these arrays used to
/// create, rename and invite); the spec documents objects only, so an array body (or array element) is refused with 422, and nothing changes.
async fn array_bodies_are_not_objects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let admin = || Auth::Bearer(&app.admin_key);

    let created = app
        .post(
            "/orgs",
            admin(),
            json!(["Array Org", "array-org", null, null, null, null, null]),
        )
        .await;
    created.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        created.body["errors"][0]["field"], "body",
        "{}",
        created.body
    );
    let listed = app.get("/orgs?query=array", admin()).await;
    assert_eq!(listed.body["data"], json!([]), "{}", listed.body);

    let org = app.create_org(&alice, "Shapes").await;
    let org_id = org["id"].as_str().unwrap();
    let as_alice = || Auth::Bearer(&alice.token);
    let org_metadata = format!("/orgs/{org_id}/metadata");
    let member_metadata = format!("/orgs/{org_id}/members/{}/metadata", alice.id);
    for (path, body) in [
        (&org_metadata, json!([null, null])),
        (&member_metadata, json!([{"plan": "pro"}, null])),
    ] {
        let reply = app.patch(path, as_alice(), body).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    let renamed = app
        .patch(
            &format!("/orgs/{org_id}"),
            as_alice(),
            json!(["Renamed", null, null, null, null, null]),
        )
        .await;
    renamed.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let org = app.get(&format!("/orgs/{org_id}"), as_alice()).await;
    assert_eq!(org.body["name"], "Shapes");
    assert_eq!(org.body["public_metadata"], json!({}));
}

/// In a bulk invitation each element must be an object; the reply names the bad one.
/// Objects still work, and so does the array a bulk invitation is.
async fn bulk_elements_must_be_objects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Shapes").await;
    let org_id = org["id"].as_str().unwrap();
    let as_alice = || Auth::Bearer(&alice.token);
    let org_metadata = format!("/orgs/{org_id}/metadata");
    let bulk = app
        .post(
            &format!("/orgs/{org_id}/invitations/bulk"),
            as_alice(),
            json!([{"email_address": "ok@example.com"}, ["dave@example.com", null, null, null, null, null]]),
        )
        .await;
    bulk.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(bulk.body["errors"][0]["field"], "[1]", "{}", bulk.body);
    let invitations = app
        .get(&format!("/orgs/{org_id}/invitations"), as_alice())
        .await;
    assert_eq!(invitations.body["data"], json!([]), "{}", invitations.body);

    let bulk = app
        .post(
            &format!("/orgs/{org_id}/invitations/bulk"),
            as_alice(),
            json!([{"email_address": "ok@example.com"}]),
        )
        .await;
    assert_eq!(bulk.status, StatusCode::CREATED, "{}", bulk.body);
    let merged = app
        .patch(
            &org_metadata,
            as_alice(),
            json!({"public_metadata": {"plan": "pro"}}),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!(merged.body["public_metadata"], json!({"plan": "pro"}));
}

on_both_backends!(array_bodies_are_not_objects, bulk_elements_must_be_objects);
