//! Which links Polis e-mails: only those on an origin the deployment owns (that of
//! `POLIS_INVITATION_URL` or one of `POLIS_CORS_ALLOWED_ORIGINS`), so that no one can
//! make Polis mail a stranger a link to a page of their choosing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::email::{fresh_email, invite, spawn_mailing};
use crate::harness::{Auth, Backend, Reply, TestApp, User};
use crate::on_both_backends;
use crate::support::smtp_sink::SmtpSink;

const FOREIGN: &str = "https://evil.example.net/join";

/// Alice's new org; returns its id.
async fn acme(app: &TestApp, alice: &User) -> String {
    let org = app.create_org(alice, "Acme").await;
    org["id"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, alice: &User, path: &str, body: Value) -> Reply {
    app.post(path, Auth::Bearer(&alice.token), body).await
}

/// A 422 naming `field` with the allowed-origin message.
fn assert_foreign_refused(reply: &Reply, field: &str) {
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let errors = reply.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{}", reply.body);
    assert_eq!(errors[0]["field"], field);
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("allowed origin")
            && message.contains("POLIS_INVITATION_URL")
            && message.contains("POLIS_CORS_ALLOWED_ORIGINS"),
        "{message}"
    );
}

/// With SMTP, a link elsewhere is not e-mailed by default (the app still gets its
/// `url`), is refused when asked for (alone or in a bulk list) and cannot be resent;
/// a link on an allowed origin (the default port written out) is e-mailed.
async fn foreign_links_are_never_mailed(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_mailing(backend, &sink, |_| {}).await;
    let alice = app.user("Alice");
    let org = acme(&app, &alice).await;
    let path = format!("/orgs/{org}/invitations");
    let quiet = invite(
        &app,
        &alice,
        &org,
        json!({"email_address": fresh_email("a"), "redirect_url": FOREIGN}),
    )
    .await;
    assert_eq!(quiet["email_sent"], false);
    assert!(
        quiet["url"].as_str().unwrap().starts_with(FOREIGN),
        "{quiet}"
    );

    let asked =
        json!({"email_address": fresh_email("b"), "redirect_url": FOREIGN, "send_email": true});
    assert_foreign_refused(&post(&app, &alice, &path, asked).await, "redirect_url");
    let bulk = json!([
        {"email_address": fresh_email("c"), "redirect_url": "https://app.example.com/join"},
        {"email_address": fresh_email("d"), "redirect_url": FOREIGN, "send_email": true},
    ]);
    let refused = post(&app, &alice, &format!("{path}/bulk"), bulk).await;
    assert_foreign_refused(&refused, "[1].redirect_url");
    let resend = format!("{path}/{}/resend", quiet["id"].as_str().unwrap());
    assert_foreign_refused(
        &post(&app, &alice, &resend, json!({})).await,
        "redirect_url",
    );

    let dana = fresh_email("dana");
    let body = json!({"email_address": dana, "redirect_url": "https://app.example.com:443/join"});
    let mailed = invite(&app, &alice, &org, body).await;
    assert_eq!(mailed["email_sent"], true);
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].rcpt_to, [dana]);
    assert_eq!(mails[0].link().as_deref(), mailed["url"].as_str());
    nothing_else_queued(&app, &sink).await;
}

/// The queue holds one e-mail, and the sink got no other.
async fn nothing_else_queued(app: &TestApp, sink: &SmtpSink) {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1);
    let mut conn = app.db.raw().await;
    let queued = conn.count("SELECT COUNT(*) FROM email_outbox", None).await;
    assert_eq!(queued, 1);
}

/// The origins come from the settings: with no CORS origins, only
/// `POLIS_INVITATION_URL`'s origin (any path there, but not another scheme or port) is
/// e-mailed, and the harness's usual app origin is not.
async fn the_app_page_origin_is_allowed(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_mailing(backend, &sink, |settings| {
        settings.cors_allowed_origins.clear();
        settings.email.invitation_url =
            Some("https://accounts.example.org/accept".parse().unwrap());
    })
    .await;
    let alice = app.user("Alice");
    let org = acme(&app, &alice).await;
    for (link, sent) in [
        ("https://accounts.example.org/other?step=2", true),
        ("http://accounts.example.org/accept", false),
        ("https://accounts.example.org:8443/accept", false),
        ("https://app.example.com/join", false),
    ] {
        let body = json!({"email_address": fresh_email("x"), "redirect_url": link});
        let created = invite(&app, &alice, &org, body).await;
        assert_eq!(created["email_sent"], sent, "{link}");
    }
    // Without a redirect_url the link is POLIS_INVITATION_URL's: always e-mailed.
    let plain = invite(
        &app,
        &alice,
        &org,
        json!({"email_address": fresh_email("y")}),
    )
    .await;
    assert_eq!(plain["email_sent"], true);
    let path = format!("/orgs/{org}/invitations");
    let asked = json!({"email_address": fresh_email("z"), "redirect_url": "https://app.example.com/join", "send_email": true});
    assert_foreign_refused(&post(&app, &alice, &path, asked).await, "redirect_url");
    assert_eq!(sink.wait_for(2).await.len(), 2);
}

/// An invalid `redirect_url` is named once, whatever `send_email` says.
async fn a_bad_link_is_named_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_mailing(backend, &sink, |_| {}).await;
    let alice = app.user("Alice");
    let org = acme(&app, &alice).await;
    let path = format!("/orgs/{org}/invitations");
    for send in [json!(true), json!(false), Value::Null] {
        let body = json!({"email_address": fresh_email("a"), "redirect_url": "javascript:alert(1)", "send_email": send});
        let reply = post(&app, &alice, &path, body).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(
            reply.body["errors"].as_array().unwrap().len(),
            1,
            "{}",
            reply.body
        );
        assert_eq!(reply.body["errors"][0]["field"], "redirect_url");
    }
}

on_both_backends!(
    foreign_links_are_never_mailed,
    the_app_page_origin_is_allowed,
    a_bad_link_is_named_once,
);
