//! The domain routes, called as the document says.

use serde_json::json;

use super::Probe;
use crate::harness::{Auth, User};

pub(super) async fn domains(probe: &mut Probe<'_>, org: &str, alice: &User) {
    let a = Auth::Bearer(&alice.token);
    let list = format!("/orgs/{org}/domains");
    let created = probe
        .expect_json(
            201,
            &a,
            &format!("POST {list}"),
            json!({"name": "acme.test"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    probe
        .expect_json(
            422,
            &a,
            &format!("POST {list}"),
            json!({"name": "gmail.com"}),
        )
        .await;
    probe
        .expect_json(
            409,
            &a,
            &format!("POST {list}"),
            json!({"name": "acme.test"}),
        )
        .await;
    probe
        .expect(200, &a, &format!("GET {list}?page_size=1"))
        .await;
    let one = format!("{list}/{id}");
    probe.expect(200, &a, &format!("GET {one}")).await;
    probe
        .expect(404, &a, &format!("GET {list}/{}", uuid::Uuid::now_v7()))
        .await;
    probe
        .expect_json(
            200,
            &a,
            &format!("PATCH {one}"),
            json!({"enrollment_mode": "automatic_suggestion", "delete_pending": true}),
        )
        .await;
    // No SMTP here: no code can be sent, so none can be entered.
    probe
        .expect_json(
            409,
            &a,
            &format!("POST {one}/verification"),
            json!({"email": "it@acme.test"}),
        )
        .await;
    probe
        .expect_json(
            409,
            &a,
            &format!("POST {one}/verification/attempt"),
            json!({"code": "123456"}),
        )
        .await;
    probe
        .expect_json(
            422,
            &a,
            &format!("POST {one}/verification/attempt"),
            json!({"code": "12"}),
        )
        .await;
    probe.expect(200, &a, &format!("DELETE {one}")).await;
}
