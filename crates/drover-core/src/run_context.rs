//! What a monitor hands a worker for one run.

use tokio::sync::watch;

use crate::event::EventSink;

/// What a [`Monitor`](crate::Monitor) hands a worker for one run: the shutdown signal, where
/// events go, and the run's number (0 for the first, counting restarts). Only the monitor and
/// [`Worker::run_until`](crate::Worker::run_until) make one.
#[derive(Debug)]
pub struct RunContext {
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) events: EventSink,
    pub(crate) run_id: usize,
}

impl RunContext {
    /// Wait until the monitor asks this run to stop (at once if it already has, or if the
    /// monitor is gone). For things other than workers that a monitor runs, such as a cron
    /// schedule's pipe: stop producing, then return.
    pub async fn shutdown_requested(&self) {
        let mut shutdown = self.shutdown.clone();
        let _ = shutdown.wait_for(|stop| *stop).await;
    }

    /// Whether the monitor has asked this run to stop.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Where this run's events go.
    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// The run's number: 0 for the first, counting restarts.
    pub fn run_id(&self) -> usize {
        self.run_id
    }
}
