//! SQLite storage for [Drover](https://docs.rs/drover): durable background jobs in one file,
//! with no server. It is the default backend of Drover's demo and examples.
//!
//! ```no_run
//! use drover_core::{BoxDynError, Enqueue, WorkerBuilder};
//! use drover_sqlite::{SqliteConfig, SqliteStorage};
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
//! # #[tokio::main]
//! # async fn main() -> Result<(), BoxDynError> {
//! // The long form: your own pool, `setup` for the tables, `new` for a storage.
//! let pool = drover_sqlite::connect_pool("sqlite://jobs.db").await?;
//! SqliteStorage::setup(&pool).await?;
//! let storage: SqliteStorage<Email> = SqliteStorage::new_with_config(pool, SqliteConfig::new("email"));
//! // Or all three in one call:
//! // let storage = SqliteStorage::<Email>::connect_with_config("sqlite://jobs.db", SqliteConfig::new("email")).await?;
//!
//! storage.push(Email { to: "user@example.com".into() }).await?;
//! let worker = WorkerBuilder::new("email-worker").backend(storage).concurrency(10).build_fn(send_email);
//! worker.run_until(tokio::signal::ctrl_c()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # How it works
//!
//! - **Schema.** One table, `drover_tasks`, created by embedded, versioned migrations
//!   ([`SqliteStorage::setup`], recorded in `drover_migrations`). Ids are 16-byte ULIDs (byte
//!   order is creation order); times are integer milliseconds (UTC). Partial indexes serve the
//!   claim (due pending tasks by priority, then run time), lease expiry, unique keys and
//!   inspection.
//! - **Claims.** One `UPDATE … RETURNING` statement picks the due tasks (pending and due, or
//!   running with an expired lease), highest priority first, and leases them, each with a
//!   fresh random token. SQLite runs one writer at a time, so two claims never share a task,
//!   across processes too. A read first checks that anything is claimable, so idle polls take
//!   no write lock; while claims come back full that check, and the look for expired leases,
//!   are skipped for up to a second. A lease that expires on the last attempt makes the task
//!   dead.
//! - **Completions** of a batch are one statement (an `UPDATE … FROM (VALUES …)` fenced by
//!   each lease's token); retries are persisted in that same statement with their next run
//!   time and error. Bulk pushes are multi-row `INSERT`s, up to 3,333 rows each, in one
//!   transaction.
//! - **Wake-ups.** A push wakes the idle workers of its queue in the same process at once (a
//!   process-wide registry per database file and queue), so a producer and a worker in one
//!   program never poll. Workers in other processes on the same file find new tasks at their
//!   poll interval.
//! - **One writer, group commit.** SQLite runs one writer at a time. The storages of one file
//!   in one process write through one connection, and the writes that arrive together (a
//!   worker's completions and its next claim, pushes from producers) go as one multi-statement
//!   query in one transaction: one round trip and one commit. Each caller's write stays all or
//!   nothing. SQLite's busy timeout arbitrates between processes.
//!
//! # Durability and settings
//!
//! [`connect_options`] (used by [`connect_pool`] and [`SqliteStorage::connect`]) sets
//! `journal_mode = WAL`, `synchronous = NORMAL`, `busy_timeout` = 5 s, `foreign_keys = ON`, a
//! 16 MiB page cache and in-memory temporary storage. With WAL and `NORMAL`, commits are not
//! fsynced one by one: a crash of the process, even `kill -9`, loses nothing committed, and
//! the file is never corrupted; a power cut or OS crash may roll back the last commits since
//! the latest checkpoint (a push or completion made just before it). Where that is not
//! acceptable, set `.synchronous(SqliteSynchronous::Full)` on the options: every commit then
//! waits for the disk, at a large cost in writes per second.
//!
//! In-memory databases (`sqlite::memory:`) work too, for tests: they live as long as their
//! pool, shared by its connections. They have no WAL, so while a transaction
//! ([`EnqueueInTransaction`]) is open, the other connections cannot even read: a worker's
//! claim waits for the commit (up to the busy timeout). Use a file for transactional pushes.
//!
//! # Capabilities
//!
//! Every trait of the contract: `Backend`, `Enqueue` (with `push_with`: delay or run-at time,
//! priority, max attempts, unique key; priorities and unique keys honoured), `Inspect`, `Cancel`,
//! `Requeue`, `EnqueueInTransaction` (`Transaction = sqlx::Transaction<'static, Sqlite>`), and
//! retention with [`SqliteStorage::prune`]. Differences from the server backends, all owed to
//! SQLite being a file:
//! - One writer at a time per file: claims, completions and pushes of every process queue for
//!   the write lock. Throughput is high on one machine, but the database cannot be shared
//!   over a network file system, and an open [`EnqueueInTransaction`] transaction holds up
//!   every other writer of the file until it commits. Keep transactions short.
//! - No server push across processes: workers in another process poll (their
//!   `poll_interval`, default 1 s).
//! - Requeueing a dead or cancelled task whose unique key is now held by another pending or
//!   running task does nothing and returns `false`, keeping the key unique.
//!
//! # Feature flags and configuration
//!
//! The crate has no cargo features of its own; it uses sqlx with the `sqlite` driver (SQLite
//! is compiled in, version 3.46) and no compile-time query macros. Configuration is
//! [`SqliteConfig`] (queue name, prune batch size) and the sqlx [`SqliteConnectOptions`].
//!
//! # Tests
//!
//! `cargo test -p drover-sqlite` runs the whole `drover-conformance` suite against file
//! databases in a temporary directory (and once more against in-memory ones) and a crash test
//! that `kill -9`s a worker process mid-job. No server is needed.
//!
//! [`EnqueueInTransaction`]: drover_core::EnqueueInTransaction
//! [`SqliteConnectOptions`]: sqlx::sqlite::SqliteConnectOptions

mod admin;
mod backend;
mod batch;
mod codec;
mod config;
mod connect;
mod enqueue;
mod error;
mod group;
mod hub;
mod inspect;
mod migrate;
mod registry;
mod storage;
mod ticks;

pub use admin::SqliteAdmin;
pub use config::{Retention, SqliteConfig};
pub use connect::{connect_options, connect_pool, BUSY_TIMEOUT, FILE_POOL_SIZE};
pub use storage::SqliteStorage;

/// The sqlx crate this storage is built on, for its pool and transaction types.
pub use sqlx;
