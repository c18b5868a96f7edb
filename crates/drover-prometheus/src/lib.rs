//! Prometheus metrics for [Drover](https://docs.rs/drover) workers and queues.
//!
//! - [`PrometheusLayer`]: a tower layer on a worker that records each job run
//!   ([`JobMetrics`]: runs finished by outcome, run durations, runs in flight, the wait from
//!   due to start).
//! - [`QueueMetrics`]: each watched storage's counts by status and the age of the task a claim
//!   takes next, read at scrape time, so depth and age are there to alert on while no worker
//!   runs.
//! - [`Exporter`] and [`encode`] for any HTTP server, and [`router`] for axum (feature `axum`).
//!
//! As the production guide writes it (with `drover`'s `prometheus` feature, the layer is
//! `drover::layers::prometheus::PrometheusLayer`):
//!
//! ```
//! use drover_core::{BoxDynError, MemoryStorage, WorkerBuilder};
//! use drover_prometheus::PrometheusLayer;
//!
//! async fn send_email(to: String) -> Result<(), BoxDynError> {
//!     Ok(())
//! }
//!
//! let storage = MemoryStorage::<String>::new();
//! let worker = WorkerBuilder::new("email-worker")
//!     .layer(PrometheusLayer::new())
//!     .backend(storage)
//!     .build_fn(send_email);
//! # drop(worker);
//! ```
//!
//! `PrometheusLayer::new()` records into the default registry; any number of workers in one
//! process share its series (told apart by their `queue` and `worker` labels), so registering
//! a second worker never fails on duplicate names. With a registry of your own, make the
//! metrics once ([`JobMetrics::register`]) and give a clone to each layer
//! ([`PrometheusLayer::with_metrics`]).
//!
//! # Serving `/metrics`
//!
//! An [`Exporter`] holds the registry and the queues to read; [`Exporter::render`] refreshes
//! the queues and returns the text to serve, from any HTTP server. With the `axum` feature,
//! [`router`](crate::router) is a ready `GET /metrics` route; `examples/src/bin/metrics.rs` in
//! the repository runs one beside a worker and scrapes it.
//!
//! ```
//! use drover_core::{BoxDynError, MemoryStorage, Monitor, WorkerBuilder};
//! use drover_prometheus::{Exporter, JobMetrics, PrometheusLayer, QueueMetrics};
//!
//! # async fn send_email(to: String) -> Result<(), BoxDynError> { Ok(()) }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxDynError> {
//! let registry = prometheus::Registry::new();
//! let jobs = JobMetrics::register(&registry)?;
//! let queues = QueueMetrics::register(&registry)?;
//! let storage = MemoryStorage::<String>::named("email");
//! queues.watch(storage.clone());
//! let exporter = Exporter::new(registry).with_queues(queues);
//!
//! Monitor::new()
//!     .register(
//!         WorkerBuilder::new("email-worker")
//!             .layer(PrometheusLayer::with_metrics(jobs))
//!             .backend(storage)
//!             .build_fn(send_email),
//!     )
//!     .run_with_signal(tokio::time::sleep(std::time::Duration::from_millis(20)))
//!     .await?;
//! // What GET /metrics returns:
//! let text = exporter.render().await?;
//! assert!(text.contains("drover_queue_oldest_due_age_seconds{queue=\"email\"} 0"));
//! # Ok(())
//! # }
//! ```
//!
//! # Series
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `drover_jobs_total` | counter | queue, worker, outcome (`done`, `retried`, `dead`, `panicked`) |
//! | `drover_job_duration_seconds` | histogram (1 ms – 5 min) | queue, worker, outcome |
//! | `drover_jobs_in_flight` | gauge | queue, worker |
//! | `drover_job_wait_seconds` | histogram (1 ms – 1 h) | queue, worker |
//! | `drover_queue_tasks` | gauge | queue, status |
//! | `drover_queue_oldest_due_age_seconds` | gauge | queue |
//! | `drover_queue_stats_up` | gauge | queue |
//!
//! Labels are bounded: never a task id or an error text. The outcome is the worker's own
//! decision ([`drover_core::RunOutcome`]): `retried` runs will run again, `dead` ones will
//! not, and `panicked` counts a panic once, wherever the layer sits beside catch-panic.
//!
//! The repository's `deploy/prometheus/` has alerting rules for these series (failure rate,
//! dead jobs rising, queue depth, oldest due age, no worker progress), tested with `promtool
//! test rules`, and a Grafana dashboard.

#![forbid(unsafe_code)]

mod export;
mod layer;
mod metrics;
mod queues;

#[cfg(feature = "axum")]
pub use export::router;
pub use export::{encode, Exporter, CONTENT_TYPE};
pub use layer::{Prometheus, PrometheusLayer};
pub use metrics::{JobMetrics, DURATION_BUCKETS, WAIT_BUCKETS};
pub use prometheus;
pub use queues::QueueMetrics;
