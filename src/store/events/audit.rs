//! The outbox read as the audit log, and its retention. Events are kept for
//! `POLIS_EVENT_RETENTION_DAYS`; an event an enabled webhook endpoint still has to
//! receive (or give up on) is kept past that, so pruning never loses a delivery.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::store::db::query;
use crate::store::{SqlStore, StoreResult};

/// Which events to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub org_id: Option<Uuid>,
    /// Any of these types; empty: every type.
    pub types: Vec<String>,
    pub actor_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Keyset: only events recorded before this one (the previous page's last).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// One recorded event, as the audit log shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: Uuid,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub org_id: Option<Uuid>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub target_type: String,
    pub target_id: String,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub data: Json<Value>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Up to `limit` events matching `filter`, newest first.
    async fn audit_log(&self, filter: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    /// Deletes events that occurred before `cutoff`, except those an enabled endpoint
    /// has not yet received or given up on. Returns how many went.
    async fn prune_events(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

/// Rows one prune statement deletes: short transactions that never hold the outbox long.
const PRUNE_BATCH: i64 = 1000;

#[async_trait]
impl AuditStore for SqlStore {
    async fn audit_log(&self, filter: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        // Conditions and binds go in the same order.
        let mut conditions = Vec::new();
        let mut count = 0;
        let mut placeholder = || {
            count += 1;
            format!("${count}")
        };
        let checks = [
            (filter.org_id.is_some(), "org_id ="),
            (filter.actor_id.is_some(), "actor_id ="),
            (filter.since.is_some(), "occurred_at >="),
            (filter.until.is_some(), "occurred_at <"),
            (filter.before_seq.is_some(), "seq <"),
        ];
        for (_, check) in checks.iter().filter(|(present, _)| *present) {
            conditions.push(format!("{check} {}", placeholder()));
        }
        if !filter.types.is_empty() {
            let list: Vec<String> = filter.types.iter().map(|_| placeholder()).collect();
            conditions.push(format!("type IN ({})", list.join(", ")));
        }
        let mut sql = String::from(
            "SELECT seq, id, type, occurred_at, org_id, actor_type, actor_id, target_type, \
             target_id, request_id, client_ip, user_agent, data FROM events",
        );
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", filter.limit));
        let mut statement = query(sql);
        if let Some(org) = filter.org_id {
            statement = statement.bind(org);
        }
        if let Some(actor) = &filter.actor_id {
            statement = statement.bind(actor.clone());
        }
        for at in [filter.since, filter.until].into_iter().flatten() {
            statement = statement.bind(at);
        }
        if let Some(seq) = filter.before_seq {
            statement = statement.bind(seq);
        }
        for kind in &filter.types {
            statement = statement.bind(kind.clone());
        }
        let mut conn = self.db.acquire().await?;
        Ok(statement.fetch_all(&mut conn).await?)
    }

    async fn prune_events(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let mut pruned = 0;
        loop {
            let mut tx = self.db.begin().await?;
            let deleted = query(
                "DELETE FROM events WHERE seq IN (SELECT e.seq FROM events e \
                 WHERE e.occurred_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
                 JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.event_seq = e.seq \
                 AND w.disabled_at IS NULL AND d.status NOT IN ('succeeded', 'given_up')) \
                 ORDER BY e.seq LIMIT $2)",
            )
            .bind(cutoff)
            .bind(PRUNE_BATCH)
            .execute(&mut tx)
            .await?;
            tx.commit().await?;
            pruned += deleted;
            if deleted < PRUNE_BATCH as u64 {
                return Ok(pruned);
            }
        }
    }
}
