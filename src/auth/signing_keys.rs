//! The ES256 keys that sign org-claims tokens. They live in the database, so every
//! replica signs with the same current key and publishes the same JWKS. A private key is
//! stored as PKCS#8, sealed with AES-256-GCM under `POLIS_SIGNING_KEY_SECRET` when that is
//! set (`plain:` otherwise), erased once the key stops signing, and never logged or returned.
//! Keys are generated with `ring`, which jsonwebtoken also signs with.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::store::{Rotation, SigningKeyRecord, Store};

/// How long a replica keeps signing with the key it last read (never past the moment that
/// key stops signing): an immediate rotation reaches every replica within this time.
pub const CURRENT_KEY_CACHE: Duration = Duration::from_secs(5);

/// How long a rotated-in key is published before it signs: as long as the JWKS may be
/// cached (60 s) plus the 30 s a verifier like jose waits before refetching a key set on
/// an unknown `kid`, so verifiers already have the key when its first token arrives.
pub const ACTIVATION_DELAY: Duration = Duration::from_secs(90);

/// Clock skew allowed between Polis replicas and the verifiers.
const SKEW: Duration = Duration::from_secs(60);

/// A key that can sign: its id and its private half.
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the signing key {0} cannot be opened: {1}")]
    Unreadable(String, &'static str),
    #[error("cannot {0}")]
    Crypto(&'static str),
}

pub struct KeyRing {
    store: Arc<dyn Store>,
    sealer: Sealer,
    token_ttl: Duration,
    current: Mutex<Option<Cached>>,
}

/// The signing key as last read, and until when it may be used without reading again.
#[derive(Clone)]
struct Cached {
    read_at: Instant,
    retired_at: Option<DateTime<Utc>>,
    key: Arc<SigningKey>,
}

impl Cached {
    fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.read_at.elapsed() < CURRENT_KEY_CACHE && self.retired_at.is_none_or(|at| now < at)
    }
}

impl KeyRing {
    pub fn new(store: Arc<dyn Store>, secret: Option<&str>, token_ttl: Duration) -> KeyRing {
        KeyRing {
            store,
            sealer: Sealer::new(secret),
            token_ttl,
            current: Mutex::new(None),
        }
    }

    /// Signs `claims` with the current key, creating the first key when there is none.
    pub async fn sign(
        &self,
        claims: &impl serde::Serialize,
        now: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let key = self.current(now).await?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|_| KeyError::Crypto("sign"))
    }

    async fn current(&self, now: DateTime<Utc>) -> Result<Arc<SigningKey>, KeyError> {
        let cached = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(cached) = cached.filter(|c| c.usable_at(now)) {
            return Ok(cached.key);
        }
        let record = match self.store.signing_key_at(now).await? {
            Some(record) => record,
            None => {
                let first = self.sealer.generate(now)?;
                let kid = first.kid.clone();
                self.store
                    .create_first_signing_key(first)
                    .await?
                    .ok_or(KeyError::Unreadable(kid, "no key signs now"))?
            }
        };
        let key = Arc::new(self.sealer.open(&record)?);
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
            read_at: Instant::now(),
            retired_at: record.retired_at,
            key: key.clone(),
        });
        Ok(key)
    }

    /// Makes a new key the newest. By default it is published at once and signs from
    /// [`ACTIVATION_DELAY`] on, while the current key goes on signing until then;
    /// `immediately` (a compromised key) makes it sign at once and stops every other key.
    /// Retired keys stay published until the tokens they signed have expired.
    pub async fn rotate(
        &self,
        now: DateTime<Utc>,
        immediately: bool,
    ) -> Result<(SigningKeyRecord, Rotation), KeyError> {
        let mut fresh = self.sealer.generate(now)?;
        if !immediately {
            fresh.activates_at =
                now + chrono::Duration::from_std(ACTIVATION_DELAY).unwrap_or_default();
        }
        let rotation = self.store.rotate_signing_key(fresh.clone()).await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok((fresh, rotation))
    }

    /// The JWK Set to publish at `now`: the signing key (created if there is none), the
    /// next one when a rotation is under way, and every retired key a still valid token
    /// could have been signed with (retired less than a token lifetime, the replicas' key
    /// cache and the allowed skew ago).
    pub async fn jwks(&self, now: DateTime<Utc>) -> Result<Value, KeyError> {
        // A fresh instance publishes the key it will sign with before its first token.
        self.current(now).await?;
        let window = self.token_ttl + CURRENT_KEY_CACHE + SKEW;
        let since = now - chrono::Duration::from_std(window).unwrap_or_default();
        let keys = self.store.published_signing_keys(since).await?;
        Ok(json!({ "keys": keys.into_iter().map(|k| k.public_jwk).collect::<Vec<_>>() }))
    }
}

/// Makes keys and seals their private halves for storage (and opens them again).
pub struct Sealer {
    /// The AES-256-GCM key: SHA-256 of `POLIS_SIGNING_KEY_SECRET`, which is random text.
    sealing: Option<[u8; 32]>,
}

