//! Polis API keys: `polis_<key id>_<secret>`. The id finds the row; only SHA-256 of
//! the secret is stored and it is compared in constant time. The secret has 256 bits
//! of entropy, so a fast hash is enough.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

pub const PREFIX: &str = "polis_";

/// A freshly minted key: `plaintext` is shown once, `secret_hash` is stored.
pub struct NewApiKey {
    pub id: Uuid,
    pub plaintext: String,
    pub secret_hash: String,
}

pub fn generate() -> NewApiKey {
    let id = Uuid::new_v4();
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    NewApiKey {
        id,
        plaintext: format!("{PREFIX}{}_{secret}", id.simple()),
        secret_hash: hash_secret(&secret),
    }
}

/// Splits a presented key into its id and secret; `None` when it is not shaped like one.
pub fn parse(presented: &str) -> Option<(Uuid, &str)> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if secret.is_empty() {
        return None;
    }
    Some((Uuid::try_parse(id).ok()?, secret))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_secret(secret);
    presented.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_verify() {
        let key = generate();
        let (id, secret) = parse(&key.plaintext).expect("parses");
        assert_eq!(id, key.id);
        assert!(secret_matches(secret, &key.secret_hash));
        assert!(!secret_matches("wrong", &key.secret_hash));
        assert!(!key.secret_hash.contains(secret));
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        assert!(parse("polis_").is_none());
        assert!(parse("polis_nothex_abc").is_none());
        assert!(parse(&format!("polis_{}_", Uuid::nil().simple())).is_none());
        assert!(parse("sessiontoken").is_none());
    }
}
