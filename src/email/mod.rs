//! E-mail delivery: a worker inside `polis serve` takes due e-mails from the queue the
//! use cases fill (`store::emails`), renders them with the templates and sends them
//! over SMTP, off the request path.
//!
//! - Several replicas share the queue: a worker claims rows with a lease, and records
//!   the outcome in one statement that checks it still holds the lease, so under normal
//!   operation a queued row is sent once.
//! - A failed send is retried with exponential backoff (30 s doubling to 1 h) for 24 h
//!   (`domain::email::next_attempt`), then the row is marked `failed` and logged.
//!   Nothing is lost when the SMTP server or Polis is down: rows wait in the database.
//! - At least once, not exactly once: if the process dies (or the database becomes
//!   unreachable) after the SMTP server accepted a message and before the outcome is
//!   recorded, the row's lease runs out and the message is sent again. Both copies carry
//!   the same `Message-ID` (`<row id@sender domain>`), so mail systems may drop the
//!   repeat.
//! - Secrets (the acceptance link, the code) are never logged and are cleared from the
//!   row once it is sent or failed.

pub mod smtp;
pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use prometheus_client::metrics::gauge::Gauge;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::EmailSettings;
use crate::domain::email::next_attempt;
use crate::lifecycle::Lifecycle;
use crate::metrics::{Counters, Metrics, OutcomeLabels};
use crate::store::{ClaimedEmail, EmailOutcome, Store};
pub use smtp::{SendError, Smtp};
pub use templates::{Rendered, Templates};

/// E-mails claimed per round (sent side by side).
const BATCH: u32 = 8;
/// How long sent, failed and withdrawn rows are kept, and how often they are purged.
const KEEP_SETTLED: TimeDelta = TimeDelta::days(30);
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// What the sender works with, handed over by `serve`.
pub struct WorkerParts<'a> {
    pub settings: &'a EmailSettings,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub templates: Arc<Templates>,
    pub metrics: &'a Metrics,
    pub lifecycle: &'a Lifecycle,
}

/// Starts the sender when SMTP is configured; it stops after its current round once
/// shutdown begins.
pub fn spawn_worker(parts: WorkerParts<'_>) -> anyhow::Result<()> {
    let settings = parts.settings;
    let Some(url) = &settings.smtp_url else {
        return Ok(());
    };
    let from = settings
        .email_from
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("POLIS_SMTP_URL needs POLIS_EMAIL_FROM"))?;
    let worker = Worker {
        id: Uuid::now_v7(),
        store: parts.store,
        clock: parts.clock,
        smtp: Smtp::new(url, from, settings.send_timeout())?,
        templates: parts.templates,
        lease: TimeDelta::from_std(settings.lease())?,
        poll_interval: settings.poll_interval(),
        sent: parts.metrics.counter(
            "polis_emails",
            "E-mail send attempts, by outcome (sent, retrying, failed)",
        ),
        lag: parts.metrics.gauge(
            "polis_email_outbox_lag_seconds",
            "How long the oldest due e-mail has waited",
        ),
    };
    parts
        .lifecycle
        .spawn_worker("email", move |token| worker.run(token));
    Ok(())
}

struct Worker {
    /// Names this worker's leases.
    id: Uuid,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    smtp: Smtp,
    templates: Arc<Templates>,
    poll_interval: Duration,
    lease: TimeDelta,
    sent: Counters<OutcomeLabels>,
    lag: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Worker {
    async fn run(self, stop: CancellationToken) {
        let mut next_purge = std::time::Instant::now();
        while !stop.is_cancelled() {
            if std::time::Instant::now() >= next_purge {
                self.purge().await;
                next_purge += PURGE_EVERY;
            }
            let busy = match self.round().await {
                Ok(claimed) => claimed > 0,
                Err(err) => {
                    tracing::warn!(error = %err, "e-mail round failed");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(self.poll_interval) => {}
                }
            }
        }
    }

    /// Deletes the rows settled more than [`KEEP_SETTLED`] ago (they hold no secret,
    /// only who was mailed what, for support questions).
    async fn purge(&self) {
        let before = self.clock.now() - KEEP_SETTLED;
        match self.store.purge_emails(before).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged settled e-mails"),
            Err(err) => tracing::warn!(error = %err, "could not purge settled e-mails"),
        }
    }

