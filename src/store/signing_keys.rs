//! The keys that sign org-claims tokens. Every replica reads the same rows, so a key
//! created or rotated by one (or by `polis keys rotate`) is the key of all of them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::db::{query, Conn};
use super::{SqlStore, StoreResult};

/// A signing key as stored. `private_key` is the sealed PKCS#8 document (see
/// `auth::signing_keys`), present only while the key may still sign.
#[derive(Clone, PartialEq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub public_jwk: Value,
    pub private_key: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Signs from then on.
    pub activates_at: DateTime<Utc>,
    /// Stops signing then; `None` for the newest key.
    pub retired_at: Option<DateTime<Utc>>,
}

/// Never prints the private key, sealed or not.
impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The new key is the newest; it signs from `activates_at` (at once when no key
    /// existed before).
    Rotated { activates_at: DateTime<Utc> },
    /// Another rotation is still waiting for its key (activating then) to sign; nothing
    /// changed.
    Pending { activates_at: DateTime<Utc> },
}

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// The key that signs at `now`, if any. Erases the private half of every key that
    /// stopped signing by then.
    async fn signing_key_at(&self, now: DateTime<Utc>) -> StoreResult<Option<SigningKeyRecord>>;
    /// Stores `key` (activating at once) unless some key exists already (another replica
    /// was first); returns the key that signs at its `created_at` either way.
    async fn create_first_signing_key(
        &self,
        key: SigningKeyRecord,
    ) -> StoreResult<Option<SigningKeyRecord>>;
    /// Makes `key` the newest key, in one transaction. When it activates later than its
    /// `created_at`, the signing key keeps signing until then (refused while an earlier
    /// such rotation is pending); when at once, every other key stops signing now.
    async fn rotate_signing_key(&self, key: SigningKeyRecord) -> StoreResult<Rotation>;
    /// The keys to publish: the newest, those still signing, and those that stopped after
    /// `retired_after`.
    async fn published_signing_keys(
        &self,
        retired_after: DateTime<Utc>,
    ) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Every key, newest first (for `polis keys list`).
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
}

const KEY_COLUMNS: &str = "kid, public_jwk, private_key, created_at, activates_at, retired_at";

#[derive(sqlx::FromRow)]
struct SigningKeyRow {
    kid: String,
    public_jwk: Json<Value>,
    private_key: Option<String>,
    created_at: DateTime<Utc>,
    activates_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

impl From<SigningKeyRow> for SigningKeyRecord {
    fn from(row: SigningKeyRow) -> SigningKeyRecord {
        SigningKeyRecord {
            kid: row.kid,
            public_jwk: row.public_jwk.0,
            private_key: row.private_key,
            created_at: row.created_at,
            activates_at: row.activates_at,
            retired_at: row.retired_at,
        }
    }
}

async fn insert_key(conn: &mut Conn, key: &SigningKeyRecord) -> StoreResult<u64> {
    // ON CONFLICT without a target: the one-newest-key index decides who wins a race.
    Ok(query(format!(
        "INSERT INTO signing_keys (algorithm, {KEY_COLUMNS}) \
         VALUES ('ES256', $1, $2, $3, $4, $5, NULL) ON CONFLICT DO NOTHING"
    ))
    .bind(&key.kid)
    .bind(Json(&key.public_jwk))
    .bind(&key.private_key)
    .bind(key.created_at)
    .bind(key.activates_at)
    .execute(conn)
    .await?)
}

async fn load_signing(
    conn: &mut Conn,
    now: DateTime<Utc>,
) -> StoreResult<Option<SigningKeyRecord>> {
    let row: Option<SigningKeyRow> = query(format!(
        "SELECT {KEY_COLUMNS} FROM signing_keys WHERE activates_at <= $1 \
         AND (retired_at IS NULL OR retired_at > $1) AND private_key IS NOT NULL \
         ORDER BY activates_at DESC LIMIT 1"
    ))
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(SigningKeyRecord::from))
}

async fn erase_retired(conn: &mut Conn, now: DateTime<Utc>) -> StoreResult<()> {
    query(
        "UPDATE signing_keys SET private_key = NULL \
         WHERE retired_at <= $1 AND private_key IS NOT NULL",
    )
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

async fn list(
    conn: &mut Conn,
    condition: &str,
    since: Option<DateTime<Utc>>,
) -> StoreResult<Vec<SigningKeyRecord>> {
    let mut statement = query(format!(
        "SELECT {KEY_COLUMNS} FROM signing_keys {condition} \
         ORDER BY activates_at DESC, created_at DESC, kid"
    ));
    if let Some(since) = since {
        statement = statement.bind(since);
    }
    let rows: Vec<SigningKeyRow> = statement.fetch_all(conn).await?;
    Ok(rows.into_iter().map(SigningKeyRecord::from).collect())
}

#[async_trait]
impl SigningKeyStore for SqlStore {
    async fn signing_key_at(&self, now: DateTime<Utc>) -> StoreResult<Option<SigningKeyRecord>> {
        let mut conn = self.db.acquire().await?;
        erase_retired(&mut conn, now).await?;
        load_signing(&mut conn, now).await
    }

    async fn create_first_signing_key(
        &self,
        key: SigningKeyRecord,
    ) -> StoreResult<Option<SigningKeyRecord>> {
        let mut conn = self.db.acquire().await?;
        insert_key(&mut conn, &key).await?;
        load_signing(&mut conn, key.created_at).await
    }

    async fn rotate_signing_key(&self, mut key: SigningKeyRecord) -> StoreResult<Rotation> {
        let now = key.created_at;
        let mut tx = self.db.begin_write().await?;
        let lock = tx.dialect().lock_rows;
        let newest: Option<DateTime<Utc>> = query(format!(
            "SELECT activates_at FROM signing_keys WHERE retired_at IS NULL{lock}"
        ))
        .optional_scalar(&mut tx)
        .await?;
        if newest.is_none() {
            // Nothing signs yet: there is no old key for verifiers to use meanwhile.
            key.activates_at = now;
        }
        let immediately = key.activates_at <= now;
        if let Some(activates_at) = newest.filter(|at| *at > now && !immediately) {
            return Ok(Rotation::Pending { activates_at });
        }
        let retire = if immediately {
            "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL OR retired_at > $1"
        } else {
            "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL"
        };
        query(retire)
            .bind(key.activates_at)
            .execute(&mut tx)
            .await?;
        insert_key(&mut tx, &key).await?;
        erase_retired(&mut tx, now).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated {
            activates_at: key.activates_at,
        })
    }

    async fn published_signing_keys(
        &self,
        retired_after: DateTime<Utc>,
    ) -> StoreResult<Vec<SigningKeyRecord>> {
        let mut conn = self.db.acquire().await?;
        let condition = "WHERE retired_at IS NULL OR retired_at > $1";
        list(&mut conn, condition, Some(retired_after)).await
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let mut conn = self.db.acquire().await?;
        list(&mut conn, "", None).await
    }
}
