//! The process's life after start-up: one signal that shutdown has begun, and the
//! background workers that must stop at a safe point before the pool closes.
//!
//! A worker is spawned with [`Lifecycle::spawn_worker`], which hands it a
//! [`CancellationToken`]; it finishes the unit of work it is in (a batch, a delivery),
//! then returns once the token is cancelled. `serve` waits for every worker, up to the
//! shutdown timeout, before it closes the database pool.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone, Default)]
pub struct Lifecycle {
    shutdown: CancellationToken,
    workers: TaskTracker,
}

impl Lifecycle {
    pub fn new() -> Lifecycle {
        Lifecycle::default()
    }

    /// Shutdown has begun: readiness answers 503 from now on.
    pub fn is_draining(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Starts shutdown: workers are told to stop, readiness turns 503.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Completes when shutdown begins.
    pub async fn draining(&self) {
        self.shutdown.cancelled().await;
    }

    /// Runs a background worker until it returns; `work` gets the token that is
    /// cancelled when shutdown begins.
    pub fn spawn_worker<F, Fut>(&self, name: &'static str, work: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let worker = work(self.shutdown.child_token());
        self.workers.spawn(async move {
            worker.await;
            tracing::info!(worker = name, "worker stopped");
        });
    }

    /// Waits up to `timeout` for every worker to stop; `false` if some did not.
    pub async fn wait_for_workers(&self, timeout: Duration) -> bool {
        self.workers.close();
        tokio::time::timeout(timeout, self.workers.wait())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn workers_stop_when_shutdown_begins() {
        let lifecycle = Lifecycle::new();
        let stopped = Arc::new(AtomicBool::new(false));
        let flag = stopped.clone();
        lifecycle.spawn_worker("test", move |token| async move {
            token.cancelled().await;
            flag.store(true, Ordering::SeqCst);
        });
        assert!(!lifecycle.is_draining());
        lifecycle.begin_shutdown();
        assert!(lifecycle.is_draining());
        assert!(lifecycle.wait_for_workers(Duration::from_secs(5)).await);
        assert!(stopped.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_stuck_worker_does_not_hold_shutdown_forever() {
        let lifecycle = Lifecycle::new();
        lifecycle.spawn_worker("stuck", |_| std::future::pending::<()>());
        lifecycle.begin_shutdown();
        assert!(!lifecycle.wait_for_workers(Duration::from_millis(50)).await);
    }
}
