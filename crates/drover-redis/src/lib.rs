//! Redis storage for [Drover](https://docs.rs/drover): durable background jobs at high
//! throughput.
//!
//! ```no_run
//! use drover_core::{BoxDynError, Enqueue, WorkerBuilder};
//! use drover_redis::{Config, RedisStorage};
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
//! let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
//! let conn = drover_redis::connect(&redis_url).await?;
//! let storage = RedisStorage::new_with_config(conn, Config::default().set_namespace("email"));
//! storage.push(Email { to: "user@example.com".into() }).await?;
//! let worker = WorkerBuilder::new("email-worker").concurrency(10).backend(storage).build_fn(send_email);
//! worker.run_until(tokio::signal::ctrl_c()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # How it stores a queue
//!
//! Every key of a queue starts with `drover:{<namespace>}`; the braces make the namespace a
//! Redis Cluster hash tag, so a queue's keys share one slot and every script may touch them
//! together (see [Redis Cluster](#redis-cluster)). A task is a hash `drover:{ns}:task:<id>`: payload, status, max
//! attempts and run time, plus attempt, priority, lease token, unique key, last error and
//! update time once they leave their defaults (a push writes four fields). Its creation time is
//! its id's (a ULID). Indexes, all sorted sets:
//!
//! | key | holds | score |
//! |---|---|---|
//! | `ready` | due pending tasks | minus the priority; ties by run time, then id |
//! | `scheduled` | pending tasks due later (delays, retry backoff) | run time |
//! | `leases` | running tasks | lease deadline |
//! | `ids` | every task | 0: members sort by id, so pages are newest first by rank |
//! | `done`, `dead`, `cancelled` | finished tasks of each status | 0, as `ids` |
//!
//! Listing pending or running tasks scans `ids` newest first (5,000 ids per script call):
//! keeping id-ordered sets for them too would cost two more writes per task on the hot path.
//!
//! Every state change is one Lua script (`scripts/*.lua`), so it is atomic and a claim can
//! never hand one task to two workers. Times come from the server's clock (`TIME`). A claim
//! first makes expired leases pending again (or dead, on the last attempt) and moves due
//! scheduled tasks to `ready`, then pops up to 1,000 tasks. Completions arrive in batches of
//! up to 1,000, one script call each, each applied only where its lease token still matches.
//! No script unpacks or returns more than about 1,000 items, whatever the backlog: pushes
//! are split into chunks of 1,000 (a few in flight at once), and every maintenance step is
//! bounded per call.
//!
//! If the server restarts, the connection reconnects by itself and the scripts are loaded
//! again on their first `NOSCRIPT`; failed calls are retried by the worker with backoff, and
//! a claim whose reply was lost comes back when its lease expires. For durability run Redis
//! with `appendonly yes` (and `appendfsync always` to lose no acknowledged write).
//!
//! # Redis Cluster
//!
//! With the `cluster` feature, `connect_cluster` connects to a Redis Cluster, and every
//! storage, [`RedisAdmin`], inspection, the worker registry and wake-ups work on it unchanged
//! (the conformance suite and the admin suite pass on a cluster of three masters and three
//! replicas, `tests/cluster_conformance.rs`):
//!
//! ```no_run
//! # #[cfg(feature = "cluster")]
//! # async fn run() -> Result<(), drover_core::BackendError> {
//! use std::time::Duration;
//! use drover_redis::{Config, RedisStorage};
//!
//! let nodes = ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379", "redis://10.0.0.3:6379"];
//! let conn = drover_redis::connect_cluster(&nodes).await?;
//! // Each push waits until one replica has it (see below).
//! let config = Config::new("email").set_wait_for_replicas(1, Duration::from_millis(500));
//! let storage: RedisStorage<String> = RedisStorage::new_with_config(conn, config);
//! # Ok(())
//! # }
//! ```
//!
//! - **Slots.** Every key of a queue carries the hash tag `{<namespace>}`, so the queue lives
//!   in one slot, on one master, and each script touches only that slot (keys a script builds
//!   itself, such as task hashes, carry the same tag). Queues spread over the masters by name:
//!   one queue is served by one master, many queues by all of them. The set of queue names
//!   (`drover:queues`) and the worker registry (`drover:{registry}:…`) are slots of their own,
//!   written by commands of their own, never inside a queue's script or pipeline.
//! - **Routing and failover.** redis-rs's cluster client sends each command to the master of
//!   its slot, follows `MOVED` and `ASK`, and re-reads the slot map after a failover;
//!   redirections, `TRYAGAIN`, `CLUSTERDOWN` and a dropped node that still surface are
//!   connection errors, which the worker retries with backoff. [`RedisStorage::purge`] scans
//!   the master that holds the queue's slot.
//! - **Wake-ups.** `PUBLISH` on a cluster reaches every node, so each storage subscribes on a
//!   plain connection to one node given to `connect_cluster` and moves on to the next one
//!   when that fails; workers poll at their poll interval meanwhile.
//! - **Durability.** Replication is asynchronous: a push the master acknowledged and lost in
//!   a crash before its replica copied it (usually within a millisecond) is gone once the
//!   replica takes over. [`RedisConfig::set_wait_for_replicas`] closes that window for
//!   pushes (`WAIT` after each push, a second round trip); a lost claim or completion is not
//!   lost work, its task runs again when its lease expires. Without it, the window stays.
//!   `tests/cluster_fault.rs` kills the master of a queue's slot mid-drain: its replica takes
//!   over and every job completes.
//!
//! RSMQ (`drover-rsmq`) cannot run on a cluster: rsmq's key layout has no hash tags, and its
//! storages refuse a cluster connection.
//!
//! # Wake-ups
//!
//! Scripts that make work due publish on `drover:{ns}:signal`; each storage that a worker
//! uses holds one dedicated subscription and wakes its idle workers on a message, so idle
//! workers wait instead of polling. Scheduled tasks become due without a message; workers
//! find them at their poll interval (1 s by default). A storage built from a bare
//! `ConnectionManager` (no client to open the subscription with) polls.
//!
//! # Retention
//!
//! Finished tasks do not pile up: done tasks are deleted once older than
//! [`RedisConfig::set_done_ttl`](crate::RedisConfig::set_done_ttl) (one day, counted from the task's creation) and beyond
//! [`RedisConfig::set_done_cap`](crate::RedisConfig::set_done_cap) (10,000, oldest first); dead and cancelled tasks likewise with
//! [`RedisConfig::set_dead_ttl`](crate::RedisConfig::set_dead_ttl) (30 days) and [`RedisConfig::set_dead_cap`](crate::RedisConfig::set_dead_cap) (10,000 each). Every
//! completion enforces the caps, and a claim that finds the queue short of work enforces the
//! ages, each a bounded amount per call, so memory stays bounded under any load.
//!
//! # Capabilities
//!
//! Every optional ability: priorities (any `i32`) and unique keys on push,
//! [`Inspect`](drover_core::Inspect) (plus
//! [`RedisStorage::workers`] and [`RedisStorage::queues`]), [`Cancel`](drover_core::Cancel),
//! [`Requeue`](drover_core::Requeue), and
//! [`EnqueueBatch`](drover_core::EnqueueBatch) (pushes buffered and stored
//! atomically on commit).
//!
//! # Feature flags
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `tls-rustls` | no | `rediss://` URLs, TLS through rustls |
//! | `cluster` | no | `connect_cluster`: Redis Cluster, through redis-rs's `cluster-async` |
//!
//! # Tests
//!
//! `cargo test -p drover-redis` runs the conformance suite and this crate's own tests against
//! the server at `REDIS_URL` (default `redis://127.0.0.1:6379`); each test uses its own
//! namespace. The restart and crash tests start their own `redis-server` on a spare loopback
//! port, so the `redis-server` binary must be installed. With the `cluster` feature (which
//! `cargo xtask test` turns on), `tests/cluster_*.rs` start clusters of their own with
//! `redis-server` and `redis-cli` on loopback ports 7100-7115 and kill them when done.

mod admin;
mod config;
mod connection;
mod inspect;
mod keys;
mod registry;
mod scripts;
mod spin;
mod storage;
mod ticks;
mod transaction;
mod values;
mod wakeup;

pub use admin::RedisAdmin;
pub use config::{Config, RedisConfig, DEFAULT_PUSH_SPIN, MAX_BATCH};
#[cfg(feature = "cluster")]
pub use connection::connect_cluster;
pub use connection::{backend_error, connect, RedisConnection};
pub use inspect::WorkerSeen;
pub use storage::RedisStorage;
pub use transaction::RedisBatch;

/// The redis crate this storage is built on, for making your own `ConnectionManager`.
pub use redis;
