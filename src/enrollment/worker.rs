//! The domain enrollment worker inside `polis serve`: it works off the requests that
//! verifying a domain, or switching a verified one to an automatic mode, leave behind
//! (`store::enrollment::jobs`), enrolling the domain's recorded identities one batch per
//! transaction. Several replicas share the requests through leases; this replica's own
//! domain changes wake it at once, others' are found by polling.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Enrollment;
use crate::clock::Clock;
use crate::metrics::{Counters, OutcomeLabels};
use crate::state::AppState;
use crate::store::{DomainEnrollmentJob, Enrolled, EnrollmentProgress, Store, StoreResult};

/// How often requests made by other replicas are looked for.
const POLL_EVERY: Duration = Duration::from_secs(5);
/// How long a claim holds without a batch renewing it: a worker that died lets go then.
const LEASE: TimeDelta = TimeDelta::seconds(60);

/// Starts the worker; it stops between two batches once shutdown begins, handing its
/// request back.
pub fn spawn_worker(state: &AppState) {
    let worker = Worker {
        id: Uuid::now_v7(),
        store: state.store.clone(),
        clock: state.clock.clone(),
        enrollment: state.enrollment.clone(),
        runs: state.metrics.counter(
            "polis_domain_enrollment_runs",
            "Runs enrolling a domain's identities, by outcome (completed, interrupted, failed)",
        ),
    };
    state
        .lifecycle
        .spawn_worker("domain-enrollment", move |stop| worker.run(stop));
}

struct Worker {
    /// Names this worker's leases.
    id: Uuid,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    enrollment: Arc<Enrollment>,
    runs: Counters<OutcomeLabels>,
}

impl Worker {
    async fn run(self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            if let Err(err) = self.drain(&stop).await {
                tracing::warn!(error = %err, "domain enrollment round failed");
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.enrollment.domain_requests.notified() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
    }

    /// Runs every request nobody holds, until none is left or shutdown begins.
    async fn drain(&self, stop: &CancellationToken) -> StoreResult<()> {
        while !stop.is_cancelled() {
            let now = self.clock.now();
            let claimed = self
                .store
                .claim_domain_enrollment(self.id, now, now + LEASE)
                .await?;
            let Some(job) = claimed else {
                return Ok(());
            };
            let outcome = self.run_job(&job, stop).await;
            self.runs
                .get_or_create(&OutcomeLabels {
                    outcome: match &outcome {
                        Ok(Some(_)) => "completed",
                        Ok(None) => "interrupted",
                        Err(_) => "failed",
                    },
                })
                .inc();
            match outcome {
                Ok(Some(enrolled)) => tracing::info!(
                    domain = %job.domain_id,
                    invitations = enrolled.invitations,
                    suggestions = enrolled.suggestions,
                    "domain enrolled"
                ),
                Ok(None) => {}
                Err(err) => {
                    // Handed back for the next round (or another replica) to run again.
                    if let Err(settling) = self
                        .store
                        .settle_domain_enrollment(&job, self.id, false)
                        .await
                    {
                        tracing::debug!(error = %settling, "left to the lease to hand back");
                    }
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    /// Enrolls the claimed domain batch by batch; `None` when the run stopped early
    /// (shutdown, or the lease went to another worker).
    async fn run_job(
        &self,
        job: &DomainEnrollmentJob,
        stop: &CancellationToken,
    ) -> StoreResult<Option<Enrolled>> {
        let (role, mut total, mut after) =
            (&self.enrollment.default_role, Enrolled::default(), None);
        loop {
            if stop.is_cancelled() {
                self.store
                    .settle_domain_enrollment(job, self.id, false)
                    .await?;
                return Ok(None);
            }
            let now = self.clock.now();
            let progress = self
                .store
                .enroll_domain_batch(job, self.id, after.as_ref(), role, now, now + LEASE)
                .await?;
            match progress {
                EnrollmentProgress::More {
                    enrolled,
                    after: next,
                } => {
                    total.add(enrolled);
                    after = Some(next);
                }
                EnrollmentProgress::Done(enrolled) => {
                    total.add(enrolled);
                    self.store
                        .settle_domain_enrollment(job, self.id, true)
                        .await?;
                    return Ok(Some(total));
                }
                EnrollmentProgress::LeaseLost => {
                    tracing::info!(domain = %job.domain_id, "domain enrollment taken over or domain gone");
                    return Ok(None);
                }
            }
        }
    }
}
