//! The e-mail queue. A use case that sends mail queues it with [`enqueue_email`] inside
//! its own transaction, so the mail exists if and only if the change commits. Workers
//! claim due rows with a lease (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so replicas
//! never claim the same row; a crashed worker's rows come back when its lease runs out),
//! send them, and record the outcome only while they still hold the lease. Once a row
//! is sent, given up on or cancelled, its secret (the acceptance link's token, the
//! verification code) is cleared from the stored message.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::db::{query, Conn};
use super::{SqlStore, StoreResult};
use crate::domain::email::{EmailAbout, EmailMessage, OutgoingEmail};

/// An e-mail a worker holds until its lease ends, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedEmail {
    pub id: Uuid,
    pub email: OutgoingEmail,
    /// Attempts made before this one.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// How one attempt to send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailOutcome {
    /// The SMTP server accepted the message.
    Sent,
    /// Failed (the error, without secrets); try again at this time.
    RetryAt(DateTime<Utc>, String),
    /// Failed, and no further attempt will be made (the error, without secrets).
    Failed(String),
}

/// Counts of the queue's rows by status, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailQueueCounts {
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
}

#[async_trait]
pub trait EmailStore: Send + Sync {
    /// Claims up to `limit` e-mails due at `now` for `worker` until `leased_until`.
    async fn claim_emails(
        &self,
        worker: Uuid,
        now: DateTime<Utc>,
        leased_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedEmail>>;
    /// Records the outcome of an attempt, if `worker` still holds the e-mail's lease;
    /// returns whether it did. A sent or failed e-mail keeps no secret.
    async fn record_email_outcome(
        &self,
        worker: Uuid,
        email: &ClaimedEmail,
        outcome: EmailOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The time the oldest due e-mail has waited since at `now`.
    async fn email_outbox_lag(&self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>>;
    /// How many rows the queue holds in each status.
    async fn email_queue_counts(&self) -> StoreResult<EmailQueueCounts>;
    /// Deletes sent, failed and cancelled rows last changed before `before`; returns
    /// how many.
    async fn purge_emails(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

/// Queues `email`, due at once, in the caller's transaction; returns the row's id.
pub(in crate::store) async fn enqueue_email(
    conn: &mut Conn,
    email: &OutgoingEmail,
    now: DateTime<Utc>,
) -> StoreResult<Uuid> {
    let id = Uuid::now_v7();
    let message = serde_json::to_value(&email.message).map_err(encode_error)?;
    query(
        "INSERT INTO email_outbox (id, recipient, locale, message, invitation_id, domain_id, \
         status, attempts, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $7, 'queued', 0, $6, $6, $6)",
    )
    .bind(id)
    .bind(&email.to)
    .bind(&email.locale)
    .bind(Json(message))
    .bind(match email.about {
        Some(EmailAbout::Invitation(invitation)) => Some(invitation),
        _ => None,
    })
    .bind(now)
    .bind(match email.about {
        Some(EmailAbout::Domain(domain)) => Some(domain),
        _ => None,
    })
    .execute(conn)
    .await?;
    Ok(id)
}

/// Cancels the e-mails about an invitation or a domain not yet sent (their link or code
/// no longer works), clearing their secrets; returns how many.
pub(in crate::store) async fn cancel_emails(
    conn: &mut Conn,
    about: EmailAbout,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let (column, id) = match about {
        EmailAbout::Invitation(id) => ("invitation_id", id),
        EmailAbout::Domain(id) => ("domain_id", id),
    };
    let pending: Vec<(Uuid, Json<Value>)> = query(format!(
        "SELECT id, message FROM email_outbox WHERE {column} = $1 \
         AND status IN ('queued', 'sending')"
    ))
    .bind(id)
    .fetch_all(conn)
    .await?;
    for (id, message) in &pending {
        query(
            "UPDATE email_outbox SET status = 'cancelled', message = $2, leased_until = NULL, \
             leased_by = NULL, updated_at = $3 WHERE id = $1",
        )
        .bind(*id)
        .bind(Json(cleared(&message.0)))
        .bind(now)
        .execute(conn)
        .await?;
    }
    Ok(pending.len() as u64)
}

/// A stored message with its secret cleared; a message this version cannot read is
/// dropped whole rather than kept with a secret in it.
fn cleared(message: &Value) -> Value {
    serde_json::from_value::<EmailMessage>(message.clone())
        .ok()
        .and_then(|m| serde_json::to_value(m.without_secrets()).ok())
        .unwrap_or(Value::Null)
}

fn encode_error(err: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Encode(Box::new(err))
}

#[derive(sqlx::FromRow)]
struct EmailRow {
    id: Uuid,
    recipient: String,
    locale: Option<String>,
    message: Json<Value>,
    invitation_id: Option<Uuid>,
    domain_id: Option<Uuid>,
    attempts: i32,
    created_at: DateTime<Utc>,
}

/// The due rows whose lease (if any) has run out (aliased `d`, as the dialect's
/// `skip_locked` names it).
const DUE: &str = "SELECT d.id FROM email_outbox d \
     WHERE d.status IN ('queued', 'sending') AND d.next_attempt_at <= $2 \
     AND (d.leased_until IS NULL OR d.leased_until <= $2) \
     ORDER BY d.next_attempt_at LIMIT $4";

#[async_trait]
impl EmailStore for SqlStore {
    async fn claim_emails(
        &self,
        worker: Uuid,
        now: DateTime<Utc>,
        leased_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedEmail>> {
        let mut conn = self.db.acquire().await?;
        // One statement: atomic on SQLite (one writer), and on PostgreSQL the rows
        // another replica is claiming right now are skipped, not waited for.
        let skip_locked = conn.dialect().skip_locked;
        let rows: Vec<EmailRow> = query(format!(
            "UPDATE email_outbox SET status = 'sending', leased_until = $3, leased_by = $1, \
             updated_at = $2 WHERE id IN ({DUE}{skip_locked}) \
             RETURNING id, recipient, locale, message, invitation_id, domain_id, attempts, \
             created_at"
        ))
        .bind(worker)
        .bind(now)
        .bind(leased_until)
        .bind(i64::from(limit))
        .fetch_all(&mut conn)
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            match serde_json::from_value::<EmailMessage>(row.message.0) {
                Ok(message) => claimed.push(ClaimedEmail {
                    id: row.id,
                    email: OutgoingEmail {
                        to: row.recipient,
                        locale: row.locale,
                        message,
                        about: row
                            .invitation_id
                            .map(EmailAbout::Invitation)
                            .or(row.domain_id.map(EmailAbout::Domain)),
                    },
                    attempts: row.attempts,
                    created_at: row.created_at,
                }),
                Err(_) => unreadable(&mut conn, row.id, now).await?,
            }
        }
        Ok(claimed)
    }

    async fn record_email_outcome(
        &self,
        worker: Uuid,
        email: &ClaimedEmail,
        outcome: EmailOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let cleared =
            serde_json::to_value(email.email.message.without_secrets()).map_err(encode_error)?;
        let attempts = email.attempts.saturating_add(1);
        let mut conn = self.db.acquire().await?;
        // The lease check and the outcome are one statement: a row another worker took
        // over after this one's lease ran out is not settled twice.
        let (status, next, error, sent_at, message) = match outcome {
            EmailOutcome::Sent => ("sent", now, None, Some(now), Json(cleared)),
            EmailOutcome::Failed(error) => ("failed", now, Some(error), None, Json(cleared)),
            EmailOutcome::RetryAt(at, error) => {
                let message = serde_json::to_value(&email.email.message).map_err(encode_error)?;
                ("queued", at, Some(error), None, Json(message))
            }
        };
        let changed = query(
            "UPDATE email_outbox SET status = $3, attempts = $4, next_attempt_at = $5, \
             last_error = $6, sent_at = $7, message = $8, leased_until = NULL, \
             leased_by = NULL, updated_at = $9 \
             WHERE id = $1 AND leased_by = $2 AND status = 'sending'",
        )
        .bind(email.id)
        .bind(worker)
        .bind(status)
        .bind(attempts)
        .bind(next)
        .bind(error)
        .bind(sent_at)
        .bind(message)
        .bind(now)
        .execute(&mut conn)
        .await?;
        Ok(changed == 1)
    }

    async fn email_outbox_lag(&self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>> {
        let mut conn = self.db.acquire().await?;
        let oldest: Option<(Option<DateTime<Utc>>,)> = query(
            "SELECT MIN(next_attempt_at) FROM email_outbox \
             WHERE status IN ('queued', 'sending') AND next_attempt_at <= $1",
        )
        .bind(now)
        .fetch_optional(&mut conn)
        .await?;
        Ok(oldest.and_then(|row| row.0))
    }

    async fn email_queue_counts(&self) -> StoreResult<EmailQueueCounts> {
        let mut conn = self.db.acquire().await?;
        let rows: Vec<(String, i64)> =
            query("SELECT status, COUNT(*) FROM email_outbox GROUP BY status")
                .fetch_all(&mut conn)
                .await?;
        let mut counts = EmailQueueCounts::default();
        for (status, count) in rows {
            match status.as_str() {
                "queued" | "sending" => counts.queued += count,
                "sent" => counts.sent += count,
                "failed" => counts.failed += count,
                _ => counts.cancelled += count,
            }
        }
        Ok(counts)
    }

    async fn purge_emails(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut conn = self.db.acquire().await?;
        Ok(query(
            "DELETE FROM email_outbox WHERE status IN ('sent', 'failed', 'cancelled') \
             AND updated_at < $1",
        )
        .bind(before)
        .execute(&mut conn)
        .await?)
    }
}

/// A row whose message this version cannot read (written by a newer one, or damaged)
/// fails at once, its message dropped: retrying cannot help, and it may hold a secret.
/// (The parser's message is not kept: it may quote the secret.)
async fn unreadable(conn: &mut Conn, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
    tracing::error!(email = %id, "queued e-mail unreadable; marked failed");
    query(
        "UPDATE email_outbox SET status = 'failed', message = $2, last_error = $3, \
         leased_until = NULL, leased_by = NULL, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(Json(Value::Null))
    .bind("unreadable message")
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
