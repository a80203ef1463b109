//! Polis API keys: `polis_<key id>_<secret>`. The id finds the row; only SHA-256 of
//! the secret is stored and it is compared in constant time. The secret has 256 bits
//! of entropy, so a fast hash is enough.

use uuid::Uuid;

use super::tokens::{random_token, sha256_hex};

pub const PREFIX: &str = "polis_";

/// A freshly minted key: `plaintext` is shown once, `secret_hash` is stored.
pub struct NewApiKey {
    pub id: Uuid,
    pub plaintext: String,
    pub secret_hash: String,
}

pub fn generate() -> NewApiKey {
    let id = Uuid::new_v4();
    let secret = random_token();
    NewApiKey {
        id,
        plaintext: format!("{PREFIX}{}_{secret}", id.simple()),
        secret_hash: sha256_hex(&secret),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tokens::matches_hash;

    #[test]
    fn generated_keys_parse_and_verify() {
        let key = generate();
        let (id, secret) = parse(&key.plaintext).expect("parses");
        assert_eq!(id, key.id);
        assert!(matches_hash(secret, &key.secret_hash));
        assert!(!matches_hash("wrong", &key.secret_hash));
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
