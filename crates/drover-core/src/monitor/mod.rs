//! The monitor: runs workers, restarts crashed ones, shuts everything down gracefully.

mod register;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;

pub use register::{IntoWorkerFactory, RunnableWorker, WorkerFactory};

use crate::error::Error;
use crate::event::{Event, EventSink};
use crate::run_context::RunContext;

/// Runs registered workers until a shutdown signal, then stops them gracefully.
///
/// ```
/// use drover_core::{BoxDynError, MemoryStorage, Monitor, WorkerBuilder};
/// use std::time::Duration;
///
/// async fn send_email(to: String) -> Result<(), BoxDynError> {
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxDynError> {
/// let storage = MemoryStorage::<String>::new();
/// Monitor::new()
///     .register(move |_run_id| {
///         WorkerBuilder::new("email-worker")
///             .backend(storage.clone())
///             .concurrency(10)
///             .build_fn(send_email)
///     })
///     .on_event(|e| println!("{e}"))
///     .shutdown_timeout(Duration::from_secs(30))
///     .run_with_signal(tokio::time::sleep(Duration::from_millis(50)))
///     .await?;
/// # Ok(())
/// # }
/// ```
pub struct Monitor {
    factories: Vec<(String, WorkerFactory)>,
    events: EventSink,
    shutdown_timeout: Option<Duration>,
    restart_backoff: (Duration, Duration),
}

impl Default for Monitor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.factories.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Monitor").field("workers", &names).field("shutdown_timeout", &self.shutdown_timeout).finish()
    }
}

impl Monitor {
    /// A monitor with no workers; events go to `tracing`.
    pub fn new() -> Self {
        Self {
            factories: Vec::new(),
            events: EventSink::tracing(),
            shutdown_timeout: None,
            restart_backoff: (Duration::from_secs(1), Duration::from_secs(60)),
        }
    }

    /// Add a worker, or a closure `|run_id| worker` that builds one (called again for each
    /// restart). A plain worker is cloned for restarts.
    pub fn register<M, W: IntoWorkerFactory<M>>(mut self, worker: W) -> Self {
        let (name, factory) = worker.into_factory();
        self.factories.push((name, factory));
        self
    }

    /// Receive every event (worker started, stopped, crashed, task failed, backend error…).
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.events = EventSink::new(f);
        self
    }

    /// How long graceful shutdown waits for running tasks (overrides each worker's own).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// The delay before restarting a crashed worker: `first`, doubling up to `max`.
    pub fn restart_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.restart_backoff = (first, max);
        self
    }

    /// Run until Ctrl+C (SIGINT).
    pub async fn run(self) -> Result<(), Error> {
        self.run_with_signal(tokio::signal::ctrl_c()).await
    }

    /// Run until `signal` completes (any future: `tokio::signal::ctrl_c()`, a future of `()`),
    /// then shut down gracefully. Returns an error if tasks were still running when the
    /// shutdown timeout passed (they go back to their queues when their leases expire).
    pub async fn run_with_signal<F: Future + Send>(self, signal: F) -> Result<(), Error> {
        if self.factories.is_empty() {
            return Err(Error::Config(
                "the monitor has no workers; add one with Monitor::register(worker) before running it".into(),
            ));
        }
        let (tx, rx) = watch::channel(false);
        let mut handles = Vec::new();
        for (name, factory) in self.factories {
            let supervisor =
                supervise(name, factory, rx.clone(), self.events.clone(), self.shutdown_timeout, self.restart_backoff);
            handles.push(tokio::spawn(supervisor));
        }
        let all = futures_util::future::join_all(handles);
        tokio::pin!(all);
        let results = tokio::select! {
            results = &mut all => results,
            _ = signal => {
                self.events.emit(&Event::ShutdownRequested);
                let _ = tx.send(true);
                all.await
            }
        };
        self.events.emit(&Event::ShutdownComplete);
        let mut abandoned = 0;
        let mut waited = Duration::ZERO;
        for result in results {
            if let Ok(Err(Error::ShutdownTimeout { running, timeout })) = result {
                abandoned += running;
                waited = waited.max(timeout);
            }
        }
        if abandoned == 0 {
            Ok(())
        } else {
            Err(Error::ShutdownTimeout { timeout: waited, running: abandoned })
        }
    }
}

/// Run one worker, restarting it with backoff when it crashes, until shutdown.
async fn supervise(
    name: String,
    mut factory: WorkerFactory,
    shutdown: watch::Receiver<bool>,
    events: EventSink,
    shutdown_timeout: Option<Duration>,
    (first, max): (Duration, Duration),
) -> Result<(), Error> {
    let mut delay = first;
    let mut run_id = 0;
    loop {
        let mut worker = factory(run_id);
        if let Some(timeout) = shutdown_timeout {
            worker.set_shutdown_timeout(timeout);
        }
        let run = RunContext { shutdown: shutdown.clone(), events: events.clone(), run_id };
        let result = std::panic::AssertUnwindSafe(worker.run(run)).catch_unwind().await;
        let error: Arc<dyn std::error::Error + Send + Sync> = match result {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e @ Error::ShutdownTimeout { .. })) => return Err(e),
            Ok(Err(e)) => Arc::new(e),
            Err(payload) => Arc::new(crate::panic::PanicError::from_payload(payload)),
        };
        if *shutdown.borrow() {
            return Ok(());
        }
        events.emit(&Event::WorkerCrashed { worker: name.as_str().into(), error, restart_in: delay });
        let mut shutdown = shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        }
        delay = (delay * 2).min(max);
        run_id += 1;
    }
}
