use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::task::TaskId;

/// Something that happened in a worker or the monitor. Every event implements `Display`, so
/// `on_event(|e| tracing::info!("{e}"))` logs it readably.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A worker started (again, when `run_id` > 0).
    WorkerStarted {
        /// The worker.
        worker: Arc<str>,
        /// 0 for the first run, then counting restarts.
        run_id: usize,
    },
    /// A worker received the shutdown signal.
    WorkerStopping {
        /// The worker.
        worker: Arc<str>,
        /// Tasks still running at that moment.
        running: usize,
    },
    /// A worker stopped.
    WorkerStopped {
        /// The worker.
        worker: Arc<str>,
        /// Tasks left to their leases because the shutdown timeout passed.
        abandoned: usize,
    },
    /// A worker stopped with an error or a panic; the monitor restarts it after `restart_in`.
    WorkerCrashed {
        /// The worker.
        worker: Arc<str>,
        /// What went wrong: the run's [`Error`](crate::Error), or a
        /// [`PanicError`](crate::layers::catch_panic::PanicError).
        error: Arc<dyn std::error::Error + Send + Sync>,
        /// When it restarts.
        restart_in: Duration,
    },
    /// A task's run failed; it will be retried after `retry_in`, or (`None`) it is dead.
    TaskFailed {
        /// The worker.
        worker: Arc<str>,
        /// The task.
        task_id: TaskId,
        /// The error recorded with the task.
        error: String,
        /// When the task runs again; `None`: it is dead.
        retry_in: Option<Duration>,
    },
    /// A backend call failed; the worker keeps going. `retry_in`: when the call is made again;
    /// `None` where nothing is retried (a hand-back or a last flush: the leases then decide).
    BackendError {
        /// The worker.
        worker: Arc<str>,
        /// What was being done.
        operation: &'static str,
        /// The error.
        error: Arc<crate::BackendError>,
        /// When the worker tries again, if it does.
        retry_in: Option<Duration>,
    },
    /// The monitor received its shutdown signal.
    ShutdownRequested,
    /// Every worker has stopped.
    ShutdownComplete,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::WorkerStarted { worker, run_id: 0 } => write!(f, "worker {worker} started"),
            Event::WorkerStarted { worker, run_id } => write!(f, "worker {worker} restarted (run {run_id})"),
            Event::WorkerStopping { worker, running } => {
                write!(f, "worker {worker} stopping: waiting for {running} running task(s)")
            }
            Event::WorkerStopped { worker, abandoned: 0 } => write!(f, "worker {worker} stopped"),
            Event::WorkerStopped { worker, abandoned } => write!(
                f,
                "worker {worker} stopped with {abandoned} task(s) still running; they will run again when their leases expire"
            ),
            Event::WorkerCrashed { worker, error, restart_in } => {
                write!(f, "worker {worker} crashed: {error}; restarting in {restart_in:?}")
            }
            Event::TaskFailed { worker, task_id, error, retry_in: None } => {
                write!(f, "task {task_id} on {worker} failed for good (dead): {error}")
            }
            Event::TaskFailed { worker, task_id, error, retry_in: Some(delay) } => {
                write!(f, "task {task_id} on {worker} failed and will be retried in {delay:?}: {error}")
            }
            Event::BackendError { worker, operation, error, retry_in: Some(delay) } => {
                write!(f, "worker {worker}: {operation} failed: {error}; retrying in {delay:?}")
            }
            Event::BackendError { worker, operation, error, retry_in: None } => {
                write!(f, "worker {worker}: {operation} failed: {error}; the tasks' leases decide what runs again")
            }
            Event::ShutdownRequested => f.write_str("shutdown requested"),
            Event::ShutdownComplete => f.write_str("all workers stopped"),
        }
    }
}

/// Where events go: a user's callback or, by default, `tracing`.
#[derive(Clone)]
pub struct EventSink(Option<EventCallback>);

type EventCallback = Arc<dyn Fn(&Event) + Send + Sync>;

impl EventSink {
    /// Log events with `tracing` at a level fitting each.
    pub fn tracing() -> Self {
        Self(None)
    }

    /// Send events to `f`.
    pub fn new(f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(f)))
    }

    /// Deliver one event.
    pub fn emit(&self, event: &Event) {
        match &self.0 {
            Some(f) => f(event),
            None => match event {
                Event::WorkerCrashed { .. } | Event::BackendError { .. } => tracing::error!("{event}"),
                Event::TaskFailed { .. } => tracing::warn!("{event}"),
                _ => tracing::info!("{event}"),
            },
        }
    }
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "EventSink(callback)" } else { "EventSink(tracing)" })
    }
}