    /// Claims the due e-mails and sends them side by side; returns how many.
    async fn round(&self) -> crate::store::StoreResult<usize> {
        let now = self.clock.now();
        let oldest = self.store.email_outbox_lag(now).await?;
        self.lag
            .set(oldest.map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0)));
        if oldest.is_none() {
            // Nothing due: no claim, so an idle worker never takes SQLite's write lock.
            return Ok(0);
        }
        let claimed = self
            .store
            .claim_emails(self.id, now, now + self.lease, BATCH)
            .await?;
        let count = claimed.len();
        futures_util::future::join_all(claimed.iter().map(|email| self.send(email))).await;
        Ok(count)
    }

    async fn send(&self, claimed: &ClaimedEmail) {
        let email = &claimed.email;
        let result = match self
            .templates
            .render(&email.message, &email.to, email.locale.as_deref())
        {
            Ok(rendered) => self.smtp.send(claimed.id, &email.to, &rendered).await,
            Err(err) => Err(SendError::Permanent(format!("{err:#}"))),
        };
        let now = self.clock.now();
        let attempt = u32::try_from(claimed.attempts).unwrap_or(0) + 1;
        let outcome = decide(result, attempt, claimed, now);
        let label = match &outcome {
            EmailOutcome::Sent => "sent",
            EmailOutcome::RetryAt(..) => "retrying",
            EmailOutcome::Failed(_) => "failed",
        };
        self.sent
            .get_or_create(&OutcomeLabels { outcome: label })
            .inc();
        log(claimed, attempt, &outcome);
        match self
            .store
            .record_email_outcome(self.id, claimed, outcome, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(email = %claimed.id, "e-mail lease lost before its outcome was recorded")
            }
            // The lease runs out and the e-mail is sent again: at least once.
            Err(err) => {
                tracing::warn!(email = %claimed.id, error = %err, "recording an e-mail outcome failed")
            }
        }
    }
}

/// What follows attempt number `attempt`: sent, retried on the schedule, or failed.
pub fn decide(
    result: Result<(), SendError>,
    attempt: u32,
    claimed: &ClaimedEmail,
    now: chrono::DateTime<chrono::Utc>,
) -> EmailOutcome {
    match result {
        Ok(()) => EmailOutcome::Sent,
        Err(SendError::Permanent(error)) => EmailOutcome::Failed(error),
        Err(SendError::Transient(error)) => match next_attempt(attempt, claimed.created_at, now) {
            Some(at) => EmailOutcome::RetryAt(at, error),
            None => EmailOutcome::Failed(format!("gave up after {attempt} attempts: {error}")),
        },
    }
}

/// Logs an attempt by the row's id and template, never its link or code.
fn log(claimed: &ClaimedEmail, attempt: u32, outcome: &EmailOutcome) {
    let (id, template) = (claimed.id, claimed.email.message.template());
    match outcome {
        EmailOutcome::Sent => tracing::info!(email = %id, template, attempt, "e-mail sent"),
        EmailOutcome::RetryAt(at, error) => log_retry(claimed, attempt, *at, error),
        EmailOutcome::Failed(error) => {
            tracing::error!(email = %id, template, attempt, error, "e-mail failed; not retried");
        }
    }
}

fn log_retry(claimed: &ClaimedEmail, attempt: u32, at: chrono::DateTime<chrono::Utc>, error: &str) {
    let (id, template) = (claimed.id, claimed.email.message.template());
    tracing::warn!(email = %id, template, attempt, error, retry_at = %at, "e-mail not sent; will retry");
}
