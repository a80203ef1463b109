//! The webhook routes, called as the document says.

use serde_json::json;

use super::Probe;
use crate::harness::{Auth, User};

pub(super) async fn webhooks(probe: &mut Probe<'_>, alice: &User) {
    let admin_key = probe.app.admin_key.clone();
    let admin = Auth::Bearer(&admin_key);
    let url = json!({ "url": "https://hooks.example.com/polis" });
    let created = probe
        .expect_json(201, &admin, "POST /admin/webhooks", url.clone())
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let a = Auth::Bearer(&alice.token);
    probe
        .expect_json(403, &a, "POST /admin/webhooks", url)
        .await;
    probe
        .expect_json(
            422,
            &admin,
            "POST /admin/webhooks",
            json!({ "url": "http://10.0.0.1/" }),
        )
        .await;
    probe.expect(200, &admin, "GET /admin/webhooks").await;
    let one = format!("/admin/webhooks/{id}");
    probe.expect(200, &admin, &format!("GET {one}")).await;
    probe
        .expect(
            404,
            &admin,
            &format!("GET /admin/webhooks/{}", uuid::Uuid::now_v7()),
        )
        .await;
    probe
        .expect_json(
            200,
            &admin,
            &format!("PATCH {one}"),
            json!({ "description": "probe" }),
        )
        .await;
    probe
        .expect(200, &admin, &format!("POST {one}/rotate-secret"))
        .await;
    let test = probe.expect(202, &admin, &format!("POST {one}/test")).await;
    probe
        .expect(200, &admin, &format!("GET {one}/deliveries"))
        .await;
    let replay = format!("POST {one}/replay");
    probe
        .expect_json(
            202,
            &admin,
            &replay,
            json!({ "event_id": test["event_id"] }),
        )
        .await;
    probe
        .expect_json(
            404,
            &admin,
            &replay,
            json!({ "event_id": uuid::Uuid::now_v7() }),
        )
        .await;
    probe.expect(204, &admin, &format!("DELETE {one}")).await;
}
