//! MySQL 8 and MariaDB 10.6+ storage for [Drover](https://github.com/drover-rs/drover): durable
//! background jobs in the database your application already uses.
//!
//! ```no_run
//! use drover_core::{BoxDynError, Enqueue, PushOptions, WorkerBuilder};
//! use drover_mysql::{MysqlConfig, MysqlStorage};
//! use serde::{Deserialize, Serialize};
//! use sqlx::MySqlPool;
//! use std::time::Duration;
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
//! let pool = MySqlPool::connect("mysql://root@127.0.0.1:3306/test").await?;
//! MysqlStorage::setup(&pool).await?;
//! let storage = MysqlStorage::new_with_config(pool, MysqlConfig::new("email"));
//! storage.push(Email { to: "user@example.com".into() }).await?;
//! storage.push_with(Email { to: "later@example.com".into() }, PushOptions::new().delay(Duration::from_secs(60))).await?;
//!
//! // Push inside your own transaction: the job exists only if the transaction commits.
//! use drover_core::EnqueueInTransaction;
//! let mut tx = storage.begin().await?;
//! sqlx::query("UPDATE users SET welcomed = 1 WHERE id = ?").bind(42).execute(&mut *tx).await?;
//! storage.push_in(&mut tx, Email { to: "new@example.com".into() }, PushOptions::new()).await?;
//! storage.commit(tx).await?;
//!
//! let worker = WorkerBuilder::new("email-worker").backend(storage).concurrency(10).build_fn(send_email);
//! worker.run_until(tokio::signal::ctrl_c()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What it does
//!
//! Every queue lives in one table, `drover_tasks`, created by [`MysqlStorage::setup`]
//! (embedded, versioned migrations recorded in `drover_migrations`; several processes may run
//! it at once, they take turns through `GET_LOCK`).
//!
//! - **Claims** are one read-committed transaction sent as two multi-statement text queries
//!   (two round trips): candidates in claim order are read from index `drover_tasks_claim`
//!   (due pending tasks, by priority then age) and `drover_tasks_lease` (expired leases),
//!   locked through the primary key with `FOR UPDATE SKIP LOCKED`, then leased by one
//!   `UPDATE`: a new random token, the attempt counted, the deadline set by the server's
//!   clock. Concurrent workers skip each other's rows, so no two share a task. A task whose
//!   lease expired on its last attempt becomes dead in the same transaction.
//! - **Completions** are batched: one statement per batch joins the outcomes to the tasks by
//!   `(id, token)`, so a stale ack matches nothing. Retries are persisted in that statement:
//!   the error, `pending`, and `run_at = UTC_TIMESTAMP(6) + delay`.
//! - **Enqueue** is one multi-row `INSERT` (chunks of [`MysqlConfig::enqueue_chunk`] rows
//!   inside one transaction for bigger batches). Ids are ULIDs stored as `BINARY(16)`
//!   big-endian, so `ORDER BY id DESC` is newest first.
//! - **Unique keys**: MySQL has no partial indexes, so a `unique_live` column holds the key
//!   while the task is pending or running and `NULL` once it is final, under
//!   `UNIQUE (queue, unique_live)` (NULLs never collide). A duplicate push returns the id of
//!   the task holding the key.
//! - **Deadlocks** (1213) and lock wait timeouts (1205), which InnoDB can report under
//!   concurrency, are retried inside the backend a few times with a short jittered delay.
//! - **Limits across every worker**: [`drover_core::Pause`], [`drover_core::GlobalConcurrency`]
//!   (a cap on the queue's running tasks) and [`drover_core::GlobalRate`] (a rate of starts),
//!   kept in `drover_queue_settings`. The plain claim skips a paused or limited queue; a limited
//!   queue's claim is the same transaction of two round trips with more in it: it locks the
//!   queue's settings row with `SELECT … FOR UPDATE` (the queue's claims take turns there),
//!   counts the live leases in a statement of its own (read committed: a snapshot taken once
//!   the lock is granted, so it sees every claim committed before), and leases at most what
//!   [`drover_core::QueueLimits`] allows, advancing the rate's arrival time in the same commit.
//!   Slots are held by leases: a killed worker's come back when its leases expire. Per-key
//!   concurrency ([`drover_core::KeyConcurrency`], tasks pushed with
//!   `PushOptions::concurrency_key`) takes the same form: a keyed task is a candidate only while
//!   fewer than K tasks of its key pushed before it are unfinished, and a key takes at most K
//!   minus its live leases. See `docs/limits.md`.
//! - Also: priorities, scheduling, cancel, requeue of dead or cancelled tasks, inspection
//!   ([`drover_core::Inspect`]), transactional enqueue
//!   ([`drover_core::EnqueueInTransaction`], with `sqlx::Transaction<'static, MySql>`), and
//!   retention ([`MysqlStorage::prune`], bounded batches).
//!
//! Wake-ups: MySQL cannot push notifications, so workers poll at their poll interval
//! (`WorkerBuilder::poll_interval`); a push, retry or requeue made through a storage in the
//! same process wakes that process's idle workers at once.
//!
//! # Throughput
//!
//! With the server's default `innodb_flush_log_at_trx_commit = 1`, every commit waits for a
//! redo log flush (an fsync). A worker claims at most its free slots per claim and one claim at
//! a time, so its rate is bounded by the disk's flush latency plus two round trips per claim
//! (concurrency / claim time); `docs/benchmarks.md` has the figures measured here. Build the
//! pool with `MySqlPoolOptions::new().test_before_acquire(false)`: sqlx otherwise pings the
//! server before every checkout, one more round trip per call.
//!
//! **Long drains and the redo log.** Every task is written three times (pushed, leased,
//! finished), each write logged in InnoDB's redo log, and when the log fills, InnoDB must flush
//! dirty pages before it can reuse it. With MariaDB 10.11's default `innodb_log_file_size` of
//! 96 MiB, a drain of a 1,000,000-task backlog ran at 17,100–18,400 jobs/s here, about 70% of
//! a 10,000-task drain (which finishes before the log wraps); with 1 GiB it ran at
//! 21,800–23,200 jobs/s, 93% and more. Size the redo log for the write rate of your busiest
//! minutes (`innodb_log_file_size`, dynamic since MariaDB 10.9; `innodb_redo_log_capacity` on
//! MySQL 8.0.30+); the buffer pool mattered less here (1 GiB instead of 128 MiB changed
//! nothing measurable).
//!
//! # MySQL 8 and MariaDB
//!
//! The same SQL runs on both; it needs `SKIP LOCKED` (MySQL 8.0.1+, MariaDB 10.6+). Neither
//! has `UPDATE … RETURNING` (MariaDB has it for `INSERT` and `DELETE` only), which is why a
//! claim reads the rows it locked and updates them in a second statement of the same
//! transaction. Higher priorities come first through a stored generated column
//! `priority_rank = -priority` with an ascending index, because MariaDB before 10.8 ignores
//! `DESC` in index definitions. On MariaDB 10.11, `SKIP LOCKED` applied while scanning a
//! secondary index skipped rows nobody held in our tests: with two such selects in one
//! transaction (or a `UNION` of them) and other transactions running, about one claim in
//! eight found nothing in a queue holding a due task. So the claim reads candidate ids from
//! the secondary index without locking and locks them through the primary key. The tests run
//! against MariaDB 10.11; MySQL 8 is expected to work but is not tested here.
//!
//! Times are `DATETIME(6)` in UTC. Leases, retries and "now" come from the server's clock
//! (`UTC_TIMESTAMP(6)`); a run time set with `PushOptions::delay` or `run_at` is computed by
//! the producer's clock, so keep the clocks in sync (NTP).
//!
//! # Configuration
//!
//! [`MysqlConfig`]: the queue name (1 to 191 characters), the enqueue chunk, the most tasks a
//! claim takes, and the [`Retention`] of finished tasks. Unique keys may have up to 255
//! characters.
//!
//! # Feature flags
//!
//! This crate has no optional features. TLS comes with sqlx's rustls support: add
//! `?ssl-mode=required` (or `verify_ca`, `verify_identity`) to the URL.
//!
//! # Tests
//!
//! `cargo test -p drover-mysql` runs the whole conformance suite, a kill -9 test (a real worker process, `SIGKILL`ed mid-job; a
//! worker in the test completes the job after the lease), the limits across 4 worker processes
//! (`tests/limits.rs`: a cap of 5 with one process SIGKILLed, 200 starts a second for 10 s, one
//! running per key over 10 keys with a SIGKILL, and a claim that waited for the settings row's
//! lock counting the leases committed meanwhile)
//! and more (many workers on separate
//! pools, concurrent setup and unique pushes, retention) against the server at `MYSQL_URL`
//! (default `mysql://root@127.0.0.1:3306/test`); start one with `cargo xtask services` or
//! `docker compose up -d mariadb`.

mod admin;
mod claim;
mod columns;
mod complete;
mod config;
mod enqueue;
mod error;
mod inspect;
mod limits;
mod migrate;
mod registry;
mod retention;
mod storage;
mod ticks;

pub use admin::MysqlAdmin;
pub use config::{MysqlConfig, Retention, MAX_CONCURRENCY_KEY_CHARS, MAX_QUEUE_NAME_CHARS, MAX_UNIQUE_KEY_CHARS};
/// The sqlx this crate is built on, so callers name the same pool and transaction types.
pub use sqlx;
pub use storage::MysqlStorage;