impl Sealer {
    pub fn new(secret: Option<&str>) -> Sealer {
        Sealer {
            sealing: secret.map(|s| Sha256::digest(s.as_bytes()).into()),
        }
    }

    /// A new P-256 key, its private half sealed, its `kid` the RFC 7638 thumbprint.
    pub fn generate(&self, now: DateTime<Utc>) -> Result<SigningKeyRecord, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Crypto("generate a key"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| KeyError::Crypto("read the generated key"))?;
        // An uncompressed point: 0x04, then x and y of 32 bytes each.
        let point = pair.public_key().as_ref();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        );
        let thumbprint = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
        let public_jwk = json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": kid, "use": "sig", "alg": "ES256",
        });
        Ok(SigningKeyRecord {
            private_key: Some(self.seal(&kid, pkcs8.as_ref())?),
            kid,
            public_jwk,
            created_at: now,
            activates_at: now,
            retired_at: None,
        })
    }

    fn seal(&self, kid: &str, pkcs8: &[u8]) -> Result<String, KeyError> {
        let Some(sealing) = &self.sealing else {
            return Ok(format!("plain:{}", STANDARD.encode(pkcs8)));
        };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KeyError::Crypto("draw a nonce"))?;
        let mut sealed = pkcs8.to_vec();
        aead_key(sealing)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| KeyError::Crypto("seal the key"))?;
        Ok(format!(
            "aes256gcm:{}",
            STANDARD.encode([&nonce[..], &sealed].concat())
        ))
    }

    fn open(&self, record: &SigningKeyRecord) -> Result<SigningKey, KeyError> {
        let unreadable = |why| KeyError::Unreadable(record.kid.clone(), why);
        let stored = record
            .private_key
            .as_deref()
            .ok_or_else(|| unreadable("retired"))?;
        let pkcs8 = match stored.split_once(':') {
            Some(("plain", encoded)) => STANDARD
                .decode(encoded)
                .map_err(|_| unreadable("not base64"))?,
            Some(("aes256gcm", encoded)) => {
                let sealing = self.sealing.as_ref().ok_or_else(|| {
                    unreadable("it is sealed and POLIS_SIGNING_KEY_SECRET is not set")
                })?;
                let mut sealed = STANDARD
                    .decode(encoded)
                    .map_err(|_| unreadable("not base64"))?;
                if sealed.len() < NONCE_LEN {
                    return Err(unreadable("too short"));
                }
                let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN])
                    .map_err(|_| unreadable("bad nonce"))?;
                let opened = aead_key(sealing)?
                    .open_in_place(
                        nonce,
                        Aad::from(record.kid.as_bytes()),
                        &mut sealed[NONCE_LEN..],
                    )
                    .map_err(|_| unreadable("POLIS_SIGNING_KEY_SECRET does not open it"))?;
                opened.to_vec()
            }
            _ => return Err(unreadable("unknown format")),
        };
        Ok(SigningKey {
            kid: record.kid.clone(),
            encoding: EncodingKey::from_ec_der(&pkcs8),
        })
    }
}

fn aead_key(bytes: &[u8; 32]) -> Result<LessSafeKey, KeyError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| KeyError::Crypto("use the sealing key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "an-example-secret-of-at-least-32-chars";

    #[test]
    fn sealed_keys_open_only_with_their_secret() {
        let sealer = Sealer::new(Some(SECRET));
        let record = sealer.generate(Utc::now()).unwrap();
        let stored = record.private_key.clone().unwrap();
        assert!(stored.starts_with("aes256gcm:"), "{stored}");
        assert_eq!(sealer.open(&record).unwrap().kid, record.kid);
        for other in [
            Sealer::new(None),
            Sealer::new(Some("another-secret-of-at-least-32-chars")),
        ] {
            assert!(matches!(other.open(&record), Err(KeyError::Unreadable(..))));
        }
        // A sealed key copied onto another key's row does not open either.
        let mut moved = sealer.generate(Utc::now()).unwrap();
        moved.private_key = record.private_key.clone();
        assert!(sealer.open(&moved).is_err());
    }

    #[test]
    fn plain_keys_still_open_once_a_secret_is_set() {
        let record = Sealer::new(None).generate(Utc::now()).unwrap();
        assert!(record.private_key.as_deref().unwrap().starts_with("plain:"));
        assert!(Sealer::new(Some(SECRET)).open(&record).is_ok());
    }

    #[test]
    fn the_public_jwk_names_its_key_and_nothing_private() {
        let record = Sealer::new(None).generate(Utc::now()).unwrap();
        let jwk = &record.public_jwk;
        assert_eq!(jwk["kid"], record.kid.as_str());
        assert_eq!(
            (jwk["kty"].as_str(), jwk["crv"].as_str()),
            (Some("EC"), Some("P-256"))
        );
        assert_eq!(jwk["alg"], "ES256");
        assert!(jwk.get("d").is_none(), "{jwk}");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert!(!format!("{record:?}").contains("plain:"));
    }
}
