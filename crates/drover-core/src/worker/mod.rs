//! Workers: a backend, a job service and the loop that feeds one into the other.

mod claimer;
mod completer;
mod config;
mod outcome;
mod prefetch;
pub(crate) mod run;
mod timing;

use std::sync::Arc;

pub(crate) use config::heartbeat_for;
pub use config::{Spawner, WorkerConfig};
pub use outcome::{is_final, outcome_of, RunOutcome};
pub use prefetch::Prefetch;

use crate::backend::Backend;
use crate::context::Extensions;
use crate::event::EventSink;
use crate::request::JobService;
use crate::run_context::RunContext;

/// A worker, ready to run: built by [`WorkerBuilder`](crate::WorkerBuilder), run by a
/// [`Monitor`](crate::Monitor) or on its own with [`Worker::run_until`].
pub struct Worker<B, S> {
    pub(crate) name: Arc<str>,
    pub(crate) backend: B,
    pub(crate) service: S,
    pub(crate) config: WorkerConfig,
    pub(crate) data: Arc<Extensions>,
}

impl<B: Clone, S: Clone> Clone for Worker<B, S> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            backend: self.backend.clone(),
            service: self.service.clone(),
            config: self.config.clone(),
            data: self.data.clone(),
        }
    }
}

impl<B, S> std::fmt::Debug for Worker<B, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("name", &self.name).field("config", &self.config).finish()
    }
}

impl<B, S> Worker<B, S> {
    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The worker's settings.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }
}

impl<B, S> Worker<B, S>
where
    B: Backend,
    S: JobService<B::Job>,
{
    /// Run until `signal` completes, then shut down gracefully: stop claiming, hand back
    /// unstarted claims, let running tasks finish for up to the configured shutdown timeout,
    /// and leave the rest to their leases. Events go to `tracing`.
    pub async fn run_until<F: std::future::Future + Send>(self, signal: F) -> crate::Result<()> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let run = RunContext { shutdown: rx, events: EventSink::tracing(), run_id: 0 };
        let worker = run::run(self, run);
        tokio::pin!(worker);
        tokio::select! {
            result = &mut worker => result,
            _ = signal => {
                let _ = tx.send(true);
                worker.await
            }
        }
    }
}
