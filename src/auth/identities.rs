//! Member profiles: summaries of Kratos identities for member lists, fetched from the
//! admin API in batches and cached briefly. An identity Kratos no longer has is `None`
//! (shown as `identity: null`), never an error for the whole list.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::kratos::{KratosClient, KratosIdentity, KratosUnavailable};
use crate::store::IdentityProfile;

/// How long a profile is reused before Kratos is asked again.
const PROFILE_TTL: Duration = Duration::from_secs(60);

pub struct IdentityDirectory {
    kratos: KratosClient,
    cache: Cache<Uuid, Option<Arc<KratosIdentity>>>,
    public_traits: Vec<String>,
}

/// Profiles for a set of identities, and the ones Kratos was just asked about (worth
/// saving as search snapshots).
pub struct Lookup {
    pub identities: HashMap<Uuid, Option<Arc<KratosIdentity>>>,
    pub fetched: Vec<Arc<KratosIdentity>>,
}

impl IdentityDirectory {
    pub fn new(kratos: KratosClient, public_traits: Vec<String>, capacity: u64) -> Self {
        Self {
            kratos,
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(PROFILE_TTL)
                .build(),
            public_traits,
        }
    }

    /// Looks identities up, from the cache where possible and otherwise with one
    /// Kratos call per 500 ids.
    pub async fn lookup(&self, ids: &[Uuid]) -> Result<Lookup, KratosUnavailable> {
        let mut identities = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.cache.get(id).await {
                Some(cached) => {
                    identities.insert(*id, cached);
                }
                None => missing.push(*id),
            }
        }
        let mut fetched = Vec::new();
        if !missing.is_empty() {
            let found: HashMap<Uuid, Arc<KratosIdentity>> = self
                .kratos
                .identities(&missing)
                .await?
                .into_iter()
                .map(|identity| (identity.id, Arc::new(identity)))
                .collect();
            for id in missing {
                let identity = found.get(&id).cloned();
                self.cache.insert(id, identity.clone()).await;
                fetched.extend(identity.clone());
                identities.insert(id, identity);
            }
        }
        Ok(Lookup {
            identities,
            fetched,
        })
    }

    /// An identity Polis read from Kratos less than a minute ago (its search snapshot
    /// saved then): a positive answer only, since a new identity must not wait out a
    /// cached "no such identity".
    pub async fn known(&self, id: Uuid) -> Option<Arc<KratosIdentity>> {
        self.cache.get(&id).await.flatten()
    }

    /// Caches an identity Polis has just read from Kratos.
    pub async fn remember(&self, identity: KratosIdentity) {
        self.cache
            .insert(identity.id, Some(Arc::new(identity)))
            .await;
    }

    /// The search snapshot of an identity, made of the traits member lists show.
    pub fn profile(&self, identity: &KratosIdentity) -> IdentityProfile {
        profile_of(identity, &self.public_traits)
    }

    /// The traits today's search snapshots are made of (see [`search_fields`]).
    pub fn search_fields(&self) -> String {
        search_fields(&self.public_traits)
    }

    /// The configured public traits of an identity.
    pub fn public_traits(&self, identity: &KratosIdentity) -> Map<String, Value> {
        self.public_traits
            .iter()
            .filter_map(|name| {
                let value = identity.traits.get(name)?;
                (!value.is_null()).then(|| (name.clone(), value.clone()))
            })
            .collect()
    }
}

/// The traits member search may match, when the deployment shows them.
const SEARCHABLE_TRAITS: [&str; 5] = ["email", "first_name", "last_name", "name", "username"];

/// Which searchable traits `visible` shows, comma-joined: what a profile's search text is
/// made of, stored with it so that search ignores snapshots made under other settings.
pub fn search_fields(visible: &[String]) -> String {
    SEARCHABLE_TRAITS
        .iter()
        .filter(|key| visible.iter().any(|v| v == *key))
        .copied()
        .collect::<Vec<_>>()
        .join(",")
}

/// What Polis keeps of an identity to search members by e-mail or name: only the
/// traits in `visible` (those member lists show), so search reveals nothing hidden.
pub fn profile_of(identity: &KratosIdentity, visible: &[String]) -> IdentityProfile {
    let traits = &identity.traits;
    let email = traits
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    let fields = search_fields(visible);
    let mut words: Vec<String> = Vec::new();
    for key in fields.split(',') {
        match traits.get(key) {
            Some(Value::String(s)) => words.push(s.to_lowercase()),
            // Kratos's preset schemas use {"name": {"first": …, "last": …}}.
            Some(Value::Object(parts)) => words.extend(
                parts
                    .values()
                    .filter_map(Value::as_str)
                    .map(str::to_lowercase),
            ),
            _ => {}
        }
    }
    IdentityProfile {
        identity_id: identity.id,
        email,
        search_text: words.join(" "),
        search_fields: fields,
        traits: traits.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn profiles_are_searchable_by_email_and_names() {
        let identity = KratosIdentity {
            id: Uuid::nil(),
            traits: json!({"email": "Alice@Example.com", "name": {"first": "Alice", "last": "Ng"}, "phone": "1"}),
        };
        let shown: Vec<String> = ["email", "name", "phone"].map(String::from).to_vec();
        let profile = profile_of(&identity, &shown);
        assert_eq!(profile.email.as_deref(), Some("alice@example.com"));
        assert_eq!(profile.search_text, "alice@example.com alice ng");
    }

    #[test]
    fn hidden_traits_are_not_searchable() {
        let identity = KratosIdentity {
            id: Uuid::nil(),
            traits: json!({"email": "alice@example.com", "first_name": "Alice", "last_name": "Ng"}),
        };
        let shown: Vec<String> = ["first_name", "last_name"].map(String::from).to_vec();
        let profile = profile_of(&identity, &shown);
        assert_eq!(profile.search_text, "alice ng");
        assert_eq!(profile.search_fields, "first_name,last_name");
    }
}
