//! Verified domains through the real router: adding, listing, changing and deleting,
//! the name rules, verification by code, automatic verification, permissions, events,
//! withdrawing what a domain enrolled, and two orgs racing to verify one name.

mod import;
mod lifecycle;
mod race;
mod verification;

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{Auth, Backend, RawConn, TestApp, User};

/// An app that can send e-mail (to a closed port: nothing is delivered, and the queued
/// e-mail keeps its code, which the tests read from the queue).
pub async fn app_with_email(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        settings.email.smtp_url = Some(
            polis::config::parse_smtp_url("smtp://127.0.0.1:1/?disable_starttls=true")
                .expect("SMTP URL"),
        );
        settings.email.email_from = Some("Polis <polis@example.net>".to_owned());
    })
    .await
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

/// Sends a code to `email` for domain `id` of `org` and returns the code from the queue.
pub async fn send_code(app: &TestApp, auth: Auth<'_>, org: &str, id: &str, email: &str) -> String {
    let reply = app
        .post(
            &format!("/orgs/{org}/domains/{id}/verification"),
            auth,
            json!({"email": email}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let message = queued_email(app, email).await;
    assert_eq!(message["template"], "domain_verification_code");
    message["code"].as_str().expect("code").to_owned()
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
