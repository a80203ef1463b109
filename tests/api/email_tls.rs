//! `POLIS_SMTP_URL`'s TLS modes against a sink that really speaks TLS: `smtps://` is
//! encrypted from the first byte, `smtp://` upgrades with STARTTLS before anything of the
//! message or the credentials is sent and never falls back to plain text, and a
//! self-signed certificate is refused unless `?skip_ssl_verify=true`.

use chrono::Duration;
use serde_json::{json, Value};

use crate::email::{fresh_email, invite, spawn_mailing, JOIN};
use crate::harness::{Backend, TestApp};
use crate::on_both_backends;
use crate::support::smtp_sink::{Security, SmtpSink};

/// An app sending through `sink` at `url` (instead of the URL that delivers to it).
async fn spawn_at(backend: Backend, sink: &SmtpSink, url: &str) -> TestApp {
    let url = polis::config::parse_smtp_url(url).expect("an SMTP URL");
    spawn_mailing(backend, sink, move |settings| {
        settings.email.smtp_url = Some(url);
    })
    .await
}

/// Alice invites a fresh address to a new org; returns the created invitation.
async fn invite_someone(app: &TestApp) -> Value {
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let body = json!({"email_address": fresh_email("dana"), "redirect_url": JOIN});
    invite(app, &alice, org["id"].as_str().unwrap(), body).await
}

async fn outbox_count(app: &TestApp, condition: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM email_outbox WHERE {condition}");
    app.db.raw().await.count(&sql, None).await
}

