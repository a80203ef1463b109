//! Invitation e-mails through the real router, the queue and a local SMTP sink: what
//! arrives (recipient, subject, language, the link with its token), when nothing is
//! sent, resends, SMTP outages (nothing lost, nothing sent twice), and the queue
//! forgetting secrets once it is done with them.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;
use crate::support::smtp_sink::{Received, SmtpSink};

pub const FROM: &str = "Polis <no-reply@polis.test>";
pub const JOIN: &str = "https://app.example.com/join";

/// An app sending through `sink`, polling the queue every 20 ms.
pub async fn spawn_mailing(
    backend: Backend,
    sink: &SmtpSink,
    configure: impl FnOnce(&mut polis::config::Settings),
) -> TestApp {
    let url = polis::config::parse_smtp_url(&sink.url()).expect("sink URL");
    TestApp::spawn_with(backend, move |settings| {
        settings.email.smtp_url = Some(url);
        settings.email.email_from = Some(FROM.to_owned());
        settings.email.email_poll_interval_ms = 20;
        configure(settings);
    })
    .await
}

pub fn fresh_email(name: &str) -> String {
    format!(
        "{name}-{}@example.org",
        &Uuid::new_v4().simple().to_string()[..8]
    )
}

pub async fn invite(app: &TestApp, admin: &User, org: &str, body: Value) -> Value {
    let reply = app
        .post(
            &format!("/orgs/{org}/invitations"),
            Auth::Bearer(&admin.token),
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

/// The invitee signs up with `email` and accepts with `token`; returns the status.
async fn accept_as_new_user(app: &TestApp, email: &str, token: &str) -> StatusCode {
    let id = app.kratos.add_identity(json!({ "email": email }));
    let session = app.kratos.create_session(id);
    app.post(
        "/invitations/accept",
        Auth::Bearer(&session.token),
        json!({ "token": token }),
    )
    .await
    .status
}

/// Rows of the queue in `status` whose stored message contains `text`.
async fn queued_with(app: &TestApp, status: &str, text: &str) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) FROM email_outbox WHERE status = '{status}' \
         AND CAST(message AS TEXT) LIKE '%{text}%'"
    );
    app.db.raw().await.count(&sql, None).await
}

async fn queue_count(app: &TestApp, status: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM email_outbox WHERE status = '{status}'");
    app.db.raw().await.count(&sql, None).await
}

