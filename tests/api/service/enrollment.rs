//! The document's promises for verified domains, suggestions and membership requests.

use serde_json::json;

use super::Probe;
use crate::harness::{Auth, User};

/// A verified (admin key) suggesting domain (the domain routes themselves are probed in
/// `domains.rs`): two identities at it are suggested the org, ask to join, and are
/// accepted and rejected.
pub async fn domains_and_requests(probe: &mut Probe<'_>, org: &str, alice: &User) {
    let a = Auth::Bearer(&alice.token);
    let admin_key = probe.app.admin_key.clone();
    let admin = Auth::Bearer(&admin_key);
    let create = format!("POST /orgs/{org}/domains");
    let suggesting = json!({"name": "probe-corp.com", "enrollment_mode": "automatic_suggestion"});
    let verified = probe.expect_json(201, &admin, &create, suggesting).await;
    requests(probe, org, alice).await;
    let verified = verified["id"].as_str().expect("id");
    probe
        .expect(200, &a, &format!("DELETE /orgs/{org}/domains/{verified}"))
        .await;
}

/// An identity at probe-corp.com with a session.
fn requester(probe: &Probe<'_>, name: &str) -> String {
    let kratos = &probe.app.kratos;
    let id = kratos.add_identity(json!({"email": format!("{name}@probe-corp.com")}));
    kratos.create_session(id).token
}

/// Accepts the requester's one suggestion; returns its request's id.
async fn ask(probe: &mut Probe<'_>, token: &str) -> String {
    let auth = Auth::Bearer(token);
    let suggestions = probe.expect(200, &auth, "GET /me/suggestions").await;
    let id = suggestions["data"][0]["id"].as_str().expect("suggestion");
    let accept = format!("POST /me/suggestions/{id}/accept");
    probe.expect(200, &auth, &accept).await;
    let mine = probe
        .expect(200, &auth, "GET /me/membership-requests")
        .await;
    mine["data"][0]["id"].as_str().expect("request").to_owned()
}

async fn requests(probe: &mut Probe<'_>, org: &str, alice: &User) {
    let a = Auth::Bearer(&alice.token);
    let (quinn, rory) = (requester(probe, "quinn"), requester(probe, "rory"));
    let unknown = format!("POST /me/suggestions/{}/accept", uuid::Uuid::now_v7());
    probe.expect(404, &Auth::Bearer(&quinn), &unknown).await;
    let (first, second) = (ask(probe, &quinn).await, ask(probe, &rory).await);
    let base = format!("/orgs/{org}/membership-requests");
    probe
        .expect(200, &a, &format!("GET {base}?status=pending&page_size=1"))
        .await;
    probe
        .expect(200, &a, &format!("POST {base}/{first}/accept"))
        .await;
    probe
        .expect(409, &a, &format!("POST {base}/{first}/accept"))
        .await;
    probe
        .expect(200, &a, &format!("POST {base}/{second}/reject"))
        .await;
    probe
        .expect(409, &a, &format!("POST {base}/{second}/reject"))
        .await;
    let missing = uuid::Uuid::now_v7();
    probe
        .expect(404, &a, &format!("POST {base}/{missing}/reject"))
        .await;
    probe
        .expect(404, &a, &format!("POST {base}/{missing}/accept"))
        .await;
}
