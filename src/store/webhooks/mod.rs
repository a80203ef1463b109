//! Webhook endpoints: where events are delivered, which types each wants, and the
//! secrets deliveries are signed with. The deliveries themselves (claimed by workers,
//! their attempts, replays) are in `outbox.rs`.

mod outbox;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::{query, Conn};
use super::{Change, PageRequest, SqlStore, StoreResult};
use crate::domain::webhook_signing::Secret;

pub use outbox::{
    AttemptOutcome, AttemptRecord, ClaimedDelivery, DeliveryAttempt, OutboxStore, Replay,
};

/// A webhook endpoint as stored. `Debug` shows no secret (see [`Secret`]).
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// The event types delivered; empty: every type.
    pub event_types: Vec<String>,
    pub secret: Secret,
    /// The secret before the last rotation, which keeps signing until `previous_expires_at`.
    pub previous_secret: Option<(Secret, DateTime<Utc>)>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// The secrets that sign a delivery at `now`: the current one, and the previous one
    /// while its overlap lasts.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<Secret> {
        let mut secrets = vec![self.secret.clone()];
        if let Some((previous, until)) = &self.previous_secret {
            if *until > now {
                secrets.push(previous.clone());
            }
        }
        secrets
    }
}

/// A new endpoint.
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub secret: Secret,
}

/// What a `PATCH` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointPatch {
    pub url: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    /// `Some(true)` disables, `Some(false)` enables (and forgets past failures).
    pub disabled: Option<bool>,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook_endpoint(
        &self,
        change: Change<'_>,
        endpoint: NewWebhookEndpoint,
    ) -> StoreResult<WebhookEndpoint>;
    async fn find_webhook_endpoint(&self, id: Uuid) -> StoreResult<Option<WebhookEndpoint>>;
    /// Up to `page.limit` endpoints by id, after `page.after`.
    async fn list_webhook_endpoints(&self, page: PageRequest) -> StoreResult<Vec<WebhookEndpoint>>;
    async fn update_webhook_endpoint(
        &self,
        change: Change<'_>,
        id: Uuid,
        patch: WebhookEndpointPatch,
    ) -> StoreResult<Option<WebhookEndpoint>>;
    /// Deletes the endpoint with its deliveries and attempts; false when none had `id`.
    async fn delete_webhook_endpoint(&self, change: Change<'_>, id: Uuid) -> StoreResult<bool>;
    /// Makes `secret` the signing secret; the old one signs too until `overlap_until`.
    async fn rotate_webhook_secret(
        &self,
        change: Change<'_>,
        id: Uuid,
        secret: Secret,
        overlap_until: DateTime<Utc>,
    ) -> StoreResult<Option<WebhookEndpoint>>;
}