/// Waits until the outbox counts `expected` rows matching `condition` (at most 15 s).
async fn outbox_eventually(app: &TestApp, condition: &str, expected: i64) {
    for _ in 0..300 {
        if outbox_count(app, condition).await == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the outbox never counted {expected} rows where {condition}");
}

/// Waits until the one e-mail's attempt number `attempt` is over, whatever its outcome,
/// and says that nothing arrived: a regression fails here, showing what was delivered.
async fn refused(app: &TestApp, sink: &SmtpSink, attempt: u32) {
    outbox_eventually(app, &format!("attempts >= {attempt}"), 1).await;
    let delivered = sink.messages();
    assert!(
        delivered.is_empty(),
        "delivered (over TLS: {:?})",
        delivered.iter().map(|m| m.tls).collect::<Vec<_>>()
    );
}

/// The position of `entry` in the sink's transcript.
fn position(transcript: &[String], entry: &str) -> Option<usize> {
    transcript.iter().position(|e| e == entry)
}

async fn smtps_delivers_over_tls(backend: Backend) {
    let sink = SmtpSink::start_with(Security::Tls).await;
    assert!(sink.url().starts_with("smtps://") && sink.url().contains("skip_ssl_verify=true"));
    let app = spawn_mailing(backend, &sink, |_| {}).await;
    let created = invite_someone(&app).await;
    let mail = &sink.wait_for(1).await[0];
    assert!(mail.tls, "the message came over TLS");
    assert_eq!(mail.token().as_deref(), created["token"].as_str());
    // Not one command in plain text.
    let transcript = sink.transcript();
    assert!(
        position(&transcript, "tls MAIL").is_some(),
        "{transcript:?}"
    );
    assert!(
        transcript.iter().all(|entry| entry.starts_with("tls ")),
        "{transcript:?}"
    );
    outbox_eventually(&app, "status = 'sent'", 1).await;
}

/// STARTTLS happens before MAIL FROM and before the credentials: nothing of the message
/// and no password crosses in plain text, and the client greets again once encrypted.
async fn starttls_upgrades_before_mail_from(backend: Backend) {
    let sink = SmtpSink::start_with(Security::StartTls).await;
    let url = format!("smtp://polis:s3cret@{}/?skip_ssl_verify=true", sink.addr());
    let app = spawn_at(backend, &sink, &url).await;
    let created = invite_someone(&app).await;
    let mail = &sink.wait_for(1).await[0];
    assert!(mail.tls, "the message came over TLS");
    assert_eq!(mail.token().as_deref(), created["token"].as_str());
    let transcript = sink.transcript();
    let at = |entry| position(&transcript, entry).unwrap_or(usize::MAX);
    assert!(
        at("EHLO") < at("STARTTLS")
            && at("STARTTLS") < at("tls EHLO")
            && at("tls EHLO") < at("tls AUTH")
            && at("tls AUTH") < at("tls MAIL")
            && at("tls MAIL") < usize::MAX,
        "{transcript:?}"
    );
    for plain in ["AUTH", "MAIL", "RCPT", "DATA"] {
        assert_eq!(position(&transcript, plain), None, "{transcript:?}");
    }
    outbox_eventually(&app, "status = 'sent'", 1).await;
}

/// `smtp://` without `?disable_starttls=true` requires STARTTLS: a server that does not
/// offer it gets neither the message nor the credentials; the e-mail waits and is tried
/// again, and the logs carry neither the token nor the password.
async fn required_starttls_never_falls_back_to_plain_text(backend: Backend) {
    let logs = crate::logging::captured();
    let sink = SmtpSink::start_with(Security::Plain).await;
    let url = format!("smtp://polis:pl41n-s3cret@{}/", sink.addr());
    let app = spawn_at(backend, &sink, &url).await;
    let created = invite_someone(&app).await;
    refused(&app, &sink, 1).await;
    let why = "status = 'queued' AND last_error LIKE '%STARTTLS%'";
    assert_eq!(outbox_count(&app, why).await, 1, "waiting for a retry");
    // Retried on schedule, with the same outcome.
    app.clock.advance(Duration::seconds(31));
    refused(&app, &sink, 2).await;
    assert_eq!(outbox_count(&app, why).await, 1, "waiting for a retry");
    let transcript = sink.transcript();
    assert!(position(&transcript, "EHLO").is_some(), "Polis did connect");
    for plain in ["AUTH", "MAIL", "RCPT", "DATA"] {
        assert_eq!(position(&transcript, plain), None, "{transcript:?}");
    }
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.contains("e-mail not sent; will retry"),
        "the attempt is logged"
    );
    let token = created["token"].as_str().unwrap();
    assert!(!text.contains(token), "a token reached the logs");
    assert!(
        !text.contains("pl41n-s3cret"),
        "the SMTP password reached the logs"
    );
}

/// Without `?skip_ssl_verify=true` the certificate is checked: the sink's self-signed
/// one (naming 127.0.0.1, so only its issuer is wrong) is refused, over `smtps://` and
/// after STARTTLS alike, and nothing is delivered.
async fn self_signed_certificates_are_refused_by_default(backend: Backend) {
    for (security, scheme) in [(Security::Tls, "smtps"), (Security::StartTls, "smtp")] {
        let sink = SmtpSink::start_with(security).await;
        let app = spawn_at(backend, &sink, &format!("{scheme}://{}/", sink.addr())).await;
        invite_someone(&app).await;
        refused(&app, &sink, 1).await;
        let why = "status = 'queued' AND last_error LIKE '%certificate%UnknownIssuer%'";
        assert_eq!(
            outbox_count(&app, why).await,
            1,
            "{scheme}: waiting for a retry"
        );
        let transcript = sink.transcript();
        assert!(
            transcript
                .iter()
                .any(|entry| entry.starts_with("handshake failed") && entry.contains("UnknownCA")),
            "{scheme}: the client refused the certificate: {transcript:?}"
        );
        assert_eq!(position(&transcript, "tls MAIL"), None, "{transcript:?}");
    }
}

on_both_backends!(
    smtps_delivers_over_tls,
    starttls_upgrades_before_mail_from,
    required_starttls_never_falls_back_to_plain_text,
    self_signed_certificates_are_refused_by_default,
);
