//! The job metrics: what the layer records, registered once per registry.

use std::sync::OnceLock;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Buckets of the job duration histogram, in seconds: 1 ms to 5 minutes.
pub const DURATION_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Buckets of the wait histogram (due to started), in seconds: 1 ms to 1 hour.
pub const WAIT_BUCKETS: &[f64] =
    &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// The job metrics of one registry. Labels are bounded: `queue`, `worker` and, where it
/// applies, `outcome` (`done`, `retried`, `dead`, `panicked`); never a task id or an error.
///
/// | metric | type | labels |
/// |---|---|---|
/// | `drover_jobs_total` | counter: runs finished | queue, worker, outcome |
/// | `drover_job_duration_seconds` | histogram: run time | queue, worker, outcome |
/// | `drover_jobs_in_flight` | gauge: runs in progress | queue, worker |
/// | `drover_job_wait_seconds` | histogram: from due to started | queue, worker |
///
/// Make them once per registry and share them ([`JobMetrics`] is cheap to clone): every
/// [`PrometheusLayer`](crate::PrometheusLayer) built from the same `JobMetrics` records into
/// the same series, told apart by their labels.
#[derive(Clone, Debug)]
pub struct JobMetrics {
    pub(crate) finished: IntCounterVec,
    pub(crate) duration: HistogramVec,
    pub(crate) in_flight: IntGaugeVec,
    pub(crate) wait: HistogramVec,
}

impl JobMetrics {
    /// Make the job metrics and register them in `registry`. Fails if that registry already
    /// has them: make them once and clone them into each layer.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self::unregistered()?;
        registry.register(Box::new(metrics.finished.clone()))?;
        registry.register(Box::new(metrics.duration.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        registry.register(Box::new(metrics.wait.clone()))?;
        Ok(metrics)
    }

    /// The job metrics of the default registry (`prometheus::default_registry()`), made and
    /// registered on first use: any number of layers in a process share them.
    pub fn global() -> Result<Self, prometheus::Error> {
        static GLOBAL: OnceLock<Result<JobMetrics, String>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| Self::register(prometheus::default_registry()).map_err(|e| e.to_string()))
            .clone()
            .map_err(|e| {
                prometheus::Error::Msg(format!(
                    "registering Drover's job metrics in the default registry failed: {e}; another library \
                     may have registered metrics named drover_*; use JobMetrics::register on a Registry of your own"
                ))
            })
    }

    fn unregistered() -> Result<Self, prometheus::Error> {
        let finished = IntCounterVec::new(
            Opts::new("drover_jobs_total", "Job runs finished, by outcome (done, retried, dead, panicked)."),
            &["queue", "worker", "outcome"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new("drover_job_duration_seconds", "How long job runs took, by outcome.")
                .buckets(DURATION_BUCKETS.to_vec()),
            &["queue", "worker", "outcome"],
        )?;
        let in_flight =
            IntGaugeVec::new(Opts::new("drover_jobs_in_flight", "Job runs in progress."), &["queue", "worker"])?;
        let wait = HistogramVec::new(
            HistogramOpts::new(
                "drover_job_wait_seconds",
                "How long jobs waited from when they were due (enqueued, scheduled or retried) to their start.",
            )
            .buckets(WAIT_BUCKETS.to_vec()),
            &["queue", "worker"],
        )?;
        Ok(Self { finished, duration, in_flight, wait })
    }
}
