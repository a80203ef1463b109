//! Sends one delivery: the Clerk-shaped envelope, signed per Standard Webhooks, over a
//! client that follows no redirects, gives up after 15 s (or half a shorter lease,
//! `POLIS_WEBHOOK_LEASE_MS`), keeps at most 4 KiB of the
//! answer and — unless private URLs are allowed — connects only to public addresses,
//! checked after DNS resolution so a name cannot be rebound to an internal host.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use serde_json::{json, Value};

use crate::config::WebhookSettings;
use crate::domain::webhook::{check_url, is_public};
use crate::domain::webhook_signing::signature_header;
use crate::store::ClaimedDelivery;

/// How much of an answer's body is kept for the delivery log.
pub const KEPT_BODY_BYTES: usize = 4096;

/// What an endpoint answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

pub struct Sender {
    client: reqwest::Client,
    /// Success is a 2xx within this time (15 s unless the lease is shorter).
    timeout: Duration,
    allow_private: bool,
    instance_id: String,
}

impl Sender {
    pub fn new(settings: &WebhookSettings) -> reqwest::Result<Sender> {
        let allow_private = settings.allow_private_urls;
        let timeout = settings.delivery_timeout();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("Polis-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicAddressesOnly));
        }
        Ok(Sender {
            client: builder.build()?,
            timeout,
            allow_private,
            instance_id: settings.instance_id.clone(),
        })
    }

    /// Sends `delivery` signed at `now`; `Err` says why no answer came.
    pub async fn send(
        &self,
        delivery: &ClaimedDelivery,
        now: DateTime<Utc>,
    ) -> Result<Answer, String> {
        // Checked again: the URL may predate a stricter setting, and an address
        // literal never reaches the resolver.
        let url = check_url(&delivery.endpoint.url, self.allow_private)
            .map_err(|message| format!("refused URL: {message}"))?;
        let body = serde_json::to_vec(&envelope(delivery, &self.instance_id))
            .map_err(|e| e.to_string())?;
        let headers = signed_headers(delivery, now, &body)?;
        let response = self
            .client
            .post(url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|err| describe(err, self.timeout))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let body = capped_body(response).await;
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }
}

/// The message id receivers deduplicate on: the event's id, the same on every retry.
pub fn message_id(delivery: &ClaimedDelivery) -> String {
    format!("msg_{}", delivery.event_id)
}

/// The body, as Clerk sends it.
pub fn envelope(delivery: &ClaimedDelivery, instance_id: &str) -> Value {
    let mut envelope = json!({
        "object": "event",
        "type": delivery.event_type,
        "timestamp": delivery.occurred_at.timestamp_millis(),
        "instance_id": instance_id,
        "data": delivery.data,
    });
    if delivery.client_ip.is_some() || delivery.user_agent.is_some() {
        envelope["event_attributes"] = json!({
            "http_request": {
                "client_ip": delivery.client_ip.as_deref().unwrap_or_default(),
                "user_agent": delivery.user_agent.as_deref().unwrap_or_default(),
            }
        });
    }
    envelope
}

/// The Standard Webhooks headers, and the same under Svix's names (`svix-…`), which
/// receivers written for Clerk verify.
fn signed_headers(
    delivery: &ClaimedDelivery,
    now: DateTime<Utc>,
    body: &[u8],
) -> Result<HeaderMap, String> {
    let id = message_id(delivery);
    let timestamp = now.timestamp();
    let secrets = delivery.endpoint.signing_secrets(now);
    let signature = signature_header(&secrets, &id, timestamp, body);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for prefix in ["webhook", "svix"] {
        for (name, value) in [
            ("id", id.clone()),
            ("timestamp", timestamp.to_string()),
            ("signature", signature.clone()),
        ] {
            let name = reqwest::header::HeaderName::try_from(format!("{prefix}-{name}"))
                .map_err(|e| e.to_string())?;
            headers.insert(
                name,
                HeaderValue::try_from(value).map_err(|e| e.to_string())?,
            );
        }
    }
    Ok(headers)
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Why no answer came, with its causes, without the URL (its query may hold a
/// receiver's token).
fn describe(err: reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Reads at most [`KEPT_BODY_BYTES`] of the answer, then drops the rest unread.
async fn capped_body(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < KEPT_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    kept.truncate(KEPT_BODY_BYTES);
    String::from_utf8_lossy(&kept).into_owned()
}

/// Resolves names as the system does, then keeps only public addresses: a name that
/// resolves to loopback, private, link-local or metadata addresses is not called.
struct PublicAddressesOnly;

impl Resolve for PublicAddressesOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address (POLIS_WEBHOOKS_ALLOW_PRIVATE_URLS is off)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_not_called() {
        let refused = PublicAddressesOnly
            .resolve(Name::from_str("localhost").unwrap())
            .await;
        let err = refused.err().expect("localhost resolved").to_string();
        assert!(err.contains("no public address"), "{err}");
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        let later = SystemTime::now() + Duration::from_secs(600);
        let date = httpdate::fmt_http_date(later);
        let parsed = parse_retry_after(&date).unwrap();
        assert!(parsed > Duration::from_secs(590) && parsed <= Duration::from_secs(600));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
