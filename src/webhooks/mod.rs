//! Webhook delivery: a worker inside `polis serve` takes due deliveries from the
//! outbox (with a lease, so replicas share it and a crashed one's work is picked up
//! when the lease runs out), sends each signed, and records the attempt with what
//! follows. At least once: a delivery is settled only after its answer is recorded.

pub mod sender;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use prometheus_client::metrics::gauge::Gauge;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::Clock;
use crate::domain::webhook::next_retry_delay;
use crate::metrics::{Counters, OutcomeLabels};
use crate::state::AppState;
use crate::store::{AttemptOutcome, AttemptRecord, ClaimedDelivery, Store};
use sender::{Answer, Sender};

/// Deliveries claimed (and sent at once) per round.
const BATCH: u32 = 16;

/// Starts the delivery worker; it stops after its current round once shutdown begins.
pub fn spawn_worker(state: &AppState) -> anyhow::Result<()> {
    let settings = &state.settings.webhooks;
    let worker = Worker {
        id: Uuid::now_v7(),
        store: state.store.clone(),
        clock: state.clock.clone(),
        sender: Sender::new(settings)?,
        // At least twice the time a delivery may take, so only a worker that died
        // loses its deliveries.
        lease: TimeDelta::from_std(settings.lease())?,
        poll_interval: settings.poll_interval(),
        deliveries: state.metrics.counter(
            "polis_webhook_deliveries",
            "Webhook delivery attempts, by outcome (succeeded, retrying, given_up, gone)",
        ),
        lag: state.metrics.gauge(
            "polis_webhook_outbox_lag_seconds",
            "How long the oldest due webhook delivery has waited",
        ),
    };
    state
        .lifecycle
        .spawn_worker("webhooks", move |token| worker.run(token));
    Ok(())
}

struct Worker {
    /// Names this worker's leases.
    id: Uuid,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    sender: Sender,
    poll_interval: Duration,
    lease: TimeDelta,
    deliveries: Counters<OutcomeLabels>,
    lag: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Worker {
    async fn run(self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let busy = match self.round().await {
                Ok(claimed) => claimed > 0,
                Err(err) => {
                    tracing::warn!(error = %err, "webhook delivery round failed");
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

    /// Claims the due deliveries and sends them side by side; returns how many.
    async fn round(&self) -> crate::store::StoreResult<usize> {
        let now = self.clock.now();
        let oldest = self.store.webhook_outbox_lag(now).await?;
        let lag = oldest.map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
        self.lag.set(lag);
        if oldest.is_none() {
            // Nothing due: no claim, so an idle worker never takes SQLite's write lock.
            return Ok(0);
        }
        let claimed = self
            .store
            .claim_webhook_deliveries(self.id, now, now + self.lease, BATCH)
            .await?;
        let count = claimed.len();
        futures_util::future::join_all(claimed.into_iter().map(|d| self.deliver(d))).await;
        Ok(count)
    }

    async fn deliver(&self, delivery: ClaimedDelivery) {
        let attempt = delivery.attempts + 1;
        let sent_at = self.clock.now();
        let started = Instant::now();
        let answer = self.sender.send(&delivery, sent_at).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let outcome = decide(&answer, attempt, sent_at);
        let (status_code, error, response_body) = match answer {
            Ok(Answer { status, body, .. }) => (Some(status), None, Some(body)),
            Err(error) => (None, Some(error), None),
        };
        self.deliveries
            .get_or_create(&OutcomeLabels {
                outcome: outcome_label(outcome),
            })
            .inc();
        let record = AttemptRecord {
            endpoint_id: delivery.endpoint.id,
            event_seq: delivery.event_seq,
            attempt,
            attempted_at: sent_at,
            status_code,
            error,
            latency_ms,
            response_body,
            outcome,
        };
        if let Err(err) = self.store.record_webhook_attempt(self.id, record).await {
            // The lease runs out and the delivery is sent again: at least once.
            tracing::warn!(error = %err, endpoint = %delivery.endpoint.id, "recording a webhook attempt failed");
        }
    }
}

/// What follows attempt number `attempt`, sent at `sent_at`: any 2xx succeeds, `410
/// Gone` disables the endpoint, anything else is retried on the schedule (later if
/// `Retry-After` asks) until it is spent.
pub fn decide(
    answer: &Result<Answer, String>,
    attempt: i32,
    sent_at: DateTime<Utc>,
) -> AttemptOutcome {
    let retry_after = match answer {
        Ok(answer) if (200..300).contains(&answer.status) => return AttemptOutcome::Succeeded,
        Ok(answer) if answer.status == 410 => return AttemptOutcome::Gone,
        Ok(answer) => answer.retry_after,
        Err(_) => None,
    };
    let delay = u32::try_from(attempt)
        .ok()
        .and_then(|attempt| next_retry_delay(attempt, retry_after))
        .and_then(|delay| TimeDelta::from_std(delay).ok());
    match delay {
        Some(delay) => AttemptOutcome::RetryAt(sent_at + delay),
        None => AttemptOutcome::GiveUp,
    }
}

fn outcome_label(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Succeeded => "succeeded",
        AttemptOutcome::RetryAt(_) => "retrying",
        AttemptOutcome::GiveUp => "given_up",
        AttemptOutcome::Gone => "gone",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<u64>) -> Result<Answer, String> {
        Ok(Answer {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: String::new(),
        })
    }

    #[test]
    fn outcomes_follow_the_status_and_the_schedule() {
        let now = Utc::now();
        assert_eq!(
            decide(&answer(204, None), 1, now),
            AttemptOutcome::Succeeded
        );
        assert_eq!(decide(&answer(410, None), 1, now), AttemptOutcome::Gone);
        assert_eq!(
            decide(&answer(500, None), 1, now),
            AttemptOutcome::RetryAt(now + TimeDelta::seconds(5))
        );
        assert_eq!(
            decide(&answer(429, Some(60)), 1, now),
            AttemptOutcome::RetryAt(now + TimeDelta::seconds(60))
        );
        assert_eq!(
            decide(&Err("refused".into()), 2, now),
            AttemptOutcome::RetryAt(now + TimeDelta::minutes(5))
        );
        assert_eq!(decide(&answer(302, None), 8, now), AttemptOutcome::GiveUp);
    }
}
