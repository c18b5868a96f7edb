//! `WorkerBuilder`: the seed's builder API, callable in any order before `build_fn`.

use std::sync::Arc;
use std::time::Duration;

use tower::layer::util::{Identity, Stack};
use tower::{Layer, ServiceBuilder};

use crate::backend::Backend;
use crate::backoff::Backoff;
use crate::context::Extensions;
use crate::handler::{JobFn, ServiceFn};
use crate::layers::catch_panic::CatchPanicLayer;
use crate::layers::rate_limit::RateLimitLayer;
use crate::layers::timeout::TimeoutLayer;
use crate::layers::trace::TraceLayer;
use crate::worker::{Prefetch, Worker, WorkerConfig};

/// Builds a [`Worker`]. Every call may come in any order before [`WorkerBuilder::build_fn`];
/// layers wrap in the order given (the first is outermost).
///
/// ```
/// use drover_core::{BoxDynError, Data, MemoryStorage, WorkerBuilder};
/// use std::time::Duration;
///
/// #[derive(Clone)]
/// struct Smtp;
///
/// async fn send_email(to: String, _smtp: Data<Smtp>) -> Result<(), BoxDynError> {
///     Ok(())
/// }
///
/// let worker = WorkerBuilder::new("email-worker")
///     .parallelize(tokio::spawn)
///     .concurrency(10)
///     .rate_limit(100, Duration::from_secs(1))
///     .catch_panic()
///     .enable_tracing()
///     .data(Smtp)
///     .backend(MemoryStorage::<String>::new())
///     .build_fn(send_email);
/// assert_eq!(worker.name(), "email-worker");
/// ```
pub struct WorkerBuilder<B, L> {
    name: Arc<str>,
    backend: B,
    layers: ServiceBuilder<L>,
    config: WorkerConfig,
    data: Extensions,
    heartbeat_set: bool,
}

impl<B, L> std::fmt::Debug for WorkerBuilder<B, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerBuilder").field("name", &self.name).field("config", &self.config).finish()
    }
}

impl WorkerBuilder<(), Identity> {
    /// Start a worker called `name`. Give each worker a unique, descriptive name: it appears in
    /// events, logs, metrics and the board.
    pub fn new(name: impl Into<String>) -> Self {
        let mut data = Extensions::default();
        // `Data<()>` is always available, so handlers written as `fn(job, _: Data<()>)` work.
        data.insert(());
        Self {
            name: name.into().into(),
            backend: (),
            layers: ServiceBuilder::new(),
            config: WorkerConfig::default(),
            data,
            heartbeat_set: false,
        }
    }
}

impl<B, L> WorkerBuilder<B, L> {
    /// The storage to claim tasks from.
    pub fn backend<NB: Backend>(self, backend: NB) -> WorkerBuilder<NB, L> {
        WorkerBuilder {
            name: self.name,
            backend,
            layers: self.layers,
            config: self.config,
            data: self.data,
            heartbeat_set: self.heartbeat_set,
        }
    }

    /// Wrap the job service in a tower layer.
    pub fn layer<T>(self, layer: T) -> WorkerBuilder<B, Stack<T, L>> {
        WorkerBuilder {
            name: self.name,
            backend: self.backend,
            layers: self.layers.layer(layer),
            config: self.config,
            data: self.data,
            heartbeat_set: self.heartbeat_set,
        }
    }