const ENDPOINT_COLUMNS: &str = "id, url, description, secret, previous_secret, \
     previous_expires_at, disabled_at, disabled_reason, failing_since, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    url: String,
    description: Option<String>,
    secret: String,
    previous_secret: Option<String>,
    previous_expires_at: Option<DateTime<Utc>>,
    disabled_at: Option<DateTime<Utc>>,
    disabled_reason: Option<String>,
    failing_since: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl EndpointRow {
    fn into_endpoint(self, event_types: Vec<String>) -> WebhookEndpoint {
        WebhookEndpoint {
            id: self.id,
            url: self.url,
            description: self.description,
            event_types,
            secret: Secret::from_stored(self.secret),
            previous_secret: self
                .previous_secret
                .zip(self.previous_expires_at)
                .map(|(secret, until)| (Secret::from_stored(secret), until)),
            disabled_at: self.disabled_at,
            disabled_reason: self.disabled_reason,
            failing_since: self.failing_since,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The endpoint `id` with its event types, read on `conn`.
async fn read_endpoint(conn: &mut Conn, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
    let row: Option<EndpointRow> = query(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let types = event_types_of(conn, id).await?;
    Ok(Some(row.into_endpoint(types)))
}

async fn event_types_of(conn: &mut Conn, id: Uuid) -> StoreResult<Vec<String>> {
    Ok(
        query("SELECT type FROM webhook_endpoint_types WHERE endpoint_id = $1 ORDER BY type")
            .bind(id)
            .fetch_all::<(String,)>(conn)
            .await?
            .into_iter()
            .map(|(kind,)| kind)
            .collect(),
    )
}

async fn replace_event_types(conn: &mut Conn, id: Uuid, types: &[String]) -> StoreResult<()> {
    query("DELETE FROM webhook_endpoint_types WHERE endpoint_id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    for kind in types {
        query("INSERT INTO webhook_endpoint_types (endpoint_id, type) VALUES ($1, $2)")
            .bind(id)
            .bind(kind)
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_webhook_endpoint(
        &self,
        change: Change<'_>,
        endpoint: NewWebhookEndpoint,
    ) -> StoreResult<WebhookEndpoint> {
        let id = Uuid::now_v7();
        let mut tx = self.db.begin_write().await?;
        query(
            "INSERT INTO webhook_endpoints (id, url, description, secret, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id)
        .bind(&endpoint.url)
        .bind(endpoint.description.as_deref())
        .bind(endpoint.secret.expose())
        .bind(change.now)
        .execute(&mut tx)
        .await?;
        replace_event_types(&mut tx, id, &endpoint.event_types).await?;
        let created = read_endpoint(&mut tx, id).await?;
        tx.commit().await?;
        created.ok_or(sqlx::Error::RowNotFound.into())
    }

    async fn find_webhook_endpoint(&self, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
        let mut conn = self.db.acquire().await?;
        read_endpoint(&mut conn, id).await
    }

    async fn list_webhook_endpoints(&self, page: PageRequest) -> StoreResult<Vec<WebhookEndpoint>> {
        let mut conn = self.db.acquire().await?;
        let rows: Vec<EndpointRow> = query(format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
             WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
        ))
        .bind(page.after)
        .bind(i64::from(page.limit))
        .fetch_all(&mut conn)
        .await?;
        let mut endpoints = Vec::with_capacity(rows.len());
        for row in rows {
            let types = event_types_of(&mut conn, row.id).await?;
            endpoints.push(row.into_endpoint(types));
        }
        Ok(endpoints)
    }

    async fn update_webhook_endpoint(
        &self,
        change: Change<'_>,
        id: Uuid,
        patch: WebhookEndpointPatch,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        let mut tx = self.db.begin_write().await?;
        let (set_description, description) = match patch.description {
            Some(description) => (1, description),
            None => (0, None),
        };
        let (set_disabled, disabled) = match patch.disabled {
            Some(disabled) => (1, disabled),
            None => (0, false),
        };
        let updated = query(
            "UPDATE webhook_endpoints SET url = COALESCE($2, url), \
             description = CASE WHEN $3 = 1 THEN $4 ELSE description END, \
             disabled_at = CASE WHEN $5 = 0 THEN disabled_at WHEN $6 = 1 \
               THEN COALESCE(disabled_at, $7) ELSE NULL END, \
             disabled_reason = CASE WHEN $5 = 0 THEN disabled_reason WHEN $6 = 1 \
               THEN COALESCE(disabled_reason, 'disabled by an administrator') ELSE NULL END, \
             failing_since = CASE WHEN $5 = 1 AND $6 = 0 THEN NULL ELSE failing_since END, \
             updated_at = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(patch.url)
        .bind(set_description)
        .bind(description)
        .bind(set_disabled)
        .bind(i32::from(disabled))
        .bind(change.now)
        .execute(&mut tx)
        .await?;
        if updated == 0 {
            return Ok(None);
        }
        if let Some(types) = &patch.event_types {
            replace_event_types(&mut tx, id, types).await?;
        }
        let endpoint = read_endpoint(&mut tx, id).await?;
        tx.commit().await?;
        Ok(endpoint)
    }

    async fn delete_webhook_endpoint(&self, _change: Change<'_>, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.db.begin_write().await?;
        let deleted = query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }

    async fn rotate_webhook_secret(
        &self,
        change: Change<'_>,
        id: Uuid,
        secret: Secret,
        overlap_until: DateTime<Utc>,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        let mut tx = self.db.begin_write().await?;
        let rotated = query(
            "UPDATE webhook_endpoints SET previous_secret = secret, secret = $2, \
             previous_expires_at = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(secret.expose())
        .bind(overlap_until)
        .bind(change.now)
        .execute(&mut tx)
        .await?;
        if rotated == 0 {
            return Ok(None);
        }
        let endpoint = read_endpoint(&mut tx, id).await?;
        tx.commit().await?;
        Ok(endpoint)
    }
}
