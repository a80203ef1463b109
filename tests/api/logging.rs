//! Secrets never reach the logs: session tokens, cookies and API keys are used but
//! not written, even at trace level and on error paths.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp};

/// Everything `polis` logs in this test binary, at every level.
pub fn captured() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_env_filter("polis=trace,tower_http=trace")
            .with_ansi(false)
            .with_writer(move || SharedWriter(sink.clone()))
            .try_init()
            .expect("the log capture is the only subscriber in this binary");
        buffer
    })
    .clone()
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_logs() {
    let logs = captured();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Logged").await;
    let id = org["id"].as_str().unwrap();
    app.get("/orgs", Auth::Cookie(&alice.cookie)).await;
    app.get("/orgs", Auth::SessionToken(&alice.token)).await;
    app.get(&format!("/orgs/{id}/members"), Auth::Bearer(&app.admin_key))
        .await;
    let forged = format!("{}x", app.admin_key);
    app.get("/orgs", Auth::Bearer(&forged))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let invited = app
        .post(
            &format!("/orgs/{id}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": "someone@example.org"}),
        )
        .await;
    let invitation_token = invited.str("token");
    // Error paths log too: Kratos failing for a new session.
    let bob = app.user("bob");
    app.kratos.fail_with_status(Some(500));
    app.get("/orgs", Auth::Bearer(&bob.token))
        .await
        .assert_problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "identity_provider_unavailable",
        );
    app.kratos.fail_with_status(None);

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.contains("invitations created"),
        "logs were captured: {text}"
    );
    // `polis_<id>_<secret>`: the secret is base64url and may itself hold `_`.
    let (_, secret_part) = app
        .admin_key
        .strip_prefix("polis_")
        .and_then(|rest| rest.split_once('_'))
        .unwrap();
    for secret in [
        alice.token.as_str(),
        alice.cookie.as_str(),
        bob.token.as_str(),
        secret_part,
        invitation_token.as_str(),
    ] {
        assert!(!text.contains(secret), "a secret was logged");
    }
}
