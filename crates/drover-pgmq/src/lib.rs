//! PGMQ storage for [Drover](https://docs.rs/drover): background jobs in [pgmq] queues.
//!
//! [pgmq]: https://github.com/pgmq/pgmq
//!
//! People pick pgmq because other services, in other languages, already speak its SQL API.
//! [`PgmqStorage`] keeps to that API's data: a job is a pgmq message whose body is the job's
//! JSON, so a message sent with `pgmq.send` from psql or Python is run by a Drover worker, and
//! a Drover push is read with `pgmq.read` by any pgmq client. Dead tasks go to a pgmq queue of
//! their own, `<queue>_dead`, that any pgmq client can read.
//!
//! ```no_run
//! use drover_core::{BoxDynError, Enqueue, WorkerBuilder};
//! use drover_pgmq::{PgmqConfig, PgmqStorage};
//! use serde::{Deserialize, Serialize};
//! use sqlx::PgPool;
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
//! let pool = PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
//! let storage = PgmqStorage::new_with_config(pool, PgmqConfig::new("emails"));
//! // Checks that pgmq is installed; creates the queues `emails` and `emails_dead`.
//! storage.setup().await?;
//! storage.push(Email { to: "user@example.com".into() }).await?;
//! // Elsewhere: SELECT pgmq.send('emails', '{"to": "other@example.com"}');
//! let worker = WorkerBuilder::new("email-worker").concurrency(10).backend(storage).build_fn(send_email);
//! worker.run_until(tokio::signal::ctrl_c()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`PgmqStorage`] implements `Backend`, `Enqueue`, `Inspect`, `Cancel`, `Requeue`, `Prune` and
//! `EnqueueInTransaction`, and passes the conformance suite's checks for them. pgmq has no
//! priorities and no unique keys: a push asking for either is refused with
//! `BackendError::Unsupported` (the suite's `refuses_*` checks). The crate re-exports
//! [`sqlx`] so the pool you build matches its version.
//!
//! # Installing pgmq
//!
//! pgmq 1.11 or newer must be in the database: `CREATE EXTENSION pgmq` where the extension is
//! packaged, or pgmq's `pgmq.sql` run with psql into a plain PostgreSQL (it creates the `pgmq`
//! schema and functions without the extension). The PyPI package `pgmq` ships that file as
//! `pgmq/sql/pgmq.sql`; in this repository `cargo xtask services` installs it once per
//! machine. [`PgmqStorage::setup`] checks for it and says how to install it when it is missing.
//! The tests run against pgmq 1.13.0 (that package's); they also passed on 1.11.1 (the SQL the
//! `pgmq` crate 0.33.7 embeds), checked by hand.
//!
//! # How the contract maps onto pgmq
//!
//! | Drover | pgmq |
//! |---|---|
//! | task id | the message's `msg_id` ([`task_id`], [`msg_id`]); kept in the dead queue and on requeue |
//! | push, `push_bulk`, delayed push | `pgmq.send_batch(queue, msgs, headers, delay)`, the run time as pgmq's timestamp delay; one call per run time and 10,000 messages |
//! | push in the caller's transaction | the same call on the caller's connection ([`PgmqStorage::push_in_tx`], `EnqueueInTransaction`) |
//! | claim under a lease | `pgmq.read`'s statement on `pgmq.q_<queue>`: the lease is the visibility timeout, as many messages as the worker has room for |
//! | lease token | `read_ct` after the read: every read raises it, so it fences |
//! | attempt | `read_ct` minus the claims handed back (`x-drover-released`) |
//! | heartbeat | `pgmq.set_vt`, fenced by `read_ct` |
//! | done | `pgmq.archive` (or `pgmq.delete` with [`OnDone::Delete`]), fenced by `read_ct` |
//! | retry with backoff | `pgmq.set_vt` to now + the delay, fenced, the error in the headers |
//! | dead | the message moves to the pgmq queue `<queue>_dead` in the same statement |
//! | hand-back on shutdown | `pgmq.set_vt(queue, id, 0)`, fenced |
//! | cancel | the message moves to the archive, marked `x-drover-status: cancelled` |
//! | requeue | back from the dead queue (or archive) under its own `msg_id`, `read_ct` 0 |
//! | inspection | the queue, archive and dead queue tables (`QueueStats::oldest_due_at` is the oldest due `vt`); [`PgmqStorage::metrics`] is `pgmq.metrics` |
//! | wake-ups | `LISTEN` on `pgmq.q_<queue>.INSERT` ([`PgmqConfig::set_notify_insert`]), else polling |
//!
//! Claims, completions, heartbeats and hand-backs run pgmq's own statements on its tables
//! rather than its functions, for two reasons. pgmq has no receipt handle: `pgmq.delete(q, id)`
//! from a worker whose visibility timeout passed deletes the message another reader holds now,
//! so every one of these statements adds `AND read_ct = <the claim's read_ct>`. And pgmq takes
//! visibility timeouts in whole seconds, where leases are durations (the conformance suite
//! leases for 400 ms). Pushes, queue creation and metrics call pgmq's functions.
//!
//! ## The envelope in headers
//!
//! The body is the job; what Drover adds is in the message's headers, under `x-drover-*`
//! keys: `x-drover-max-attempts` (absent: 25), `x-drover-error` (the last error),
//! `x-drover-released`, `x-drover-retried`, and in the dead queue `x-drover-id`,
//! `x-drover-attempts` and `x-drover-enqueued-at`. A message without headers, as psql sends
//! it, runs with the defaults. Every read counts as an attempt, whoever reads: a message that
//! another client read and let go is on a later attempt when a Drover worker gets it, and one
//! read more often than its attempt limit is dead at the next claim. The worker gets the body as PostgreSQL prints it
//! (`message::text`, what `pgmq.read` returns to every client), byte for byte.
//!
//! jsonb keeps a document, not its bytes (it drops whitespace and orders keys), so a Drover
//! push also says in `x-drover-body` how to give back exactly the bytes pushed: `compact` (the
//! compact form of the stored document, true of most serde output), else `exact` with the
//! bytes in `x-drover-bytes`. A payload that is not JSON (another codec) is stored as a JSON
//! string, `text` or `hex`.
//!
//! ## Dead letters
//!
//! pgmq has no dead-letter handling of its own. A failure on the last attempt, an `Abort`, an
//! undecodable payload, or a lease that expired on the last attempt (found by the next claim)
//! deletes the message from the queue and sends it to `<queue>_dead` in the same statement,
//! with the body unchanged. Read it with `pgmq.read('<queue>_dead', …)`; [`Requeue`] sends
//! it back.
//!
//! # Configuration
//!
//! [`PgmqStorage::new`] uses the queue named after the job type (`Email` → `email`);
//! [`PgmqStorage::new_with_config`] takes a [`PgmqConfig`]:
//!
//! | setting | default | what it does |
//! |---|---|---|
//! | `set_queue` | the job type's name in `snake_case` | the pgmq queue; checked by [`validate_queue_name`] |
//! | `set_on_done` | [`OnDone::Archive`] | archive or delete done messages |
//! | `set_listen` | true | idle workers `LISTEN` on pgmq's insert notification |
//! | `set_notify_insert` | `None` | `setup` enables pgmq's insert notification with this throttle |
//! | `set_enqueue_chunk` | 10,000 | most messages one `send_batch` call carries |
//! | `set_claim_limit` | 1,000 | most messages one claim reads |
//!
//! Pushes from this process wake its idle workers directly. Pushes from other clients wake
//! them through `LISTEN` once insert notification is enabled on the queue; otherwise, and for
//! delayed messages and retries, workers find them at their poll interval
//! (`WorkerBuilder::poll_interval`). pgmq's notification trigger updates one row per queue
//! for each inserted message, so it is off unless asked for.
//!
//! # Queue names
//!
//! pgmq makes tables from queue names, so a name is checked before it reaches SQL: lowercase
//! ASCII letters, digits and `_`, starting with a letter or `_`, at most 42 characters (pgmq's
//! 47 less `_dead`). A storage with another name fails every call with `BackendError::Config`.
//!
//! # Feature flags
//!
//! None: the crate always builds sqlx's PostgreSQL driver with rustls.

mod backend;
mod config;
mod enqueue;
mod envelope;
mod error;
mod inspect;
mod name;
mod storage;
mod wakeup;

pub use config::{OnDone, PgmqConfig};
pub use inspect::PgmqMetrics;
pub use name::{validate_queue_name, MAX_QUEUE_NAME};
pub use sqlx;
pub use storage::{msg_id, task_id, PgmqStorage};

#[cfg(doc)]
use drover_core::Requeue;
