//! Maps Clerk user ids to Kratos identities, in the order of issue 5: the document's
//! `user_map`; then `metadata_admin.legacy_clerk_id`, indexed once by paging Kratos
//! `GET /admin/identities` (500 a page, following the `Link` header); then the
//! membership's e-mail through `credentials_identifier`, one cached lookup per address.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, OnceCell};
use uuid::Uuid;

use super::report::MappedBy;
use crate::auth::kratos::KratosUnavailable;

const PAGE_SIZE: u32 = 500;

/// The small slice of the Kratos admin API the import needs.
pub struct KratosIdentities {
    http: reqwest::Client,
    list_url: url::Url,
}

#[derive(Deserialize)]
struct IdentityBody {
    id: Uuid,
    #[serde(default)]
    metadata_admin: Option<Value>,
}

impl KratosIdentities {
    pub fn new(admin_url: &url::Url, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut base = admin_url.clone();
        if !base.path().ends_with('/') {
            let with_slash = format!("{}/", base.path());
            base.set_path(&with_slash);
        }
        Ok(Self {
            http,
            list_url: base.join("admin/identities")?,
        })
    }

    async fn page(
        &self,
        query: &[(&str, &str)],
    ) -> Result<(Vec<IdentityBody>, Option<String>), KratosUnavailable> {
        let response = self
            .http
            .get(self.list_url.clone())
            .query(query)
            .send()
            .await
            .map_err(|e| KratosUnavailable(describe(&e)))?;
        if response.status() != StatusCode::OK {
            return Err(KratosUnavailable(format!(
                "listing identities answered {}",
                response.status()
            )));
        }
        let next = response
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_page_token);
        let body = response
            .json()
            .await
            .map_err(|e| KratosUnavailable(describe(&e)))?;
        Ok((body, next))
    }

    /// Every identity's `metadata_admin.legacy_clerk_id`, paging through all identities.
    pub async fn legacy_index(&self) -> Result<HashMap<String, Uuid>, KratosUnavailable> {
        let mut index = HashMap::new();
        let size = PAGE_SIZE.to_string();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("page_size", size.as_str())];
            if let Some(t) = &token {
                query.push(("page_token", t.as_str()));
            }
            let (identities, next) = self.page(&query).await?;
            for identity in identities {
                let legacy = identity
                    .metadata_admin
                    .as_ref()
                    .and_then(|m| m.get("legacy_clerk_id"))
                    .and_then(Value::as_str);
                if let Some(legacy) = legacy {
                    index.insert(legacy.to_owned(), identity.id);
                }
            }
            match next {
                // A page token that does not move would loop forever.
                Some(next) if Some(&next) != token.as_ref() => token = Some(next),
                _ => return Ok(index),
            }
        }
    }

    /// The one identity with this login identifier, if exactly one has it.
    pub async fn by_identifier(&self, identifier: &str) -> Result<Option<Uuid>, KratosUnavailable> {
        let (identities, _) = self.page(&[("credentials_identifier", identifier)]).await?;
        Ok(match identities.as_slice() {
            [one] => Some(one.id),
            _ => None,
        })
    }
}

/// The `page_token` of the `rel="next"` entry of a Kratos `Link` header. Only the token is
/// taken: the link is relative to Kratos's root, which may not be where Polis reaches it.
fn next_page_token(link: &str) -> Option<String> {
    link.split(',').find_map(|entry| {
        let (target, params) = entry.split_once(';')?;
        if !params.contains("rel=\"next\"") {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let url = url::Url::parse("http://kratos").ok()?.join(target).ok()?;
        let token = url
            .query_pairs()
            .find(|(k, _)| k == "page_token")
            .map(|(_, v)| v.into_owned());
        token
    })
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "Kratos timed out".into()
    } else if err.is_connect() {
        "could not connect to Kratos".into()
    } else if err.is_decode() {
        "unreadable answer from Kratos".into()
    } else {
        "Kratos request failed".into()
    }
}

/// Resolves Clerk users for one import run, remembering every answer.
pub struct Resolver {
    user_map: HashMap<String, Uuid>,
    kratos: KratosIdentities,
    legacy: OnceCell<HashMap<String, Uuid>>,
    by_identifier: Mutex<HashMap<String, Option<Uuid>>>,
}

impl Resolver {
    pub fn new(user_map: HashMap<String, Uuid>, kratos: KratosIdentities) -> Self {
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
            .get_or_try_init(|| self.kratos.legacy_index())
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
            .get_or_try_init(|| self.kratos.legacy_index())
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
        let found = self.kratos.by_identifier(&identifier).await?;
        self.by_identifier.lock().await.insert(identifier, found);
        Ok(found.map(|id| (id, MappedBy::Email)))
    }
}

#[cfg(test)]
mod tests {
    use super::next_page_token;

    #[test]
    fn reads_the_next_token() {
        let link = "</admin/identities?page_size=500&page_token=00000000-0000-0000-0000-000000000000>; rel=\"first\",</admin/identities?page_size=500&page_token=6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11>; rel=\"next\"";
        assert_eq!(
            next_page_token(link).as_deref(),
            Some("6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11")
        );
        assert_eq!(next_page_token("</a?page_token=x>; rel=\"first\""), None);
    }
}
