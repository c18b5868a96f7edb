//! Queue depth and age, read from the storages at scrape time.

use std::sync::{Arc, Mutex};

use drover_core::{BackendError, Inspect, QueueStats};
use futures_util::future::BoxFuture;
use prometheus::{GaugeVec, IntGaugeVec, Opts, Registry};

/// A storage whose counts are read at scrape time.
trait Source: Send + Sync {
    fn queue(&self) -> &str;
    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, BackendError>>;
}

impl<B: Inspect> Source for B {
    fn queue(&self) -> &str {
        drover_core::Backend::queue(self)
    }

    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, BackendError>> {
        Box::pin(Inspect::stats(self))
    }
}

/// Queue gauges, read from each watched storage when [`QueueMetrics::refresh`] runs (the
/// [`Exporter`](crate::Exporter) runs it on every scrape), so depth and age are there to
/// alert on even while no worker runs:
///
/// | metric | labels | value |
/// |---|---|---|
/// | `drover_queue_tasks` | queue, status | tasks by status: `pending` (due now or later), `scheduled` (pending, due later), `running`, `done`, `dead`, `cancelled` |
/// | `drover_queue_oldest_due_age_seconds` | queue | how long the task a claim takes next has been due (0 when none is) |
/// | `drover_queue_stats_up` | queue | 1 when the last read of the queue worked, 0 when it failed |
///
/// Any storage with [`Inspect`] can be watched: memory, PostgreSQL, MySQL, SQLite, Redis,
/// PGMQ.
#[derive(Clone, Debug)]
pub struct QueueMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    tasks: IntGaugeVec,
    oldest: GaugeVec,
    up: IntGaugeVec,
    sources: Mutex<Vec<Arc<dyn Source>>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.sources.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("QueueMetrics").field("queues", &n).finish()
    }
}

impl QueueMetrics {
    /// Make the queue gauges and register them in `registry` (once per registry).
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let tasks = IntGaugeVec::new(
            Opts::new("drover_queue_tasks", "Tasks in the queue by status, read from the storage at scrape time."),
            &["queue", "status"],
        )?;
        let oldest = GaugeVec::new(
            Opts::new(
                "drover_queue_oldest_due_age_seconds",
                "How long the task a claim takes next has been due; 0 when none is due.",
            ),
            &["queue"],
        )?;
        let up = IntGaugeVec::new(
            Opts::new("drover_queue_stats_up", "1 if the last read of the queue's counts worked, 0 if it failed."),
            &["queue"],
        )?;
        registry.register(Box::new(tasks.clone()))?;
        registry.register(Box::new(oldest.clone()))?;
        registry.register(Box::new(up.clone()))?;
        Ok(Self { inner: Arc::new(Inner { tasks, oldest, up, sources: Mutex::new(Vec::new()) }) })
    }

    /// The queue gauges of the default registry (`prometheus::default_registry()`, where
    /// [`PrometheusLayer::new`](crate::PrometheusLayer::new) records), made on first use and
    /// shared by every caller.
    pub fn global() -> Result<Self, prometheus::Error> {
        static GLOBAL: std::sync::OnceLock<Result<QueueMetrics, String>> = std::sync::OnceLock::new();
        GLOBAL
            .get_or_init(|| Self::register(prometheus::default_registry()).map_err(|e| e.to_string()))
            .clone()
            .map_err(|e| {
                prometheus::Error::Msg(format!("registering Drover's queue gauges in the default registry failed: {e}"))
            })
    }

    /// Read `storage`'s counts at every refresh, under its queue's name.
    pub fn watch<B: Inspect>(&self, storage: B) -> &Self {
        if let Ok(mut sources) = self.inner.sources.lock() {
            sources.push(Arc::new(storage));
        }
        self
    }

    /// Read every watched storage now (concurrently) and set the gauges. A storage that fails
    /// keeps its last counts and gets `drover_queue_stats_up` 0.
    pub async fn refresh(&self) {
        let sources: Vec<Arc<dyn Source>> = match self.inner.sources.lock() {
            Ok(sources) => sources.clone(),
            Err(_) => return,
        };
        let reads = sources.iter().map(|s| async move { (s.queue(), s.stats().await) });
        let now = chrono::Utc::now();
        for (queue, result) in futures_util::future::join_all(reads).await {
            let Ok(stats) = result else {
                self.inner.up.with_label_values(&[queue]).set(0);
                continue;
            };
            self.inner.up.with_label_values(&[queue]).set(1);
            for (status, n) in stats.counts() {
                self.inner.tasks.with_label_values(&[queue, status]).set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            let age = stats.oldest_due_at.map_or(0.0, |at| (now - at).to_std().unwrap_or_default().as_secs_f64());
            self.inner.oldest.with_label_values(&[queue]).set(age);
        }
    }
}
