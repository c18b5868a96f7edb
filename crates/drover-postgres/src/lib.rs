//! PostgreSQL storage for [Drover](https://docs.rs/drover): durable background jobs in the
//! database you already run, with transactional enqueue.
//!
//! ```no_run
//! use drover_core::{BoxDynError, Enqueue, WorkerBuilder};
//! use drover_postgres::PostgresStorage;
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
//! let database_url = std::env::var("DATABASE_URL")?;
//! let pool = PgPool::connect(&database_url).await?;
//! // Run migrations to create the jobs table
//! PostgresStorage::setup(&pool).await?;
//! let storage = PostgresStorage::new(pool);
//! storage.push(Email { to: "user@example.com".into() }).await?;
//! let worker = WorkerBuilder::new("email-worker").concurrency(10).backend(storage).build_fn(send_email);
//! worker.run_until(tokio::signal::ctrl_c()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`PostgresStorage`] implements every capability of the contract: `Backend`, `Enqueue` (with
//! priorities and unique keys), `Inspect`, `Cancel`, `Requeue` and `EnqueueInTransaction`, and
//! passes the whole conformance suite. Connections use TLS (rustls) when the URL asks for it
//! (`sslmode=require`). The crate re-exports [`sqlx`] so the pool you build matches its
//! version.
//!
//! # Configuration
//!
//! [`PostgresStorage::new`] uses the queue named after the job type (`Email` → `email`, see
//! [`default_queue_name`](drover_core::default_queue_name)) and the defaults below;
//! [`PostgresStorage::new_with_config`] takes a [`PostgresConfig`]:
//!
//! | setting | default | what it does |
//! |---|---|---|
//! | `set_queue` | the job type's name in `snake_case` | the queue name; the default does not change when the type moves to another module, only when it is renamed |
//! | `set_enqueue_chunk` | 10,000 | most rows one insert statement takes; larger `push_bulk` calls are split inside one transaction |
//! | `set_claim_limit` | 1,000 | most rows one claim statement takes |
//! | `set_listen` | true | wait on `LISTEN/NOTIFY`; off, workers poll |
//! | `set_transaction_pooling` | false | the pool goes through a pooler in transaction mode (PgBouncer); see "Behind PgBouncer" |
//! | `set_listen_url` | none | the `LISTEN` connection's own URL, straight to PostgreSQL (instead of one of the pool's) |
//! | `set_claim_commit` | [`ClaimCommit::Synchronous`] | how a claim's commit reaches disk (see "Tuning") |
//! | `set_retention` | [`Retention::default`] | how long done (1 day), dead and cancelled (7 days) tasks are kept |
//!
//! The lease, heartbeat, concurrency and poll interval are the worker's
//! (`WorkerBuilder::lease`, `heartbeat`, `concurrency`, `poll_interval`). The poll interval is
//! also the fallback when no wake-up comes: while the listener reconnects, with `set_listen(false)`,
//! and for scheduled tasks and retries, which are found by the next claim after they fall due.
//! Several storages (queues, job types) can share one pool: they share its listener too.
//! The pool needs a connection for the listener besides those the workers use; sqlx's default
//! of 10 suits a few workers.
//!
//! There are no cargo features: the crate always builds the PostgreSQL driver with rustls.
//!
//! # Schema
//!
//! [`PostgresStorage::setup`] applies the embedded migrations (`migrations/*.sql`) into the
//! schema `drover`, each once, in one transaction under `pg_advisory_xact_lock`: run it at
//! every start-up, from as many processes at once as you like. Applied versions and their
//! checksums are in `drover.schema_migrations`; an edited migration is refused.
//!
//! One table, `drover.tasks`: `id uuid` (the task's ULID, so `ORDER BY id` is creation order
//! and `TaskId::from_u128(uuid.as_u128())` is the id), `queue`, `payload bytea` (the encoded
//! job, JSON by default), `status` (`pending`, `running`, `done`, `dead`, `cancelled`),
//! `attempt`, `max_attempts`, `run_at`, `priority`, `unique_key`, `last_error`, `lease_token`,
//! `lease_expires_at`, `worker`, `created_at`, `updated_at`. Its indexes, and what uses them:
//!
//! | index | columns | used by |
//! |---|---|---|
//! | `tasks_pending_claim_idx` | `(queue, priority DESC, run_at, id) WHERE status = 'pending'` | claims: due tasks in claim order, read from the top; pending counts and pages |
//! | `tasks_running_lease_idx` | `(queue, lease_expires_at) WHERE status = 'running'` | claims: expired leases, read from the oldest deadline; running counts and pages |
//! | `tasks_finished_idx` | `(queue, status, id) WHERE status IN ('done', 'dead', 'cancelled')` | retention, counts and pages of finished tasks, the queue list |
//! | `tasks_unique_key_idx` | unique `(queue, unique_key) WHERE unique_key IS NOT NULL AND status IN ('pending', 'running')` | unique keys |
//! | primary key | `id` | completions, leases, cancel, requeue, get |
//!
//! A claim is one statement (`sql/claim.sql`): it locks up to N due pending tasks from the
//! first index and up to N expired running tasks from the second, each with `FOR UPDATE SKIP
//! LOCKED` (so concurrent claims take disjoint tasks and never wait on each other), merges
//! them in claim order (priority, then `run_at`, then id), and updates the first N: status
//! running, attempt + 1, a new token from `drover.lease_token_seq`, `lease_expires_at = now() +
//! lease`. Two partial indexes rather than one over both states: with one, every claim would
//! step over the live leases, and a pending task's position depends on `run_at` while an
//! expired one's depends on its deadline, so neither order serves both. Expired leases are
//! thus claimed again by the same statement; no separate rescuer is needed. An expired task on
//! its last attempt is made dead in that statement instead (a job that kills its worker must
//! not loop). Every timestamp is the server's `now()`.
//!
//! Completions are one statement per batch (`UPDATE … FROM unnest($ids, $tokens, $kinds,
//! $delays, $errors)`), each row fenced by its lease token, so stale acks change nothing. A
//! retry writes `pending`, `run_at = now() + delay` and the error in that same statement.
//! Lease extensions and hand-backs are batched the same way; a bulk push is one `INSERT …
//! SELECT FROM unnest(…)` per chunk, and with unique keys an `ON CONFLICT DO NOTHING` against
//! the partial unique index that returns, for a duplicate, the id of the live task holding the
//! key (looked up again with a fresh snapshot if that task committed concurrently).
//!
//! Scheduled tasks are pending rows with a future `run_at`: cheap to store, but a claim that
//! finds fewer due tasks than it wants steps over the queue's scheduled entries of the
//! priorities it scans. Millions of far-future tasks in one queue make idle claims slower;
//! put them in a queue of their own if that matters.
//!
//! # Wake-ups
//!
//! Statements that make work due send `pg_notify('drover_tasks', <queue>)`. One listener
//! connection per pool (shared by every storage of that pool) routes notifications to the
//! queue's idle workers, debounced (a burst wakes each queue once), and reconnects with
//! backoff (100 ms doubling to 30 s), waking every queue when it is back. Pushes through the
//! pool wake this process's workers at once and notify other processes right after their
//! commit, from a separate statement: PostgreSQL serializes the commits of notifying
//! transactions, so a `NOTIFY` inside every push would make pushes wait for each other's disk
//! flushes. Pushes inside your transaction notify within it, so workers wake when it commits.
//!
//! # Behind PgBouncer
//!
//! A pooler in **transaction** mode (PgBouncer's `pool_mode = transaction`) lends a server
//! connection to a client for one transaction at a time. Two things the default mode relies
//! on do not survive that: sqlx's named prepared statements (prepared once per client
//! connection, but they live on one server connection), and sqlx's two protocol syncs per
//! statement (parse, then execute), between which the pooler may switch servers outside a
//! transaction. [`PostgresConfig::set_transaction_pooling`] turns on a mode in which every
//! statement is unnamed (`persistent(false)`) and runs inside a transaction, its own
//! (`BEGIN … COMMIT`) or the one it is part of, so its server stays the same throughout:
//!
//! ```no_run
//! use drover_postgres::{PostgresConfig, PostgresStorage};
//! use sqlx::postgres::PgPoolOptions;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // The pool goes to PgBouncer; the set-up may too (one transaction of unnamed statements).
//! let pool = PgPoolOptions::new().connect("postgres://app@pgbouncer.internal:6432/app").await?;
//! PostgresStorage::setup(&pool).await?;
//! let config = PostgresConfig::new("emails")
//!     .set_transaction_pooling(true)
//!     // LISTEN needs a session: its connection goes straight to PostgreSQL.
//!     .set_listen_url("postgres://app@db.internal:5432/app");
//! let storage: PostgresStorage<String> = PostgresStorage::new_with_config(pool, config);
//! # Ok(())
//! # }
//! ```
//!
//! What else holds a session, and how this mode deals with it:
//!
//! - **`LISTEN`** waits on one session: through the pooler it would listen on whichever
//!   server ran it. With a listen URL, one connection per pool and URL goes straight to
//!   PostgreSQL. Without one, workers wake at once only for pushes from their own process and
//!   otherwise find work at their poll interval. `pg_notify` inside transactions (the
//!   wake-ups other processes hear) works through the pooler.
//! - **Migrations** take `pg_advisory_xact_lock`, a transaction-scoped lock, inside their one
//!   transaction: they run through the pooler. No session-level advisory lock, `SET`
//!   (claims with [`ClaimCommit::Asynchronous`] use `set_config(…, true)`, local to the
//!   transaction), temporary table or `after_connect` hook is used.
//! - **Your own statements** on that pool need the same care: `.persistent(false)` on each
//!   query (sqlx's `statement_cache_capacity(0)` is not enough: it still names its
//!   statements), and inside a transaction. [`PostgresStorage::enqueue_in`] and
//!   [`push_in_tx`](PostgresStorage::push_in_tx) begin one on a connection that is not in
//!   a transaction. PgBouncer must also accept sqlx's start-up parameter:
//!   `ignore_startup_parameters = extra_float_digits` in `pgbouncer.ini`.
//! - [`PostgresAdmin::set_transaction_pooling`] does the same for the admin.
//!
//! The cost is about three more round trips per statement (`BEGIN`, the separate parse,
//! `COMMIT`) and a plan made for each statement; docs/benchmarks.md has the figures. Leave
//! the mode off when connecting straight to PostgreSQL or through a pooler in session mode:
//! the default mode is unchanged by it. PgBouncer 1.21 and later can keep prepared statements
//! across transaction pooling (`max_prepared_statements`), which would allow named statements
//! again; only 1.18 (Debian bookworm's) is tested here, with the mode on.
//!
//! # Enqueue from SQL (other languages)
//!
//! Producers that are not Rust call `drover.push_job`:
//!
//! ```sql
//! drover.push_job(queue text, payload jsonb, run_at timestamptz DEFAULT now(),
//!                 priority integer DEFAULT 0, unique_key text DEFAULT NULL,
//!                 max_attempts integer DEFAULT 25) RETURNS text
//! ```
//!
//! It returns the task id as the 26-character ULID that `TaskId` parses (for a duplicate
//! unique key, the live task's id), and wakes the queue's workers when the transaction
//! commits. For example, with psql:
//!
//! ```text
//! $ psql "$DATABASE_URL" -c "SELECT drover.push_job('email', '{\"to\": \"user@example.com\"}')"
//!          push_job
//! ----------------------------
//!  01JDQ7ZK3R8YB2M4N6P7S9T0V1
//! $ psql "$DATABASE_URL" -c "SELECT drover.push_job('email', '{\"to\": \"a@b.c\"}',
//!        run_at => now() + interval '10 minutes', priority => 5, unique_key => 'welcome:42')"
//! ```
//!
//! The payload is stored as the UTF-8 text of the JSON, so the default [`JsonCodec`](drover_core::JsonCodec)
//! reads it. `drover.new_task_id()` makes an id (a ULID as uuid) and `drover.task_id_text(uuid)`
//! prints one, for queries by hand: `SELECT drover.task_id_text(id), status FROM drover.tasks`.
//!
//! # Enqueue in your transaction
//!
//! [`PostgresStorage::push_in_tx`] (and [`push_in_tx_with`](PostgresStorage::push_in_tx_with),
//! [`enqueue_in`](PostgresStorage::enqueue_in)) take your `&mut PgConnection` — a
//! `sqlx::Transaction` derefs to one — so the job commits or rolls back with your own writes.
//! The `EnqueueInTransaction` trait does the same with a transaction the storage begins.
//!
//! # Inspection, cancel, requeue, retention
//!
//! `Inspect` counts by status, pages by status newest first, and gets by id, all from indexes;
//! [`PostgresStorage::queues`] lists queues by an index skip scan and
//! [`PostgresStorage::workers`] the workers holding claims. Counting is an index-only scan
//! over the queue's entries, so it grows with the rows kept: keep retention on. Cancel revokes
//! a running task's claim (its completion is then ignored); requeue makes a dead or cancelled
//! task pending with attempts reset, unless its unique key is taken meanwhile.
//!
//! [`PostgresStorage::prune`] is one retention pass: it deletes finished tasks older than
//! their [`Retention`] age, at most `batch` rows per statement (each its own short
//! transaction) until none are left. Run it periodically with
//! `tokio::spawn(storage.clone().run_retention())`, which prunes every `Retention::interval`
//! and survives database restarts.
//!
//! # Tuning
//!
//! - **Claim ahead**. The worker, not the storage, decides how many tasks a claim takes:
//!   by default it claims ahead adaptively (`WorkerBuilder::prefetch_adaptive`), so with
//!   short jobs one claim statement — one round trip and one commit — takes a large batch.
//!   `set_claim_limit` caps any one claim.
//! - **Claim commit** (`set_claim_commit`). Each claim is a write transaction; by default it
//!   waits for its WAL flush like any other. [`ClaimCommit::Asynchronous`] sets
//!   `synchronous_commit = off` for the claim's own transaction only: a crash can forget a
//!   claim made in the last few hundred milliseconds, which puts the task back as it was
//!   (pending, or leased to its previous claim) to run again — the same at-least-once outcome
//!   as a worker crash. Enqueues and completions always commit synchronously.
//! - **Pool size**: one connection for the listener, one per claim, completion and heartbeat
//!   in flight per worker, plus your producers. 10 to 20 suits most processes.
//! - **Pool ping**: sqlx pings every connection it hands out (`test_before_acquire`, on by
//!   default), a round trip per statement. `PgPoolOptions::new().test_before_acquire(false)`
//!   saves it; a connection broken meanwhile then fails one call, which the worker retries
//!   with backoff. The bench runs this way.
//! - **Prepared statements**: every statement has a fixed text and binds its values (arrays
//!   for batches), so sqlx prepares it once per connection and PostgreSQL caches its plan
//!   (not behind a transaction-mode pooler: see "Behind PgBouncer").
//! - **Server**: a queue table turns over fast; the migration sets aggressive autovacuum
//!   thresholds on it (`autovacuum_vacuum_scale_factor = 0.02`: a vacuum after 2% of its rows
//!   changed). Keep autovacuum on, and retention on so finished rows do not pile up. Every
//!   claim and completion leaves a dead row version and dead index entries until a vacuum;
//!   on a busy server give autovacuum room to keep up: `autovacuum_vacuum_cost_limit` of
//!   1,000–2,000 (the default 200 is slow on SSDs), `autovacuum_naptime` of 10–30 s, and no
//!   transaction left open for minutes (it stops every vacuum from removing anything).
//! - **Long drains** (claim hints). Between two vacuums, the dead index entries a drain
//!   leaves sit at the front of the claim's two index scans, and without hints every claim
//!   walks them: after a million tasks, 60 ms per claim here. So once a storage has claimed
//!   5,000 tasks in full batches in a row, its claims start the due scan where its last
//!   full batch started and leave the expired-lease scan out. A full claim still runs
//!   whenever a claim comes back short, and at least every 250 ms (or 20 times what the last
//!   full claim took, if longer): during a long drain a task that sorts before the backlog —
//!   a higher priority, a `run_at` in the past — or an expired lease can wait that long
//!   (about a second at worst) before it is claimed. The conformance check `long_drain`
//!   holds this to 3 s. `cargo xtask bench --backend postgres --scale 1000000` measures it.
//!
//! # Running the tests
//!
//! The tests talk to a real server at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`; start a local one with `cargo xtask services`
//! or `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`):
//!
//! ```text
//! cargo test -p drover-postgres
//! ```
//!
//! `tests/conformance.rs` runs the whole conformance suite, each check on its own queue;
//! `tests/faults.rs` kills a real worker process with SIGKILL mid-job and feeds undecodable
//! rows; `tests/restart.rs` restarts the local server with `pg_ctlcluster` during a drain
//! (so it needs a local cluster it may restart); `tests/sql.rs` calls `drover.push_job`
//! through the `psql` binary and checks migrations, wake-ups, unique keys and retention.
//! `tests/conformance_pgbouncer.rs` starts PgBouncer (Debian's `pgbouncer`, installed by
//! `cargo xtask services`) in transaction mode on a free port of 6432-6439, in front of the
//! database `drover_pgb` of the same server (created if missing), and runs the conformance
//! suite and the admin's through it with 4 server connections, plus a check that the default
//! mode fails there.
//! Throughput is measured by `cargo xtask bench --backend postgres`, never by tests.

mod admin;
mod backend;
mod config;
mod db;
mod enqueue;
mod error;
mod hint;
mod inspect;
mod listener;
mod migrate;
mod registry;
mod retention;
mod storage;
mod ticks;

pub use admin::PostgresAdmin;
pub use config::{ClaimCommit, PostgresConfig, Retention};
pub use drover_core::Pruned;
pub use inspect::WorkerInfo;
pub use storage::PostgresStorage;

/// The sqlx this crate is built with, so applications use the same version for their pool.
pub use sqlx;
