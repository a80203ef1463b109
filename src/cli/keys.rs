//! `polis keys rotate|list`: the keys that sign org-claims tokens.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::auth::signing_keys::KeyRing;
use crate::clock::{Clock, SystemClock};
use crate::config::{KeysCommand, Settings};
use crate::store::Rotation;

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub async fn run(settings: &Settings, command: KeysCommand) -> anyhow::Result<()> {
    let store = super::open_store(settings).await?;
    let claims = &settings.claims;
    match command {
        KeysCommand::Rotate { immediately } => {
            let ring = KeyRing::new(
                store,
                claims.signing_key_secret.as_deref(),
                claims.token_ttl(),
            );
            match ring.rotate(SystemClock.now(), immediately).await? {
                (key, Rotation::Rotated { activates_at }) => {
                    eprintln!(
                        "Key {} is published and signs from {} on; the previous key stays \
                         published until the tokens it signed have expired.",
                        key.kid,
                        time(activates_at)
                    );
                    println!("{}", key.kid);
                }
                (_, Rotation::Pending { activates_at }) => anyhow::bail!(
                    "a rotation is under way: its key signs from {}; rotate again after that, \
                     or with --immediately",
                    time(activates_at)
                ),
            }
        }
        KeysCommand::List => {
            println!(
                "{:<43}  {:<25}  {:<25}  RETIRED",
                "KID", "CREATED", "SIGNS FROM"
            );
            for key in store.list_signing_keys().await? {
                println!(
                    "{:<43}  {:<25}  {:<25}  {}",
                    key.kid,
                    time(key.created_at),
                    time(key.activates_at),
                    key.retired_at.map(time).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
