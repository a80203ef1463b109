//! The keys that sign org-claims tokens. Every replica reads the same rows, so a key
//! created or rotated by one (or by `polis keys rotate`) is the key of all of them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::db::query;
use super::{SqlStore, StoreResult};

/// A signing key as stored. `private_key` is the sealed PKCS#8 document (see
/// `auth::signing_keys`), present only while the key is current.
#[derive(Clone, PartialEq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub public_jwk: Value,
    pub private_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// Never prints the private key, sealed or not.
impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// The key that signs now, if there is one.
    async fn current_signing_key(&self) -> StoreResult<Option<SigningKeyRecord>>;
    /// Makes `key` current unless a current key exists (another replica was first);
    /// returns the current key either way.
    async fn create_signing_key_if_none(
        &self,
        key: SigningKeyRecord,
    ) -> StoreResult<SigningKeyRecord>;
    /// Retires the current key at `key.created_at` (erasing its private half) and makes
    /// `key` current, in one transaction.
    async fn rotate_signing_key(&self, key: SigningKeyRecord) -> StoreResult<()>;
    /// The keys to publish: the current one and those retired after `retired_after`.
    async fn published_signing_keys(
        &self,
        retired_after: DateTime<Utc>,
    ) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Every key, newest first (for `polis keys list`).
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
}

const KEY_COLUMNS: &str = "kid, public_jwk, private_key, created_at, retired_at";

#[derive(sqlx::FromRow)]
struct SigningKeyRow {
    kid: String,
    public_jwk: Json<Value>,
    private_key: Option<String>,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

impl From<SigningKeyRow> for SigningKeyRecord {
    fn from(row: SigningKeyRow) -> SigningKeyRecord {
        SigningKeyRecord {
            kid: row.kid,
            public_jwk: row.public_jwk.0,
            private_key: row.private_key,
            created_at: row.created_at,
            retired_at: row.retired_at,
        }
    }
}

async fn insert_key(conn: &mut super::db::Conn, key: &SigningKeyRecord) -> StoreResult<u64> {
    // ON CONFLICT without a target: the one-current-key index decides who wins a race.
    Ok(query(
        "INSERT INTO signing_keys (kid, algorithm, public_jwk, private_key, created_at, retired_at) \
         VALUES ($1, 'ES256', $2, $3, $4, NULL) ON CONFLICT DO NOTHING",
    )
    .bind(&key.kid)
    .bind(Json(&key.public_jwk))
    .bind(&key.private_key)
    .bind(key.created_at)
    .execute(conn)
    .await?)
}

async fn load_current(conn: &mut super::db::Conn) -> StoreResult<Option<SigningKeyRecord>> {
    let row: Option<SigningKeyRow> = query(format!(
        "SELECT {KEY_COLUMNS} FROM signing_keys WHERE retired_at IS NULL"
    ))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(SigningKeyRecord::from))
}

#[async_trait]
impl SigningKeyStore for SqlStore {
    async fn current_signing_key(&self) -> StoreResult<Option<SigningKeyRecord>> {
        let mut conn = self.db.acquire().await?;
        load_current(&mut conn).await
    }

    async fn create_signing_key_if_none(
        &self,
        key: SigningKeyRecord,
    ) -> StoreResult<SigningKeyRecord> {
        let mut conn = self.db.acquire().await?;
        insert_key(&mut conn, &key).await?;
        load_current(&mut conn)
            .await?
            .ok_or(super::StoreError::Database(sqlx::Error::RowNotFound))
    }

    async fn rotate_signing_key(&self, key: SigningKeyRecord) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await?;
        query(
            "UPDATE signing_keys SET retired_at = $1, private_key = NULL \
             WHERE retired_at IS NULL",
        )
        .bind(key.created_at)
        .execute(&mut tx)
        .await?;
        if insert_key(&mut tx, &key).await? == 0 {
            // A concurrent rotation made its key current in between: keep that one.
            tx.rollback().await?;
            return Ok(());
        }
        tx.commit().await?;
        Ok(())
    }

    async fn published_signing_keys(
        &self,
        retired_after: DateTime<Utc>,
    ) -> StoreResult<Vec<SigningKeyRecord>> {
        let mut conn = self.db.acquire().await?;
        let rows: Vec<SigningKeyRow> = query(format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys \
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, kid"
        ))
        .bind(retired_after)
        .fetch_all(&mut conn)
        .await?;
        Ok(rows.into_iter().map(SigningKeyRecord::from).collect())
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let mut conn = self.db.acquire().await?;
        let rows: Vec<SigningKeyRow> = query(format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid"
        ))
        .fetch_all(&mut conn)
        .await?;
        Ok(rows.into_iter().map(SigningKeyRecord::from).collect())
    }
}
