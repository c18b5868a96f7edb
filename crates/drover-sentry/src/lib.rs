//! Sentry for Drover workers: a transaction per job, its errors and panics captured once with
//! the job's context, and whether a failure will be retried or left the job dead.
//!
//! [`SentryLayer`] goes beside `sentry_tower::NewSentryLayer::new_from_top()`, which gives each
//! job a hub of its own (a copy of the current one) and runs the job in it. Put
//! `NewSentryLayer` first (outside), then `SentryLayer`:
//!
//! ```
//! use drover_core::{BoxDynError, Enqueue, MemoryStorage, WorkerBuilder};
//! use drover_sentry::SentryLayer;
//! use sentry_tower::NewSentryLayer;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Email { to: String }
//!
//! async fn send_email(job: Email) -> Result<(), BoxDynError> {
//!     println!("sending to {}", job.to);
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxDynError> {
//! // The DSN comes from SENTRY_DSN. Transactions are sent only with a traces sample rate
//! // (none by default: errors only).
//! let _sentry = sentry::init(sentry::ClientOptions::new().traces_sample_rate(0.2));
//! let storage = MemoryStorage::named("email");
//! storage.push(Email { to: "user@example.com".into() }).await?;
//! let worker = WorkerBuilder::new("email-worker")
//!     .layer(NewSentryLayer::new_from_top())
//!     .layer(SentryLayer::new())
//!     .backend(storage)
//!     .build_fn(send_email);
//! worker.run_until(tokio::time::sleep(std::time::Duration::from_millis(20))).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Through the facade: `drover = { features = ["sentry"] }` and
//! `use drover::layers::sentry::SentryLayer;`.
//!
//! # What each job reports
//!
//! - A transaction named after the queue (the worker's name when it has none), op
//!   `queue.process`, with the data of Sentry's queue monitoring: `messaging.system` (`drover`),
//!   `messaging.message.id` (the task id), `messaging.destination.name` (the queue),
//!   `messaging.message.retry.count` (attempt − 1) and `messaging.message.receive.latency`
//!   (milliseconds from when the task was due to when it started). Its status is `ok` or
//!   `internal_error`; `cancelled` when the job's future was dropped before it ended (a
//!   timeout outside this layer, a shutdown).
//! - On the job's scope, so every event the job captures has them: the tags of [`tags`]
//!   (`queue`, `task_id`, `attempt`, `worker`), a `job` context (task id, queue, worker,
//!   attempt, max attempts, enqueued and due times) and the transaction as the active span.
//! - When the job fails, one event from the error (its source chain as exceptions), tagged
//!   `drover.outcome` (`retried` or `dead`, the worker's own decision:
//!   [`RunOutcome`](drover_core::RunOutcome)) and `drover.will_retry`. The transaction has the
//!   same two tags.
//! - When the job panics, one event (see below), and the outcome `panicked`.
//!
//! Without an enabled Sentry client (no `sentry::init`, or no DSN) the layer passes jobs
//! through untouched.
//!
//! # Panics are reported once
//!
//! The layer sees every panic of the job: one that unwinds through it (it catches the unwind,
//! reports, and resumes it, so the worker or a catch-panic layer outside still decides) and
//! one a catch-panic layer inside turned into a `PanicError`. It never captures a panic as an
//! ordinary error. Then:
//!
//! - when the client has Sentry's panic integration (`sentry`'s default `panic` feature), that
//!   integration's event is the report: it is captured in the panic hook, in the job's hub (so
//!   it has the job's tags and context), with the stack trace. The layer captures nothing more.
//! - without it, the layer captures one event: level `fatal`, exception type `panic`, the
//!   panic's message, no stack trace.
//!
//! The event of the panic integration is captured before the job's outcome is known, so it
//! has no `drover.outcome` tag; the transaction has it.
//!
//! # Hubs
//!
//! Tags and context go on the current hub's scope. Without `NewSentryLayer` outside, the
//! current hub is the thread's, shared by every job the thread runs, and a job's tags would
//! show on another's events: always put `NewSentryLayer::new_from_top()` first.
//!
//! # Feature flags
//!
//! None. The crate depends on `sentry-core` (the integration API, as `sentry-tower` does);
//! your program's `sentry` brings the transport and the integrations.

mod layer;
mod panic;
mod run;
mod service;
pub mod tags;

pub use layer::SentryLayer;
pub use service::Sentry;

/// The op of each job's transaction: `queue.process`.
pub const TRANSACTION_OP: &str = run::OP;
