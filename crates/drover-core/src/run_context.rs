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
