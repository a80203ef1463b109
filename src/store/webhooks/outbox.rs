//! The delivery side of the outbox. Workers claim due deliveries with a lease (on
//! PostgreSQL `FOR UPDATE SKIP LOCKED`, so replicas never claim the same row; a crashed
//! worker's rows come back when the lease runs out), send them, and record each
//! attempt together with what follows: success, a retry at a time, giving up, or the
//! endpoint disabled.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::super::db::{query, Conn};
use super::super::{Change, PageRequest, SqlStore, StoreResult};
use super::{read_endpoint, WebhookEndpoint};
use crate::domain::webhook::DISABLE_AFTER_FAILING;

/// A delivery a worker holds until `leased_until`, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub endpoint: WebhookEndpoint,
    pub event_seq: i64,
    /// Attempts made before this one.
    pub attempts: i32,
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub data: Value,
}

/// How an attempt ended, and what happens to the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    /// Failed; try again at this time.
    RetryAt(DateTime<Utc>),
    /// Failed, and the schedule is spent.
    GiveUp,
    /// The endpoint answered `410 Gone`: it is disabled.
    Gone,
}

/// One attempt to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub endpoint_id: Uuid,
    pub event_seq: i64,
    /// This attempt's number, from 1.
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub response_body: Option<String>,
    pub outcome: AttemptOutcome,
}

