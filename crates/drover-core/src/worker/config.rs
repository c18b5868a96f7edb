use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::Prefetch;
use crate::backoff::Backoff;

/// Runs a job's future somewhere else (for example `tokio::spawn`), set by
/// `WorkerBuilder::parallelize`.
pub type Spawner = Arc<dyn Fn(Pin<Box<dyn Future<Output = ()> + Send>>) + Send + Sync>;

/// A worker's settings. Every field has a default; the builder sets them.
#[derive(Clone)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// Most tasks running at once (default 10).
    pub concurrency: usize,
    /// How long a claim holds before another worker may take the task (default 30 s).
    pub lease: Duration,
    /// How often running tasks' leases are extended (default a third of the lease).
    pub heartbeat: Duration,
    /// How long an idle worker waits before claiming again when no wake-up arrives
    /// (default 1 s; scheduled tasks become due within this).
    pub poll_interval: Duration,
    /// Backoff of persisted retries after a failure.
    pub backoff: Backoff,
    /// How long graceful shutdown waits for running tasks (default 30 s; a Monitor's
    /// `shutdown_timeout` overrides it).
    pub shutdown_timeout: Duration,
    /// Most completions sent to the backend in one call (default 500).
    pub completion_batch: usize,
    /// How many tasks are claimed beyond the free slots, waiting at hand for the next free
    /// slot (default: adaptive, at most 1,000). Raises throughput when a claim's round trip is
    /// long compared with a job.
    pub prefetch: Prefetch,
    /// Where job futures run; `None` runs them inside the worker's own task.
    pub spawner: Option<Spawner>,
}

/// The heartbeat rule, in one place: leases are extended every third of the lease, so a
/// claim survives two missed heartbeats.
pub(crate) fn heartbeat_for(lease: Duration) -> Duration {
    lease / 3
}

impl WorkerConfig {
    /// How often leases are extended: the configured heartbeat when it is shorter than the
    /// lease (and not zero), otherwise a third of the lease.
    pub fn effective_heartbeat(&self) -> Duration {
        if self.heartbeat.is_zero() || self.heartbeat >= self.lease {
            heartbeat_for(self.lease)
        } else {
            self.heartbeat
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let lease = Duration::from_secs(30);
        Self {
            concurrency: 10,
            lease,
            heartbeat: heartbeat_for(lease),
            poll_interval: Duration::from_secs(1),
            backoff: Backoff::default(),
            shutdown_timeout: Duration::from_secs(30),
            completion_batch: 500,
            prefetch: Prefetch::default(),
            spawner: None,
        }
    }
}

impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("concurrency", &self.concurrency)
            .field("lease", &self.lease)
            .field("heartbeat", &self.heartbeat)
            .field("poll_interval", &self.poll_interval)
            .field("backoff", &self.backoff)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("completion_batch", &self.completion_batch)
            .field("prefetch", &self.prefetch)
            .field("parallel", &self.spawner.is_some())
            .finish()
    }
}