    /// Run up to `n` jobs at once (default 10; at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.config.concurrency = n.max(1);
        self
    }

    /// Run each job on `spawner` (for example `tokio::spawn`) so jobs use every core.
    /// Without it, jobs run concurrently inside the worker's own task.
    pub fn parallelize<F, R>(mut self, spawner: F) -> Self
    where
        F: Fn(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> R + Send + Sync + 'static,
    {
        self.config.spawner = Some(Arc::new(move |fut| {
            let _ = spawner(fut);
        }));
        self
    }

    /// Always claim up to `n` tasks beyond the free slots, so the next jobs are at hand while
    /// the following claim is in flight; `prefetch(0)` claims only for free slots. Prefetched
    /// tasks are leased to this worker: heartbeats keep them, shutdown hands them back at once,
    /// but if the process is killed they wait for their leases like running tasks.
    ///
    /// Without this call the worker prefetches adaptively (see
    /// [`prefetch_adaptive`](Self::prefetch_adaptive)), which suits most queues.
    pub fn prefetch(mut self, n: usize) -> Self {
        self.config.prefetch = Prefetch::Fixed(n);
        self
    }

    /// Claim ahead what this worker starts during two claim round trips, both measured while
    /// it runs, never more than `max` tasks beyond the free slots (the default, with `max`
    /// 1,000). Short jobs on a busy queue then take large batches in one round trip; slow jobs
    /// claim next to nothing ahead. A task claimed ahead that still waits for a slot after a
    /// quarter of the lease (at most a second) is handed back for other workers.
    pub fn prefetch_adaptive(mut self, max: usize) -> Self {
        self.config.prefetch = Prefetch::Adaptive { max };
        self
    }

    /// Share a value with handlers, which take it as [`Data<T>`](crate::Data).
    pub fn data<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.data.insert(value);
        self
    }

    /// How long a claim holds before another worker may take the task (default 30 s). The
    /// worker extends it while the job runs.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease;
        if !self.heartbeat_set {
            self.config.heartbeat = crate::worker::heartbeat_for(lease);
        }
        self
    }

    /// How often running tasks' leases are extended (default a third of the lease; a value not
    /// shorter than the lease is replaced by a third of it).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.config.heartbeat = every;
        self.heartbeat_set = true;
        self
    }

    /// How long an idle worker waits before claiming again without a wake-up (default 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.config.poll_interval = interval;
        self
    }

    /// The backoff of persisted retries (default: 2 s doubling, capped at 1 h, ±25 % jitter).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// How long graceful shutdown waits for running tasks when the worker runs on its own
    /// (a Monitor's `shutdown_timeout` overrides it).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Turn panics into ordinary job errors at this point of the stack. (The worker records a
    /// panic as a failure either way; it never stops because of one.)
    pub fn catch_panic(self) -> WorkerBuilder<B, Stack<CatchPanicLayer, L>> {
        self.layer(CatchPanicLayer::new())
    }

    /// Run each job in a `tracing` span and log how it ended.
    pub fn enable_tracing(self) -> WorkerBuilder<B, Stack<TraceLayer, L>> {
        self.layer(TraceLayer::new())
    }

    /// Start at most `num` jobs per `per` (claimed jobs wait, their leases held, meanwhile).
    pub fn rate_limit(self, num: u64, per: Duration) -> WorkerBuilder<B, Stack<RateLimitLayer, L>> {
        self.layer(RateLimitLayer::new(num, per))
    }

    /// Fail a job that runs longer than `timeout` (retried like any failure).
    pub fn timeout(self, timeout: Duration) -> WorkerBuilder<B, Stack<TimeoutLayer, L>> {
        self.layer(TimeoutLayer::new(timeout))
    }
}

impl<B: Backend, L> WorkerBuilder<B, L> {
    /// Finish with an async handler `fn(job, extractors…) -> Result<R, E>`.
    pub fn build_fn<F, Args>(self, f: F) -> Worker<B, L::Service>
    where
        F: JobFn<B::Job, Args>,
        L: Layer<ServiceFn<F, Args>>,
    {
        self.build(ServiceFn::new(f))
    }

    /// Finish with any tower service taking [`Request<B::Job>`](crate::Request).
    pub fn build<S>(self, service: S) -> Worker<B, L::Service>
    where
        L: Layer<S>,
    {
        Worker {
            name: self.name,
            backend: self.backend,
            service: self.layers.service(service),
            config: self.config,
            data: Arc::new(self.data),
        }
    }
}