/// One recorded attempt, as `GET /admin/webhooks/{id}/deliveries` shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryAttempt {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub response_body: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// What to deliver again.
#[derive(Debug, Clone, Copy)]
pub enum Replay {
    /// This event, whatever became of its delivery (sent anew if it had none).
    Event(Uuid),
    /// Every failed or given-up delivery of events since then.
    Since(DateTime<Utc>),
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` deliveries due at `now` for `worker` until `leased_until`.
    async fn claim_webhook_deliveries(
        &self,
        worker: Uuid,
        now: DateTime<Utc>,
        leased_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records an attempt and settles the delivery, if `worker` still holds its lease.
    async fn record_webhook_attempt(&self, worker: Uuid, record: AttemptRecord) -> StoreResult<()>;
    /// Attempts made for the endpoint, newest first, after `page.after`.
    async fn list_webhook_attempts(
        &self,
        endpoint_id: Uuid,
        page: PageRequest,
    ) -> StoreResult<Vec<DeliveryAttempt>>;
    /// Queues deliveries again, due at once; returns how many. `None`: no such event.
    async fn replay_webhook_deliveries(
        &self,
        change: Change<'_>,
        endpoint_id: Uuid,
        replay: Replay,
    ) -> StoreResult<Option<u64>>;
    /// Records a `test` event for the endpoint alone and queues its delivery; returns
    /// the event's id.
    async fn send_webhook_test_event(
        &self,
        change: Change<'_>,
        endpoint_id: Uuid,
    ) -> StoreResult<Uuid>;
    /// The time the oldest due delivery to an enabled endpoint has waited at `now`.
    async fn webhook_outbox_lag(&self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>>;
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    endpoint_id: Uuid,
    event_seq: i64,
    attempts: i32,
    event_id: Uuid,
    event_type: String,
    occurred_at: DateTime<Utc>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    data: Json<Value>,
}

/// The due deliveries of enabled endpoints whose lease (if any) has run out.
const DUE: &str = "SELECT d.endpoint_id, d.event_seq FROM webhook_deliveries d \
     JOIN webhook_endpoints w ON w.id = d.endpoint_id \
     WHERE d.status = 'pending' AND d.next_attempt_at <= $2 \
     AND (d.leased_until IS NULL OR d.leased_until <= $2) AND w.disabled_at IS NULL \
     ORDER BY d.next_attempt_at LIMIT $4";

#[async_trait]
impl OutboxStore for SqlStore {
    async fn claim_webhook_deliveries(
        &self,
        worker: Uuid,
        now: DateTime<Utc>,
        leased_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let mut conn = self.db.acquire().await?;
        // One statement: atomic on SQLite (one writer), and on PostgreSQL the rows
        // another replica is claiming right now are skipped, not waited for.
        let skip_locked = conn.dialect().skip_locked;
        let claimed: Vec<(Uuid, i64)> = query(format!(
            "UPDATE webhook_deliveries SET leased_until = $3, leased_by = $1, updated_at = $2 \
             WHERE (endpoint_id, event_seq) IN ({DUE}{skip_locked}) \
             RETURNING endpoint_id, event_seq"
        ))
        .bind(worker)
        .bind(now)
        .bind(leased_until)
        .bind(i64::from(limit))
        .fetch_all(&mut conn)
        .await?;
        let mut deliveries = Vec::with_capacity(claimed.len());
        for (endpoint_id, event_seq) in claimed {
            if let Some(delivery) = read_claimed(&mut conn, endpoint_id, event_seq).await? {
                deliveries.push(delivery);
            }
        }
        Ok(deliveries)
    }

    async fn record_webhook_attempt(&self, worker: Uuid, record: AttemptRecord) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        insert_attempt(&mut tx, &record).await?;
        let (status, next) = match record.outcome {
            AttemptOutcome::Succeeded => ("succeeded", record.attempted_at),
            AttemptOutcome::RetryAt(at) => ("pending", at),
            AttemptOutcome::GiveUp => ("given_up", record.attempted_at),
            AttemptOutcome::Gone => ("failed", record.attempted_at),
        };
        let settled = query(
            "UPDATE webhook_deliveries SET status = $4, attempts = $5, next_attempt_at = $6, \
             leased_until = NULL, leased_by = NULL, updated_at = $7 \
             WHERE endpoint_id = $1 AND event_seq = $2 AND leased_by = $3",
        )
        .bind(record.endpoint_id)
        .bind(record.event_seq)
        .bind(worker)
        .bind(status)
        .bind(record.attempt)
        .bind(next)
        .bind(record.attempted_at)
        .execute(&mut tx)
        .await?;
        if settled == 1 {
            update_endpoint_health(&mut tx, &record).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_webhook_attempts(
        &self,
        endpoint_id: Uuid,
        page: PageRequest,
    ) -> StoreResult<Vec<DeliveryAttempt>> {
        let mut conn = self.db.acquire().await?;
        Ok(query(
            "SELECT a.id, e.id AS event_id, e.type AS event_type, a.attempt, a.attempted_at, \
             a.status_code, a.error, a.latency_ms, a.response_body, a.next_attempt_at \
             FROM webhook_attempts a JOIN events e ON e.seq = a.event_seq \
             WHERE a.endpoint_id = $1 AND ($2 IS NULL OR a.id < $2) \
             ORDER BY a.id DESC LIMIT $3",
        )
        .bind(endpoint_id)
        .bind(page.after)
        .bind(i64::from(page.limit))
        .fetch_all(&mut conn)
        .await?)
    }

    async fn replay_webhook_deliveries(
        &self,
        change: Change<'_>,
        endpoint_id: Uuid,
        replay: Replay,
    ) -> StoreResult<Option<u64>> {
        let mut tx = self.db.begin_write().await?;
        let queued = match replay {
            Replay::Event(event_id) => {
                let seq: Option<i64> = query("SELECT seq FROM events WHERE id = $1")
                    .bind(event_id)
                    .optional_scalar(&mut tx)
                    .await?;
                let Some(seq) = seq else {
                    return Ok(None);
                };
                queue_delivery(&mut tx, endpoint_id, seq, change.now).await?
            }
            Replay::Since(since) => {
                query(
                    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
                     next_attempt_at = $3, leased_until = NULL, leased_by = NULL, \
                     updated_at = $3 WHERE endpoint_id = $1 \
                     AND status IN ('failed', 'given_up') AND created_at >= $2",
                )
                .bind(endpoint_id)
                .bind(since)
                .bind(change.now)
                .execute(&mut tx)
                .await?
            }
        };
        tx.commit().await?;
        Ok(Some(queued))
    }

    async fn send_webhook_test_event(
        &self,
        change: Change<'_>,
        endpoint_id: Uuid,
    ) -> StoreResult<Uuid> {
        let stamp = super::super::events::Stamp::from(change);
        let origin = change.origin.cloned().unwrap_or_default();
        let id = Uuid::now_v7();
        let mut tx = self.db.begin_write().await?;
        let seq: i64 = query(
            "INSERT INTO events (id, type, occurred_at, org_id, actor_type, actor_id, \
             target_type, target_id, request_id, client_ip, user_agent, data) \
             VALUES ($1, 'test', $2, NULL, $3, $4, 'webhook_endpoint', $5, $6, $7, $8, $9) \
             RETURNING seq",
        )
        .bind(id)
        .bind(change.now)
        .bind(stamp.actor.kind)
        .bind(stamp.actor.id.clone())
        .bind(endpoint_id.to_string())
        .bind(origin.request_id)
        .bind(origin.client_ip)
        .bind(origin.user_agent)
        .bind(Json(serde_json::json!({
            "object": "test",
            "endpoint_id": endpoint_id,
            "message": "a test event sent by POST /admin/webhooks/{id}/test",
        })))
        .scalar(&mut tx)
        .await?;
        queue_delivery(&mut tx, endpoint_id, seq, change.now).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn webhook_outbox_lag(&self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>> {
        let mut conn = self.db.acquire().await?;
        let oldest: Option<(Option<DateTime<Utc>>,)> = query(
            "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d \
             JOIN webhook_endpoints w ON w.id = d.endpoint_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND w.disabled_at IS NULL",
        )
        .bind(now)
        .fetch_optional(&mut conn)
        .await?;
        Ok(oldest.and_then(|row| row.0))
    }
}

async fn read_claimed(
    conn: &mut Conn,
    endpoint_id: Uuid,
    event_seq: i64,
) -> StoreResult<Option<ClaimedDelivery>> {
    let row: Option<ClaimedRow> = query(
        "SELECT d.endpoint_id, d.event_seq, d.attempts, e.id AS event_id, e.type AS event_type, \
         e.occurred_at, e.client_ip, e.user_agent, e.data \
         FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq \
         WHERE d.endpoint_id = $1 AND d.event_seq = $2",
    )
    .bind(endpoint_id)
    .bind(event_seq)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let Some(endpoint) = read_endpoint(conn, row.endpoint_id).await? else {
        return Ok(None);
    };
    Ok(Some(ClaimedDelivery {
        endpoint,
        event_seq: row.event_seq,
        attempts: row.attempts,
        event_id: row.event_id,
        event_type: row.event_type,
        occurred_at: row.occurred_at,
        client_ip: row.client_ip,
        user_agent: row.user_agent,
        data: row.data.0,
    }))
}

/// A delivery of event `seq` to the endpoint, due at `now` with a fresh schedule,
/// whatever became of an earlier one. Returns 0 when the endpoint is gone.
async fn queue_delivery(
    conn: &mut Conn,
    endpoint_id: Uuid,
    seq: i64,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    Ok(query(
        "INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, attempts, \
         next_attempt_at, created_at, updated_at) \
         SELECT id, $2, 'pending', 0, $3, $3, $3 FROM webhook_endpoints WHERE id = $1 \
         ON CONFLICT (endpoint_id, event_seq) DO UPDATE SET status = 'pending', attempts = 0, \
         next_attempt_at = $3, leased_until = NULL, leased_by = NULL, updated_at = $3",
    )
    .bind(endpoint_id)
    .bind(seq)
    .bind(now)
    .execute(conn)
    .await?)
}

async fn insert_attempt(conn: &mut Conn, record: &AttemptRecord) -> StoreResult<()> {
    let next = match record.outcome {
        AttemptOutcome::RetryAt(at) => Some(at),
        _ => None,
    };
    query(
        "INSERT INTO webhook_attempts (id, endpoint_id, event_seq, attempt, attempted_at, \
         status_code, error, latency_ms, response_body, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, NULLIF($6, 0), $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7())
    .bind(record.endpoint_id)
    .bind(record.event_seq)
    .bind(record.attempt)
    .bind(record.attempted_at)
    .bind(record.status_code.map_or(0, i32::from))
    .bind(record.error.clone())
    .bind(record.latency_ms)
    .bind(record.response_body.clone())
    .bind(next)
    .execute(conn)
    .await?;
    Ok(())
}

/// A success clears `failing_since`; a failure starts it. An endpoint that answered
/// `410 Gone`, or whose deliveries have all failed for five days, is disabled.
async fn update_endpoint_health(conn: &mut Conn, record: &AttemptRecord) -> StoreResult<()> {
    let now = record.attempted_at;
    if record.outcome == AttemptOutcome::Succeeded {
        query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1")
            .bind(record.endpoint_id)
            .execute(conn)
            .await?;
        return Ok(());
    }
    let since: Option<DateTime<Utc>> = query(
        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) \
         WHERE id = $1 RETURNING failing_since",
    )
    .bind(record.endpoint_id)
    .bind(now)
    .optional_scalar(conn)
    .await?;
    let reason = if record.outcome == AttemptOutcome::Gone {
        Some("the endpoint answered 410 Gone")
    } else if since.is_some_and(|since| now - since >= DISABLE_AFTER_FAILING) {
        Some("every delivery failed for 5 days")
    } else {
        None
    };
    if let Some(reason) = reason {
        tracing::warn!(endpoint = %record.endpoint_id, reason, "webhook endpoint disabled");
        query(
            "UPDATE webhook_endpoints SET disabled_at = $2, disabled_reason = $3, \
             updated_at = $2 WHERE id = $1 AND disabled_at IS NULL",
        )
        .bind(record.endpoint_id)
        .bind(now)
        .bind(reason)
        .execute(conn)
        .await?;
    }
    Ok(())
}
