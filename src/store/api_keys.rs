//! Polis API keys: only the hash of each secret is kept.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::query;
use super::{SqlStore, StoreResult};
use crate::domain::ApiKeyScope;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub name: String,
    pub scope: ApiKeyScope,
    /// Hex SHA-256 of the key's secret part; the secret itself is never stored.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn create_api_key(&self, key: ApiKeyRecord) -> StoreResult<()>;
    async fn find_api_key(&self, id: Uuid) -> StoreResult<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Marks the key revoked at `now`; false when no active key has that id.
    async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
}

const API_KEY_COLUMNS: &str = "id, name, scope, secret_hash, created_at, revoked_at";

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: Uuid,
    name: String,
    scope: String,
    secret_hash: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKeyRecord {
    /// A row whose scope the code does not know grants nothing: it reads as read-only
    /// and revoked.
    fn from(row: ApiKeyRow) -> ApiKeyRecord {
        let scope = ApiKeyScope::parse(&row.scope);
        ApiKeyRecord {
            id: row.id,
            name: row.name,
            scope: scope.unwrap_or(ApiKeyScope::Read),
            secret_hash: row.secret_hash,
            created_at: row.created_at,
            revoked_at: if scope.is_some() {
                row.revoked_at
            } else {
                Some(row.created_at)
            },
        }
    }
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn create_api_key(&self, key: ApiKeyRecord) -> StoreResult<()> {
        let mut conn = self.db.acquire().await?;
        query(format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(key.id)
        .bind(&key.name)
        .bind(key.scope.as_str())
        .bind(&key.secret_hash)
        .bind(key.created_at)
        .bind(key.revoked_at)
        .execute(&mut conn)
        .await?;
        Ok(())
    }

    async fn find_api_key(&self, id: Uuid) -> StoreResult<Option<ApiKeyRecord>> {
        let mut conn = self.db.acquire().await?;
        let row: Option<ApiKeyRow> = query(format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut conn)
        .await?;
        Ok(row.map(ApiKeyRecord::from))
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let mut conn = self.db.acquire().await?;
        let rows: Vec<ApiKeyRow> = query(format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        ))
        .fetch_all(&mut conn)
        .await?;
        Ok(rows.into_iter().map(ApiKeyRecord::from).collect())
    }

    async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut conn = self.db.acquire().await?;
        let revoked =
            query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(now)
                .execute(&mut conn)
                .await?;
        Ok(revoked == 1)
    }
}
