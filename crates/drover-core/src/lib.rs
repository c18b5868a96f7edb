//! The core of Drover, a library for durable background jobs: the task model, the contracts
//! every storage backend implements, the worker runtime, the monitor, the built-in tower
//! layers, and an in-memory backend.
//!
//! Most programs use the `drover` facade crate (`drover::prelude::*`) and a backend crate;
//! backend and layer crates depend on this crate only. It names no backend but its own
//! in-memory one.
//!
//! ```
//! use drover_core::{BoxDynError, Enqueue, MemoryStorage, WorkerBuilder};
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
//! let storage = MemoryStorage::named("email");
//! storage.push(Email { to: "user@example.com".into() }).await?;
//! let worker = WorkerBuilder::new("email-worker").backend(storage).build_fn(send_email);
//! worker.run_until(tokio::time::sleep(std::time::Duration::from_millis(20))).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Architecture invariant: nothing in this crate knows a particular server.

mod admin;
mod backend;
mod backoff;
mod builder;
mod codec;
mod context;
mod error;
mod event;
mod extract;
mod handler;
pub mod layers;
mod memory;
mod monitor;
mod panic;
mod queue_name;
mod registry;
mod request;
mod retention;
mod run_context;
pub mod span;
mod task;
mod ticks;
mod worker;

pub use admin::{
    Admin, AdminBackend, BulkAction, QueueSummary, TaskFilter, TaskPage, Throughput, WorkerSummary, SEARCH_SCAN_LIMIT,
    THROUGHPUT_SCAN_LIMIT,
};
pub use backend::{
    Backend, Cancel, ClaimRequest, Enqueue, EnqueueBatch, EnqueueInTransaction, GlobalConcurrency, GlobalRate, Inspect,
    KeyConcurrency, ListQuery, Pause, QueueLimits, QueueStats, Rate, Requeue, Wakeup, WakeupSender,
};
pub use backoff::Backoff;
pub use builder::WorkerBuilder;
pub use codec::{Codec, CodecError, JsonCodec};
pub use context::{Extensions, TaskContext, WorkerContext};
pub use error::{Abort, BackendError, BoxDynError, Error, Result, RetryAfter};
pub use event::{Event, EventSink};
pub use extract::{Attempt, Data, FromTask};
pub use handler::{JobFn, ServiceFn};
pub use memory::{BufferedBatch, MemoryAdmin, MemoryBatch, MemoryStorage};
pub use monitor::{IntoWorkerFactory, Monitor, RunnableWorker, WorkerFactory};
pub use queue_name::{default_queue_name, resolve_queue_name};
pub use registry::{host_name, MemoryRegistry, WorkerRecord, WorkerRegistry, REGISTRY_HEARTBEAT, WORKER_AGE_OUT};
pub use request::{JobService, Request};
pub use retention::{Prune, Pruned, Retention, RetentionService};
pub use run_context::RunContext;
pub use task::{
    refuse_concurrency_keys, AttemptRecord, ClaimedTask, Completion, Lease, LeaseToken, NewTask, Outcome,
    ParseStatusError, ParseTaskIdError, PushOptions, Status, TaskId, TaskInfo, ATTEMPT_HISTORY_LIMIT,
    DEFAULT_MAX_ATTEMPTS, LEASE_EXPIRED, LEASE_EXPIRED_ON_LAST_ATTEMPT,
};
pub use ticks::{Overlap, PushTicks, TickPush, TickPushed, TickRecord};
pub use worker::{is_final, outcome_of, Prefetch, RunOutcome, Spawner, Worker, WorkerConfig};
