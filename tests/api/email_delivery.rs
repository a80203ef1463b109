//! E-mail delivery over time: resending (a new link, the old one dead, at most once a
//! minute), SMTP outages (queued, retried, delivered once), withdrawn e-mails, template
//! overrides, and secrets kept out of the logs.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::email::{fresh_email, invite, spawn_mailing, JOIN};
use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;
use crate::support::smtp_sink::SmtpSink;

async fn resend(app: &TestApp, admin: &User, org: &str, id: &str) -> crate::harness::Reply {
    app.post(
        &format!("/orgs/{org}/invitations/{id}/resend"),
        Auth::Bearer(&admin.token),
        json!({}),
    )
    .await
}

async fn accept(app: &TestApp, invitee: &User, token: &str) -> StatusCode {
    app.post(
        "/invitations/accept",
        Auth::Bearer(&invitee.token),
        json!({ "token": token }),
    )
    .await
    .status
}

async fn status_count(app: &TestApp, status: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM email_outbox WHERE status = '{status}'");
    app.db.raw().await.count(&sql, None).await
}

/// Waits until `check` holds (at most 15 s).
async fn eventually(app: &TestApp, sql: &str, expected: i64) {
    for _ in 0..300 {
        if app.db.raw().await.count(sql, None).await == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{sql} never counted {expected}");
}

async fn resending_replaces_the_link(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_mailing(backend, &sink, |_| {}).await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let dana = app.user("Dana");
    let body = json!({"email_address": dana.email, "redirect_url": JOIN, "locale": "de"});
    let created = invite(&app, &alice, org, body).await;
    let id = created["id"].as_str().unwrap();
    let first = sink.wait_for(1).await[0].token().unwrap();
    // Too soon: refused with the wait.
    let soon = resend(&app, &alice, org, id).await;
    soon.assert_problem(StatusCode::TOO_MANY_REQUESTS, "resend_too_soon");
    assert!(soon.headers.get("retry-after").is_some());
    app.clock.advance(Duration::seconds(61));
    let again = resend(&app, &alice, org, id).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["email_sent"], true);
    let mails = sink.wait_for(2).await;
    let second = mails[1].token().unwrap();
    assert_eq!(again.body["token"], second.as_str());
    assert_ne!(first, second);
    assert!(
        mails[1].subject.contains("lädt Sie ein"),
        "the invitation's locale is kept"
    );
    assert_eq!(accept(&app, &dana, &first).await, StatusCode::NOT_FOUND);
    assert_eq!(accept(&app, &dana, &second).await, StatusCode::CREATED);
    only_pending_invitations_by_managers(&app, &alice, &dana, org, id).await;
}

async fn only_pending_invitations_by_managers(
    app: &TestApp,
    alice: &User,
    dana: &User,
    org: &str,
    id: &str,
) {
    app.clock.advance(Duration::seconds(61));
    resend(app, alice, org, id)
        .await
        .assert_problem(StatusCode::CONFLICT, "invitation_not_pending");
    // A member without the permission may not resend; a stranger learns nothing.
    resend(app, dana, org, id)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let eve = app.user("Eve");
    resend(app, &eve, org, id)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
}

async fn an_smtp_outage_delays_but_loses_nothing(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    let app = spawn_mailing(backend, &sink, |_| {}).await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    sink.stop().await;
    let dana = fresh_email("dana");
    let created = invite(
        &app,
        &alice,
        org,
        json!({"email_address": dana, "redirect_url": JOIN}),
    )
    .await;
    assert_eq!(created["email_sent"], true);
    // Tried, failed, and waiting for its retry (30 s later on the app's clock).
    eventually(
        &app,
        "SELECT COUNT(*) FROM email_outbox WHERE status = 'queued' AND attempts = 1 \
         AND last_error IS NOT NULL",
        1,
    )
    .await;
    sink.restart().await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(sink.messages().is_empty(), "not before its retry time");
    app.clock.advance(Duration::seconds(31));
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].token().as_deref(), created["token"].as_str());
    eventually(
        &app,
        "SELECT COUNT(*) FROM email_outbox WHERE status = 'sent'",
        1,
    )
    .await;
    app.clock.advance(Duration::hours(2));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "sent exactly once");
}

