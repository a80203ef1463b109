//! Maps Clerk user ids to Kratos identities, in the order of issue 5: the document's
//! `user_map`; then `metadata_admin.legacy_clerk_id`, indexed once by paging Kratos
//! `GET /admin/identities` (500 a page, following the `Link` header); then the
//! membership's e-mail through `credentials_identifier`, one cached lookup per address.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Mutex, OnceCell};
use uuid::Uuid;

use super::report::MappedBy;
use crate::auth::kratos::{KratosClient, KratosUnavailable};
use crate::config::Settings;

/// Listing identities 500 at a time needs longer than one whoami call.
const MIN_IMPORT_TIMEOUT: Duration = Duration::from_secs(30);

/// The Kratos client an import uses: the configured one, with calls allowed to take at
/// least [`MIN_IMPORT_TIMEOUT`].
pub fn kratos_client(settings: &Settings) -> anyhow::Result<KratosClient> {
    KratosClient::new(settings, settings.kratos_timeout().max(MIN_IMPORT_TIMEOUT))
}

/// Every identity's `metadata_admin.legacy_clerk_id`, paging through all identities.
async fn legacy_index(kratos: &KratosClient) -> Result<HashMap<String, Uuid>, KratosUnavailable> {
    let mut index = HashMap::new();
    kratos
        .for_each_identity(|identity| {
            let legacy = identity
                .metadata_admin
                .as_ref()
                .and_then(|m| m.get("legacy_clerk_id"))
                .and_then(Value::as_str);
            if let Some(legacy) = legacy {
                index.insert(legacy.to_owned(), identity.id);
            }
        })
        .await?;
    Ok(index)
}

/// The one identity with this login identifier, if exactly one has it.
async fn single_by_identifier(
    kratos: &KratosClient,
    identifier: &str,
) -> Result<Option<Uuid>, KratosUnavailable> {
    let identities = kratos.identities_by_identifier(identifier).await?;
    Ok(match identities.as_slice() {
        [one] => Some(one.id),
        _ => None,
    })
}

/// Resolves Clerk users for one import run, remembering every answer.
pub struct Resolver {
    user_map: HashMap<String, Uuid>,
    kratos: KratosClient,
    legacy: OnceCell<HashMap<String, Uuid>>,
    by_identifier: Mutex<HashMap<String, Option<Uuid>>>,
}

impl Resolver {
    pub fn new(user_map: HashMap<String, Uuid>, kratos: KratosClient) -> Self {
        Self {
            user_map,
            kratos,
            legacy: OnceCell::new(),
            by_identifier: Mutex::new(HashMap::new()),
        }
    }

    /// Builds the legacy-id index now (once per run), so that a Kratos outage fails the
    /// run before anything is written.
    pub async fn prepare(&self) -> Result<(), KratosUnavailable> {
        self.legacy
            .get_or_try_init(|| legacy_index(&self.kratos))
            .await
            .map(|_| ())
    }

    pub async fn resolve(
        &self,
        user_id: &str,
        identifier: Option<&str>,
    ) -> Result<Option<(Uuid, MappedBy)>, KratosUnavailable> {
        if let Some(id) = self.user_map.get(user_id) {
            return Ok(Some((*id, MappedBy::UserMap)));
        }
        let legacy = self
            .legacy
            .get_or_try_init(|| legacy_index(&self.kratos))
            .await?;
        if let Some(id) = legacy.get(user_id) {
            return Ok(Some((*id, MappedBy::LegacyClerkId)));
        }
        let Some(identifier) = identifier.map(|i| i.trim().to_lowercase()) else {
            return Ok(None);
        };
        if identifier.is_empty() {
            return Ok(None);
        }
        if let Some(known) = self.by_identifier.lock().await.get(&identifier) {
            return Ok(known.map(|id| (id, MappedBy::Email)));
        }
        let found = single_by_identifier(&self.kratos, &identifier).await?;
        self.by_identifier.lock().await.insert(identifier, found);
        Ok(found.map(|id| (id, MappedBy::Email)))
    }
}
