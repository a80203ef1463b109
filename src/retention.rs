//! Event retention: each `polis serve` prunes events older than
//! `POLIS_EVENT_RETENTION_DAYS` once an hour. Pruning is idempotent and runs in small
//! batches, so several replicas doing it at once only repeat each other's work.

use std::time::Duration;

use chrono::TimeDelta;

use crate::state::AppState;

const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Starts the pruner as a background worker (nothing when retention is unlimited).
pub fn start_event_pruner(state: &AppState) {
    let days = state.settings.event_retention_days;
    if days == 0 {
        return;
    }
    let (store, clock) = (state.store.clone(), state.clock.clone());
    state
        .lifecycle
        .spawn_worker("event-pruner", move |stop| async move {
            loop {
                let cutoff = clock.now() - TimeDelta::days(i64::from(days));
                match store.prune_events(cutoff).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, days, "pruned events past retention"),
                    Err(err) => tracing::warn!(error = %err, "could not prune events"),
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(PRUNE_EVERY) => {}
                }
            }
        });
}