async fn revoked_invitations_are_not_mailed(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    let app = spawn_mailing(backend, &sink, |_| {}).await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let org = org["id"].as_str().unwrap();
    sink.stop().await;
    let created = invite(
        &app,
        &alice,
        org,
        json!({"email_address": fresh_email("d"), "redirect_url": JOIN}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let token = created["token"].as_str().unwrap();
    let revoked = app
        .post(
            &format!("/orgs/{org}/invitations/{id}/revoke"),
            Auth::Bearer(&alice.token),
            json!({}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    sink.restart().await;
    app.clock.advance(Duration::minutes(5));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(sink.messages().is_empty());
    assert_eq!(status_count(&app, "cancelled").await, 1);
    let secret =
        format!("SELECT COUNT(*) FROM email_outbox WHERE CAST(message AS TEXT) LIKE '%{token}%'");
    assert_eq!(app.db.raw().await.count(&secret, None).await, 0);
}

async fn templates_are_overridden_from_a_directory(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let subject = dir.path().join("invitation/en/subject.txt");
    std::fs::create_dir_all(subject.parent().unwrap()).unwrap();
    std::fs::write(&subject, "Welcome aboard {{ org_name }}, {{ recipient }}!").unwrap();
    let sink = SmtpSink::start().await;
    let path = dir.path().to_owned();
    let app = spawn_mailing(backend, &sink, move |settings| {
        settings.email.email_templates_dir = Some(path);
    })
    .await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let dana = fresh_email("dana");
    invite(
        &app,
        &alice,
        org["id"].as_str().unwrap(),
        json!({"email_address": dana, "redirect_url": JOIN}),
    )
    .await;
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail.subject, format!("Welcome aboard Acme, {dana}!"));
    assert!(
        mail.text.contains("invitation_token="),
        "the built-in body stays"
    );
    // A broken override stops the start, not a send.
    std::fs::write(&subject, "{{ org_name ").unwrap();
    let mut settings = polis::config::Settings::from_env();
    settings.email.email_templates_dir = Some(dir.path().to_owned());
    let err = polis::state::AppState::new(app.state.store.clone(), settings).err();
    assert!(format!("{err:?}").contains("subject.txt"), "{err:?}");
}

on_both_backends!(
    resending_replaces_the_link,
    an_smtp_outage_delays_but_loses_nothing,
    revoked_invitations_are_not_mailed,
    templates_are_overridden_from_a_directory,
);

/// Tokens, links and codes never reach the logs, on success, retry and failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_secrets_never_reach_the_logs() {
    let logs = crate::logging::captured();
    let mut sink = SmtpSink::start().await;
    let app = spawn_mailing(Backend::Sqlite, &sink, |_| {}).await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Logged mail").await;
    let org = org["id"].as_str().unwrap();
    let sent = invite(
        &app,
        &alice,
        org,
        json!({"email_address": fresh_email("a"), "redirect_url": JOIN}),
    )
    .await;
    sink.wait_for(1).await;
    sink.stop().await;
    let retried = invite(
        &app,
        &alice,
        org,
        json!({"email_address": fresh_email("b"), "redirect_url": JOIN}),
    )
    .await;
    eventually(
        &app,
        "SELECT COUNT(*) FROM email_outbox WHERE attempts = 1 AND status = 'queued'",
        1,
    )
    .await;
    // Past the retry window: given up on.
    app.clock.advance(Duration::hours(25));
    eventually(
        &app,
        "SELECT COUNT(*) FROM email_outbox WHERE status = 'failed'",
        1,
    )
    .await;
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.contains("e-mail sent") && text.contains("e-mail failed"),
        "the sends are logged"
    );
    for created in [&sent, &retried] {
        let token = created["token"].as_str().unwrap();
        assert!(!text.contains(token), "a token reached the logs");
    }
}

/// Three invitations queued for e-mail, with the app's own sender asleep.
async fn three_queued(backend: Backend, sink: &SmtpSink) -> TestApp {
    // The app's own sender looks once at start, then not for a minute.
    let app = spawn_mailing(backend, sink, |s| s.email.email_poll_interval_ms = 60_000).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let alice = app.user("Alice");
    let org = app.create_org(&alice, "Acme").await;
    let bulk: Vec<_> = (0..3)
        .map(|i| json!({"email_address": fresh_email(&format!("q{i}")), "redirect_url": JOIN}))
        .collect();
    let path = format!("/orgs/{}/invitations/bulk", org["id"].as_str().unwrap());
    let reply = app
        .post(&path, Auth::Bearer(&alice.token), json!(bulk))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    app
}

/// The queue as workers see it: a row leased to one worker at a time (also when two
/// claim at once), back when its lease runs out, settled only by its holder, and
/// purged once settled.
async fn the_queue_leases_each_row_to_one_worker(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = three_queued(backend, &sink).await;
    let store = app.store();
    let now = polis::clock::Clock::now(app.clock.as_ref());
    let lease = now + Duration::seconds(60);
    let (w1, w2, w3) = (
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
    );
    let (a, b) = tokio::join!(
        store.claim_emails(w1, now, lease, 2),
        store.claim_emails(w2, now, lease, 2)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 3, "every row claimed once");
    assert!(a.iter().all(|x| b.iter().all(|y| x.id != y.id)));
    assert!(store
        .claim_emails(w3, now, lease, 10)
        .await
        .unwrap()
        .is_empty());
    let sent = polis::store::EmailOutcome::Sent;
    assert!(!store
        .record_email_outcome(w3, &a[0], sent.clone(), now)
        .await
        .unwrap());
    // The leases run out: another worker takes the rows over and settles them.
    let later = lease + Duration::seconds(1);
    let again = store
        .claim_emails(w3, later, later + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 3);
    assert!(!store
        .record_email_outcome(w1, &a[0], sent.clone(), later)
        .await
        .unwrap());
    settle_and_purge(store, w3, &again, later).await;
    assert!(
        sink.messages().is_empty(),
        "the test's workers sent nothing"
    );
}

async fn settle_and_purge(
    store: &dyn polis::store::Store,
    worker: uuid::Uuid,
    claimed: &[polis::store::ClaimedEmail],
    now: chrono::DateTime<chrono::Utc>,
) {
    let sent = polis::store::EmailOutcome::Sent;
    for email in claimed {
        assert!(store
            .record_email_outcome(worker, email, sent.clone(), now)
            .await
            .unwrap());
        assert!(!store
            .record_email_outcome(worker, email, sent.clone(), now)
            .await
            .unwrap());
    }
    let counts = store.email_queue_counts().await.unwrap();
    assert_eq!((counts.queued, counts.sent), (0, 3));
    assert_eq!(
        store.purge_emails(now).await.unwrap(),
        0,
        "kept until older"
    );
    assert_eq!(
        store.purge_emails(now + Duration::days(31)).await.unwrap(),
        3
    );
}

on_both_backends!(the_queue_leases_each_row_to_one_worker);

/// `smtp://` without `?disable_starttls=true` requires STARTTLS: a server that does not
/// offer it gets nothing in plain text (the e-mail waits for a retry). The sink offers
/// no STARTTLS, so only the plain URL delivers.
#[tokio::test]
async fn starttls_is_required_unless_disabled() {
    let sink = SmtpSink::start().await;
    let rendered = polis::email::Rendered {
        subject: "Hi".into(),
        text: "secret link".into(),
        html: "<p>secret link</p>".into(),
    };
    let timeout = std::time::Duration::from_secs(5);
    let strict = sink.url().replace("?disable_starttls=true", "");
    let strict = polis::config::parse_smtp_url(&strict).unwrap();
    let smtp = polis::email::Smtp::new(&strict, crate::email::FROM, timeout).unwrap();
    let id = uuid::Uuid::now_v7();
    let refused = smtp.send(id, "bob@example.org", &rendered).await;
    assert!(
        matches!(refused, Err(polis::email::SendError::Transient(_))),
        "{refused:?}"
    );
    assert!(sink.messages().is_empty());
    let plain = polis::config::parse_smtp_url(&sink.url()).unwrap();
    let smtp = polis::email::Smtp::new(&plain, crate::email::FROM, timeout).unwrap();
    smtp.send(id, "bob@example.org", &rendered).await.unwrap();
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(
        (mail.subject.as_str(), mail.rcpt_to.clone()),
        ("Hi", vec!["bob@example.org".to_owned()])
    );
    assert_eq!(
        mail.message_id.as_deref(),
        Some(format!("{id}@polis.test").as_str())
    );
    for other in [
        "smtps://u:p@mail.example.com",
        "smtps://mail.example.com:2465/?skip_ssl_verify=true",
    ] {
        let url = polis::config::parse_smtp_url(other).unwrap();
        assert!(
            polis::email::Smtp::new(&url, crate::email::FROM, timeout).is_ok(),
            "{other}"
        );
    }
    // An address SMTP cannot carry is a permanent failure, not retried.
    let bad = smtp.send(id, "not an address", &rendered).await;
    assert!(
        matches!(bad, Err(polis::email::SendError::Permanent(_))),
        "{bad:?}"
    );
}
