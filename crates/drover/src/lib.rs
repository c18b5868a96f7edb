//! Drover: durable background jobs for Rust.
//!
//! A small worker runtime, one crate per storage backend behind shared traits, tower layers for
//! retries, rate limits, panics and tracing, and a monitor with graceful shutdown. Every task
//! is claimed under a lease and its retries are persisted by the backend, so a crash, a kill -9
//! or a shutdown timeout never loses a job.
//!
//! ```
//! use drover::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! struct Email { to: String }
//!
//! async fn send_email(job: Email, _: Data<()>) -> Result<(), BoxDynError> {
//!     println!("sending to {}", job.to);
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxDynError> {
//! let storage = MemoryStorage::named("email");
//! storage.push(Email { to: "user@example.com".into() }).await?;
//! Monitor::new()
//!     .register(
//!         WorkerBuilder::new("email-worker")
//!             .concurrency(10)
//!             .backend(storage)
//!             .build_fn(send_email),
//!     )
//!     .run_with_signal(tokio::time::sleep(std::time::Duration::from_millis(50)))
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `postgres` | `drover::postgres`, the PostgreSQL backend (`drover-postgres`) |
//! | `sqlite` | `drover::sqlite`, the SQLite backend (`drover-sqlite`) |
//! | `mysql` | `drover::mysql`, the MySQL / MariaDB backend (`drover-mysql`) |
//! | `redis` | `drover::redis`, the Redis backend (`drover-redis`) |
//! | `amqp` | `drover::amqp`, the AMQP (RabbitMQ) backend (`drover-amqp`) |
//! | `cron` | `drover::cron`, recurring jobs (`drover-cron`) |
//! | `prometheus` | `drover::layers::prometheus`: `PrometheusLayer`, the queue gauges and the `/metrics` exporter (`drover-prometheus`) |
//! | `sentry` | `drover::layers::sentry`: `SentryLayer`, a transaction per job and its errors and panics, beside `sentry_tower::NewSentryLayer` (`drover-sentry`) |
//!
//! Backends are separate crates: add `drover-postgres`, `drover-redis`, … next to `drover`, or
//! turn on the feature of the same name to reach them as `drover::postgres`, `drover::redis`, …

pub use drover_core::*;

#[cfg(feature = "amqp")]
pub use drover_amqp as amqp;
#[cfg(feature = "cron")]
pub use drover_cron as cron;
#[cfg(feature = "mysql")]
pub use drover_mysql as mysql;
#[cfg(feature = "postgres")]
pub use drover_postgres as postgres;
#[cfg(feature = "redis")]
pub use drover_redis as redis;
#[cfg(feature = "sqlite")]
pub use drover_sqlite as sqlite;

/// Tower layers: in-process retries, panics, tracing, rate limits and timeouts.
pub mod layers {
    pub use drover_core::layers::{catch_panic, limit, rate_limit, retry, timeout, trace};

    /// Prometheus metrics: [`PrometheusLayer`](prometheus::PrometheusLayer), queue gauges and
    /// the `/metrics` exporter (the `prometheus` feature, `drover-prometheus`).
    #[cfg(feature = "prometheus")]
    pub mod prometheus {
        pub use drover_prometheus::*;
    }

    /// Sentry: [`SentryLayer`](sentry::SentryLayer), a transaction per job and its errors and
    /// panics, beside `sentry_tower::NewSentryLayer` (the `sentry` feature, `drover-sentry`).
    #[cfg(feature = "sentry")]
    pub mod sentry {
        pub use drover_sentry::*;
    }
}

/// Everything a typical worker program needs.
pub mod prelude {
    pub use drover_core::{
        Abort, Attempt, Backend, Backoff, BoxDynError, Cancel, Data, Enqueue, EnqueueBatch, EnqueueInTransaction,
        Event, Inspect, ListQuery, MemoryStorage, Monitor, PushOptions, QueueStats, Request, Requeue, RetryAfter,
        Status, TaskContext, TaskId, WorkerBuilder, WorkerContext,
    };
}

/// The guide's §7 Sentry snippet compiles as written (`docs/production.md`), and runs.
///
/// ```
/// # use drover::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize)]
/// # struct Email { to: String }
/// # async fn send_email(_job: Email) -> Result<(), BoxDynError> { Ok(()) }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxDynError> {
/// # let storage = MemoryStorage::<Email>::named("email");
/// use sentry_tower::NewSentryLayer;
/// use drover::{layers::sentry::SentryLayer, prelude::*};
///
/// # let worker =
/// WorkerBuilder::new("email-worker")
///     .layer(NewSentryLayer::new_from_top())
///     .layer(SentryLayer::new())
///     .backend(storage)
///     .build_fn(send_email)
/// # ;
/// # worker.run_until(tokio::time::sleep(std::time::Duration::from_millis(10))).await?;
/// # Ok(())
/// # }
/// ```
#[cfg(all(doctest, feature = "sentry"))]
struct SentryDoctests;

/// The README's example compiles (it runs until Ctrl+C, so it is not run).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
