//! Verified domains through the real router: adding, listing, changing and deleting,
//! the name rules, verification by code, automatic verification, permissions, events,
//! withdrawing what a domain enrolled, and two orgs racing to verify one name.

mod budget;
mod import;
mod lifecycle;
mod race;
mod verification;

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{Auth, Backend, RawConn, TestApp, User};
use crate::support::smtp_sink::{Received, SmtpSink};

/// An app sending e-mail to a local SMTP sink, which the tests read codes from.
pub struct Mailing {
    pub app: TestApp,
    pub sink: SmtpSink,
}

impl std::ops::Deref for Mailing {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

pub async fn app_with_email(backend: Backend) -> Mailing {
    let sink = SmtpSink::start().await;
    let app = crate::email::spawn_mailing(backend, &sink, |_| {}).await;
    Mailing { app, sink }
}

/// The e-mails the sink has received for `to`.
fn received_by(sink: &SmtpSink, to: &str) -> Vec<Received> {
    sink.messages()
        .into_iter()
        .filter(|m| m.rcpt_to.iter().any(|r| r.contains(to)))
        .collect()
}

/// Waits for the `nth` (1-based) e-mail to `to`, and returns it.
async fn nth_email_to(sink: &SmtpSink, to: &str, nth: usize) -> Received {
    for _ in 0..300 {
        if let Some(message) = received_by(sink, to).into_iter().nth(nth - 1) {
            return message;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no e-mail #{nth} to {to}: {:?}", sink.messages());
}

/// The first run of exactly six digits in `text`.
fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}

/// An identity whose verified Kratos address is `email`.
pub fn user_at(app: &TestApp, email: &str) -> User {
    let id = app
        .kratos
        .add_identity(json!({"email": email, "first_name": "Ada"}));
    let session = app.kratos.create_session(id);
    User {
        id,
        token: session.token,
        cookie: session.cookie,
        email: email.to_owned(),
    }
}

/// Adds `name` to `org` as `auth`; returns the domain's JSON.
pub async fn add_domain(app: &TestApp, auth: Auth<'_>, org: &str, name: &str) -> Value {
    let reply = app
        .post(&format!("/orgs/{org}/domains"), auth, json!({"name": name}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

/// The newest queued e-mail to `to`: its message JSON.
pub async fn queued_email(app: &TestApp, to: &str) -> Value {
    let sql = "SELECT message FROM email_outbox WHERE recipient = $1 \
               ORDER BY created_at DESC, id DESC LIMIT 1";
    let message: sqlx::types::Json<Value> = match app.db.raw().await {
        RawConn::Sqlite(mut conn) => sqlx::query_scalar(sql).bind(to).fetch_one(&mut conn).await,
        RawConn::Postgres(mut conn) => sqlx::query_scalar(sql).bind(to).fetch_one(&mut conn).await,
    }
    .expect("a queued e-mail");
    message.0
}

/// Sends a code to `email` for domain `id` of `org` and returns it as the e-mail the
/// SMTP sink received says it.
pub async fn send_code(
    mailing: &Mailing,
    auth: Auth<'_>,
    org: &str,
    id: &str,
    email: &str,
) -> String {
    let before = received_by(&mailing.sink, email).len();
    let reply = mailing
        .post(
            &format!("/orgs/{org}/domains/{id}/verification"),
            auth,
            json!({"email": email}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let message = nth_email_to(&mailing.sink, email, before + 1).await;
    assert!(message.subject.contains("Verify"), "{}", message.subject);
    six_digits(&message.text).expect("a 6-digit code in the e-mail")
}

pub async fn attempt(
    app: &TestApp,
    auth: Auth<'_>,
    org: &str,
    id: &str,
    code: &str,
) -> crate::harness::Reply {
    app.post(
        &format!("/orgs/{org}/domains/{id}/verification/attempt"),
        auth,
        json!({"code": code}),
    )
    .await
}

/// A code that is not `code`.
pub fn other_code(code: &str) -> String {
    let n: u32 = code.parse().expect("digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

/// Runs `sql` binding the UUIDs in order (for rows the API cannot make yet).
pub async fn run_with(raw: &mut RawConn, sql: &str, ids: &[Uuid]) {
    match raw {
        RawConn::Sqlite(conn) => {
            let mut query = sqlx::query(sql);
            for id in ids {
                query = query.bind(*id);
            }
            query.execute(&mut *conn).await.expect(sql);
        }
        RawConn::Postgres(conn) => {
            let mut query = sqlx::query(sql);
            for id in ids {
                query = query.bind(*id);
            }
            query.execute(&mut *conn).await.expect(sql);
        }
    }
}
