//! Settings of webhook delivery, kept apart from the core settings.

use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct WebhookSettings {
    /// The `instance_id` of every webhook envelope, naming this Polis installation to its
    /// receivers (Clerk sends its instance's `ins_…` id there; keep it to let receivers
    /// written for Clerk tell environments apart). 1–128 letters, digits, `_` or `-`.
    #[arg(
        long,
        env = "POLIS_INSTANCE_ID",
        default_value = "polis",
        value_parser = parse_instance_id,
        global = true
    )]
    pub instance_id: String,
    /// Let webhook endpoints be `http://` URLs and point at loopback, private,
    /// link-local or metadata addresses: for tests and local development only.
    #[arg(
        long = "webhooks-allow-private-urls",
        env = "POLIS_WEBHOOKS_ALLOW_PRIVATE_URLS",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub allow_private_urls: bool,
    /// Milliseconds the delivery worker waits before looking for due deliveries again
    /// when it found none (10–60000).
    #[arg(
        long = "webhook-poll-interval-ms",
        env = "POLIS_WEBHOOK_POLL_INTERVAL_MS",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(10..=60_000),
        global = true
    )]
    pub poll_interval_ms: u64,
    /// Milliseconds a worker holds the deliveries it claimed (1000–3600000): a process
    /// that dies mid-delivery has its deliveries sent by another after this. A delivery
    /// waits at most half of it (and at most 15 s) for the endpoint's answer, so a
    /// lease never runs out while its delivery is still being sent.
    #[arg(
        long = "webhook-lease-ms",
        env = "POLIS_WEBHOOK_LEASE_MS",
        default_value_t = 60_000,
        value_parser = clap::value_parser!(u64).range(1000..=3_600_000),
        global = true
    )]
    pub lease_ms: u64,
}

impl WebhookSettings {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// How long one delivery waits for an answer: 15 s, or half a shorter lease.
    pub fn delivery_timeout(&self) -> Duration {
        (self.lease() / 2).min(Duration::from_secs(15))
    }
}

fn parse_instance_id(raw: &str) -> Result<String, String> {
    let valid = (1..=128).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("must be 1–128 letters, digits, _ or -".into())
    }
}