/// Waits until the queue has no row left to send.
async fn settled(app: &TestApp) {
    for _ in 0..300 {
        if queue_count(app, "queued").await + queue_count(app, "sending").await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the e-mail queue never settled");
}

fn assert_invitation_mail(mail: &Received, to: &str, created: &Value) {
    assert_eq!(mail.rcpt_to, vec![to.to_owned()]);
    assert_eq!(mail.mail_from, "no-reply@polis.test");
    assert!(
        mail.raw.contains("Polis <no-reply@polis.test>"),
        "{}",
        mail.raw
    );
    assert_eq!(
        mail.link().as_deref(),
        created["url"].as_str(),
        "{}",
        mail.text
    );
    assert_eq!(mail.token().as_deref(), created["token"].as_str());
    assert!(mail.html.contains("invitation_token="), "{}", mail.html);
    assert!(mail
        .message_id
        .as_deref()
        .is_some_and(|id| id.ends_with("@polis.test")));
}

async fn invitation_mail_arrives_and_its_link_works(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_mailing(backend, &sink, |_| {}).await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let dana = fresh_email("dana");
    let created = invite(
        &app,
        &alice,
        org,
        json!({"email_address": dana, "redirect_url": JOIN}),
    )
    .await;
    assert_eq!(created["email_sent"], true);
    assert_eq!(created["locale"], Value::Null);
    let mails = sink.wait_for(1).await;
    assert_invitation_mail(&mails[0], &dana, &created);
    assert_eq!(mails[0].subject, "Alice invited you to join Acme");
    assert!(mails[0].text.contains("as Member"), "{}", mails[0].text);
    let token = mails[0].token().unwrap();
    assert_eq!(
        accept_as_new_user(&app, &dana, &token).await,
        StatusCode::CREATED
    );
    sent_once_without_secret(&app, &sink, &token).await;
}

/// Sent once; the queue keeps no live token.
async fn sent_once_without_secret(app: &TestApp, sink: &SmtpSink, token: &str) {
    settled(app).await;
    assert_eq!(queue_count(app, "sent").await, 1);
    assert_eq!(queued_with(app, "sent", token).await, 0);
    assert_eq!(queued_with(app, "sent", "<redacted>").await, 1);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(sink.messages().len(), 1);
}

async fn bulk_invitations_are_mailed_in_their_languages(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_mailing(backend, &sink, |_| {}).await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let (en, de, fr) = (fresh_email("en"), fresh_email("de"), fresh_email("fr"));
    let reply = app
        .post(
            &format!("/orgs/{org}/invitations/bulk"),
            Auth::Bearer(&alice.token),
            json!([
                {"email_address": en, "redirect_url": JOIN},
                {"email_address": de, "redirect_url": JOIN, "locale": "de"},
                {"email_address": fr, "redirect_url": JOIN, "locale": "FR_ca"},
            ]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let created = reply.body["data"].as_array().unwrap().clone();
    assert!(created.iter().all(|c| c["email_sent"] == true));
    assert_eq!(created[2]["locale"], "fr-CA");
    let mails = sink.wait_for(3).await;
    let to = |address: &str| {
        mails
            .iter()
            .find(|m| m.rcpt_to == [address.to_owned()])
            .unwrap_or_else(|| panic!("no mail to {address}"))
    };
    assert_eq!(to(&en).subject, "Alice invited you to join Acme");
    assert_eq!(to(&de).subject, "Alice lädt Sie ein: Acme beitreten");
    assert!(
        to(&de).text.contains("Einladung annehmen") || to(&de).html.contains("Einladung annehmen")
    );
    assert_eq!(to(&fr).subject, "Alice vous invite à rejoindre Acme");
    for (i, address) in [&en, &de, &fr].into_iter().enumerate() {
        assert_invitation_mail(to(address), address, &created[i]);
    }
    let bad = app
        .post(
            &format!("/orgs/{org}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": fresh_email("x"), "locale": "../en"}),
        )
        .await;
    bad.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(bad.body["errors"][0]["field"], "locale");
}

async fn nothing_is_sent_when_not_asked_or_not_possible(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_mailing(backend, &sink, |_| {}).await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let off = invite(
        &app,
        &alice,
        org,
        json!({"email_address": fresh_email("a"), "redirect_url": JOIN, "send_email": false}),
    )
    .await;
    assert_eq!(off["email_sent"], false);
    assert!(off["url"].as_str().unwrap().starts_with(JOIN));
    // No link to send: not sent by default, refused when asked for.
    let linkless = invite(
        &app,
        &alice,
        org,
        json!({"email_address": fresh_email("b")}),
    )
    .await;
    assert_eq!(
        (&linkless["email_sent"], &linkless["url"]),
        (&json!(false), &Value::Null)
    );
    let asked = app
        .post(
            &format!("/orgs/{org}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": fresh_email("c"), "send_email": true}),
        )
        .await;
    asked.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(asked.body["errors"][0]["field"], "redirect_url");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(sink.messages().is_empty());
    assert_eq!(
        app.db
            .raw()
            .await
            .count("SELECT COUNT(*) FROM email_outbox", None)
            .await,
        0
    );
}

async fn without_smtp_the_api_says_so(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let created = invite(
        &app,
        &alice,
        org,
        json!({"email_address": fresh_email("a"), "redirect_url": JOIN}),
    )
    .await;
    assert_eq!(created["email_sent"], false);
    let asked = app
        .post(
            &format!("/orgs/{org}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": fresh_email("b"), "redirect_url": JOIN, "send_email": true}),
        )
        .await;
    asked.assert_problem(StatusCode::CONFLICT, "email_not_configured");
    let id = created["id"].as_str().unwrap();
    app.post(
        &format!("/orgs/{org}/invitations/{id}/resend"),
        Auth::Bearer(&alice.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "email_not_configured");
}

async fn the_app_page_is_the_default_link(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_mailing(backend, &sink, |settings| {
        settings.email.invitation_url =
            Some("https://app.example.com/accept?from=mail".parse().unwrap());
    })
    .await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let dana = fresh_email("dana");
    let created = invite(
        &app,
        &alice,
        org["id"].as_str().unwrap(),
        json!({"email_address": dana}),
    )
    .await;
    assert_eq!(created["email_sent"], true);
    let url = created["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://app.example.com/accept?from=mail&invitation_token="),
        "{url}"
    );
    assert_eq!(created["redirect_url"], Value::Null);
    assert_invitation_mail(&sink.wait_for(1).await[0], &dana, &created);
}

on_both_backends!(
    invitation_mail_arrives_and_its_link_works,
    bulk_invitations_are_mailed_in_their_languages,
    nothing_is_sent_when_not_asked_or_not_possible,
    without_smtp_the_api_says_so,
    the_app_page_is_the_default_link,
);
