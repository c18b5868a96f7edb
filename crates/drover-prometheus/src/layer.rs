//! The job layer: records each run of a job.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use drover_core::{BoxDynError, Request, RunOutcome};
use futures_util::FutureExt;
use prometheus::{Histogram, IntCounter, IntGauge};

use crate::metrics::JobMetrics;

/// A tower layer that records every job run in [`JobMetrics`]: finished runs by outcome, their
/// durations, runs in flight, and the wait from due to start.
///
/// ```
/// use drover_core::{BoxDynError, MemoryStorage, WorkerBuilder};
/// use drover_prometheus::PrometheusLayer;
///
/// async fn send_email(to: String) -> Result<(), BoxDynError> {
///     Ok(())
/// }
///
/// let worker = WorkerBuilder::new("email-worker")
///     .layer(PrometheusLayer::new())
///     .backend(MemoryStorage::<String>::new())
///     .build_fn(send_email);
/// # drop(worker);
/// ```
///
/// Where it sits matters for panics: outside the worker's catch-panic layer it sees a
/// [`PanicError`](drover_core::layers::catch_panic::PanicError), inside it sees the panic
/// itself; either way the run counts once, as `panicked`.
#[derive(Clone, Debug)]
pub struct PrometheusLayer {
    metrics: Option<JobMetrics>,
}

impl Default for PrometheusLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusLayer {
    /// Record into the default registry (`prometheus::default_registry()`), shared by every
    /// layer made this way. If the default registry refuses Drover's metrics (another library
    /// registered `drover_*` names), the layer records nothing and prints why to stderr; use
    /// [`PrometheusLayer::with_metrics`] to handle that error yourself.
    pub fn new() -> Self {
        match JobMetrics::global() {
            Ok(metrics) => Self { metrics: Some(metrics) },
            Err(error) => {
                eprintln!("drover-prometheus: {error}; job metrics are off");
                Self { metrics: None }
            }
        }
    }

    /// Record into `metrics` (made once per registry with [`JobMetrics::register`]).
    pub fn with_metrics(metrics: JobMetrics) -> Self {
        Self { metrics: Some(metrics) }
    }
}

impl<S> tower::Layer<S> for PrometheusLayer {
    type Service = Prometheus<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Prometheus { inner, metrics: self.metrics.clone(), handles: None }
    }
}

/// The series of one worker and queue, looked up once instead of on every run.
#[derive(Clone, Debug)]
struct Handles {
    queue: String,
    worker: String,
    finished: [IntCounter; 4],
    duration: [Histogram; 4],
    in_flight: IntGauge,
    wait: Histogram,
}

const OUTCOMES: [RunOutcome; 4] = [RunOutcome::Done, RunOutcome::Retried, RunOutcome::Dead, RunOutcome::Panicked];

fn index(outcome: RunOutcome) -> usize {
    OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(OUTCOMES.len() - 1)
}

impl Handles {
    fn new(metrics: &JobMetrics, queue: &str, worker: &str) -> Self {
        let by_outcome = |o: RunOutcome| [queue, worker, o.as_str()];
        Self {
            queue: queue.to_owned(),
            worker: worker.to_owned(),
            finished: OUTCOMES.map(|o| metrics.finished.with_label_values(&by_outcome(o))),
            duration: OUTCOMES.map(|o| metrics.duration.with_label_values(&by_outcome(o))),
            in_flight: metrics.in_flight.with_label_values(&[queue, worker]),
            wait: metrics.wait.with_label_values(&[queue, worker]),
        }
    }

    fn record(&self, outcome: RunOutcome, seconds: f64) {
        let i = index(outcome);
        self.finished[i].inc();
        self.duration[i].observe(seconds);
    }
}

/// Takes one run off the in-flight gauge however the run ends (finished, dropped, panicked).
struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The service [`PrometheusLayer`] makes.
#[derive(Clone, Debug)]
pub struct Prometheus<S> {
    inner: S,
    metrics: Option<JobMetrics>,
    handles: Option<Handles>,
}

impl<S> Prometheus<S> {
    fn handles(&mut self, queue: &str, worker: &str) -> Option<Handles> {
        let metrics = self.metrics.as_ref()?;
        match &self.handles {
            Some(h) if h.queue == queue && h.worker == worker => {}
            _ => self.handles = Some(Handles::new(metrics, queue, worker)),
        }
        self.handles.clone()
    }
}

impl<S, T> tower::Service<Request<T>> for Prometheus<S>
where
    S: tower::Service<Request<T>>,
    S::Error: Into<BoxDynError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxDynError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxDynError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<T>) -> Self::Future {
        let (attempt, max_attempts) = (req.ctx.attempt(), req.ctx.max_attempts());
        let handles = self.handles(req.ctx.queue(), req.ctx.worker_name());
        let waited = (chrono::Utc::now() - req.ctx.run_at()).to_std().unwrap_or_default();
        let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(fut) => fut,
            Err(panic) => {
                if let Some(handles) = &handles {
                    handles.wait.observe(waited.as_secs_f64());
                    handles.record(RunOutcome::Panicked, 0.0);
                }
                std::panic::resume_unwind(panic)
            }
        };
        let Some(handles) = handles else {
            return Box::pin(async move { fut.await.map_err(Into::into) });
        };
        handles.wait.observe(waited.as_secs_f64());
        handles.in_flight.inc();
        let in_flight = InFlight(handles.in_flight.clone());
        Box::pin(async move {
            let _in_flight = in_flight;
            let started = std::time::Instant::now();
            match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(result) => {
                    let result = result.map_err(Into::into);
                    handles.record(RunOutcome::of(&result, attempt, max_attempts), started.elapsed().as_secs_f64());
                    result
                }
                Err(panic) => {
                    handles.record(RunOutcome::Panicked, started.elapsed().as_secs_f64());
                    std::panic::resume_unwind(panic)
                }
            }
        })
    }
}
