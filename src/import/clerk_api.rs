//! Pulls an import document straight from Clerk's Backend API (`clerk.md` §1.0, §7):
//! every organization, each org's memberships and pending invitations, and the roles
//! with their permissions, paged with `limit=500` and `offset` until `total_count`.
//! A 429 is waited out for its `Retry-After`. The document is written as it is paged,
//! so the export never holds more than one page of memberships.

use std::io::Write;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

const LIMIT: u32 = 500;
/// How many 429s or 5xx in a row one page may meet before the export gives up.
const MAX_RETRIES: u32 = 8;

pub struct ClerkClient {
    http: reqwest::Client,
    base: url::Url,
    /// Sent as a bearer token; never logged or printed.
    secret_key: String,
}

#[derive(Deserialize)]
struct ListPage {
    data: Vec<Value>,
    total_count: Option<u64>,
}

impl ClerkClient {
    pub fn new(base: &url::Url, secret_key: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            let with_slash = format!("{}/", base.path());
            base.set_path(&with_slash);
        }
        Ok(Self {
            http,
            base,
            secret_key: secret_key.to_owned(),
        })
    }

    async fn page(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<ListPage> {
        let url = self.base.join(path)?;
        let mut attempt = 0;
        loop {
            let response = self
                .http
                .get(url.clone())
                .bearer_auth(&self.secret_key)
                .query(query)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("Clerk request to /{path} failed: {}", kind(&e)))?;
            let status = response.status();
            if status.is_success() {
                return Ok(response.json().await?);
            }
            let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            if !retryable || attempt >= MAX_RETRIES {
                anyhow::bail!("Clerk answered {status} for /{path}");
            }
            attempt += 1;
            let wait =
                retry_after(response.headers()).unwrap_or(Duration::from_secs(1 << attempt.min(5)));
            tracing::info!(status = %status, wait_s = wait.as_secs_f64(), "Clerk asked to wait");
            tokio::time::sleep(wait).await;
        }
    }

    /// Calls `each` with every item of a list endpoint, page by page.
    async fn list(
        &self,
        path: &str,
        extra: &[(&str, String)],
        each: &mut dyn FnMut(Value) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        let mut offset: u64 = 0;
        loop {
            let mut query = vec![("limit", LIMIT.to_string()), ("offset", offset.to_string())];
            query.extend(extra.iter().cloned());
            let page = self.page(path, &query).await?;
            let got = page.data.len() as u64;
            for item in page.data {
                each(item)?;
            }
            offset += got;
            let done = got == 0 || page.total_count.is_none_or(|total| offset >= total);
            if done {
                return Ok(offset);
            }
        }
    }

    /// Writes the whole import document to `out`, reporting progress through `progress`.
    pub async fn export(
        &self,
        mut out: impl Write,
        progress: &dyn Fn(String),
    ) -> anyhow::Result<()> {
        let mut orgs = Vec::new();
        write!(out, "{{\"organizations\":[")?;
        let mut first = true;
        self.list("organizations", &[], &mut |org| {
            if let Some(id) = org.get("id").and_then(Value::as_str) {
                orgs.push(id.to_owned());
            }
            write_item(&mut out, &mut first, &org)
        })
        .await?;
        progress(format!("polis: {} organizations from Clerk", orgs.len()));
        self.per_org(&mut out, &orgs, "memberships", &[], progress)
            .await?;
        let pending = [("status", "pending".to_owned())];
        self.per_org(&mut out, &orgs, "invitations", &pending, progress)
            .await?;
        self.per_org(&mut out, &orgs, "domains", &[], progress)
            .await?;
        write!(out, "],\"roles\":[")?;
        let mut first = true;
        let roles = self
            .list("organization_roles", &[], &mut |role| {
                write_item(&mut out, &mut first, &role)
            })
            .await?;
        write!(out, "]}}")?;
        out.flush()?;
        progress(format!("polis: {roles} roles from Clerk; export complete"));
        Ok(())
    }

    /// Writes `"<section>":[…]` from `organizations/{id}/<section>` of every org.
    async fn per_org(
        &self,
        out: &mut impl Write,
        orgs: &[String],
        section: &str,
        extra: &[(&str, String)],
        progress: &dyn Fn(String),
    ) -> anyhow::Result<()> {
        write!(out, "],\"{section}\":[")?;
        let mut first = true;
        let mut total = 0;
        for (i, org) in orgs.iter().enumerate() {
            let path = format!("organizations/{org}/{section}");
            total += self
                .list(&path, extra, &mut |item| {
                    let item = with_org_id(item, org);
                    write_item(&mut *out, &mut first, &item)
                })
                .await?;
            if (i + 1) % 100 == 0 || i + 1 == orgs.len() {
                progress(format!(
                    "polis: {section}: {}/{} orgs, {total} items",
                    i + 1,
                    orgs.len()
                ));
            }
        }
        Ok(())
    }
}

/// Invitations listed per org may omit `organization_id`; the import needs it.
fn with_org_id(mut item: Value, org: &str) -> Value {
    if let Value::Object(map) = &mut item {
        let has_org = map.get("organization_id").is_some_and(|v| !v.is_null())
            || map.get("organization").is_some_and(Value::is_object);
        if !has_org {
            map.insert("organization_id".into(), Value::String(org.to_owned()));
        }
    }
    item
}

fn write_item(out: &mut impl Write, first: &mut bool, item: &Value) -> anyhow::Result<()> {
    if !*first {
        out.write_all(b",")?;
    }
    *first = false;
    serde_json::to_writer(&mut *out, item)?;
    Ok(())
}

/// `Retry-After` in seconds (Clerk's form), capped so a wrong header cannot stall the run.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: f64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(seconds.clamp(0.0, 300.0)))
}

/// A transport failure, described without the request (which carries the key).
fn kind(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}
