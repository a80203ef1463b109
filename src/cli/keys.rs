//! `polis keys rotate|list`: the keys that sign org-claims tokens.

use crate::auth::signing_keys::KeyRing;
use crate::clock::{Clock, SystemClock};
use crate::config::{KeysCommand, Settings};

pub async fn run(settings: &Settings, command: KeysCommand) -> anyhow::Result<()> {
    let store = super::open_store(settings).await?;
    let claims = &settings.claims;
    match command {
        KeysCommand::Rotate => {
            let ring = KeyRing::new(
                store,
                claims.signing_key_secret.as_deref(),
                claims.token_ttl(),
            );
            let kid = ring.rotate(SystemClock.now()).await?;
            eprintln!(
                "Key {kid} signs from now on (every replica within a few seconds); the previous \
                 key stays in the JWKS until the tokens it signed have expired."
            );
            println!("{kid}");
        }
        KeysCommand::List => {
            println!("{:<43}  {:<8}  {:<25}  RETIRED", "KID", "STATUS", "CREATED");
            for key in store.list_signing_keys().await? {
                let time = |t: chrono::DateTime<chrono::Utc>| {
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                };
                let status = if key.retired_at.is_none() {
                    "current"
                } else {
                    "retired"
                };
                println!(
                    "{:<43}  {:<8}  {:<25}  {}",
                    key.kid,
                    status,
                    time(key.created_at),
                    key.retired_at.map(time).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
