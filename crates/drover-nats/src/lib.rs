//! NATS JetStream storage for Drover, through [async-nats](https://docs.rs/async-nats) 0.51.
//!
//! Built for nats-server **2.9** and later (CI runs 2.9.10). async-nats is compiled without its
//! `server_2_10`… features, so settings a 2.9 server would silently drop (`filter_subjects`,
//! priority groups, per-message TTLs, message schedules) do not compile here. Nothing newer is
//! required, and newer servers behave the same.
//!
//! ```no_run
//! use drover_core::{BoxDynError, Enqueue, PushOptions, WorkerBuilder};
//! use drover_nats::{NatsConfig, NatsStorage};
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Email { to: String }
//!
//! async fn send(job: Email) -> Result<(), BoxDynError> {
//!     println!("sending to {}", job.to);
//!     Ok(())
//! }
//!
//! # async fn run() -> Result<(), BoxDynError> {
//! // NATS_URL, or nats://127.0.0.1:4222; the server needs JetStream (`nats-server -js`).
//! let storage: NatsStorage<Email> = NatsStorage::connect(NatsConfig::from_env().set_queue("email")).await?;
//! storage.push(Email { to: "a@example.com".into() }).await?;
//! storage.push_with(Email { to: "b@example.com".into() }, PushOptions::new().delay(Duration::from_secs(60))).await?;
//! let worker = WorkerBuilder::new("email-worker").backend(storage).concurrency(10).build_fn(send);
//! worker.run_until(tokio::signal::ctrl_c()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Streams, consumers, subjects
//!
//! For the queue `q` (prefix `drover`, [`NatsConfig::set_prefix`]), created on connect when
//! missing:
//!
//! | name | kind | holds |
//! |---|---|---|
//! | `DROVER_q` | stream, work-queue retention, subjects `drover.q.ready.*` | due tasks, one subject per task: `drover.q.ready.<task id>` |
//! | `drover_workers` on `DROVER_q` | durable pull consumer, explicit acks, `ack_wait`, `max_deliver`, `max_ack_pending` from the config | shared by every worker of the queue |
//! | `DROVER_q_DELAY` | stream, work-queue retention, `drover.q.delay.*` | scheduled tasks and long retries |
//! | `drover_pump` on `DROVER_q_DELAY` | durable pull consumer, no `max_ack_pending` limit | the delay pump |
//! | `DROVER_q_DEAD` | stream, limits retention, `drover.q.dead.*` | dead tasks, with `Drover-Last-Error` |
//! | `DROVER_q_DONE` | stream, limits retention, `max_age` [`NatsConfig::set_keep_done`] (made only when set: off by default), one message per subject, `drover.q.done.*` | a record (headers, no payload) of each done task, for inspection |
//! | `KV_drover_q_ticks` | KV bucket (history 1) | cron schedules' last ticks ([`PushTicks`](drover_core::PushTicks)), made on first use |
//! | `KV_drover_q_unique` | KV bucket (history 1) | unique keys: `u.<hex of the key>` → the id of the task holding it, made on first use |
//! | `drover.q.wake` | core subject, in no stream | wake-ups: producers publish one per push batch |
//!
//! Storage type ([`NatsConfig::set_storage`]), replicas ([`NatsConfig::set_replicas`]) and the
//! duplicate window apply to every stream.
//!
//! # Messages
//!
//! The payload is the job's bytes (JSON by default). The task id is the subject's last token.
//! A push carries no `Nats-Msg-Id` unless [`NatsConfig::set_push_message_ids`] is on (then the
//! task id, so `enqueue` retried with the same tasks within the duplicate window stores them
//! once); every copy Drover makes itself has a message id of task and step, so a copy
//! republished after a crash is stored once. Headers, each only when it differs from its
//! default:
//!
//! | header | meaning | when absent |
//! |---|---|---|
//! | `Drover-Attempt` | attempts made before this copy (a claim adds the delivery count) | 0 |
//! | `Drover-Max-Attempts` | attempts allowed | 25 |
//! | `Drover-Enqueued-At` | first push, epoch ms, kept across copies | the time in the task id |
//! | `Drover-Run-At` | earliest run time, epoch ms | due now |
//! | `Drover-Last-Error` | the last failure (one line, at most 2,000 bytes) | none |
//! | `Drover-Unique-Key` | the task's unique key, hex of its bytes | no key |
//!
//! # How the task contract maps onto JetStream
//!
//! - **Push**: one pipeline per call, however many tasks: every message carries the same
//!   reply subject (one subscription per call) and the PubAcks are counted as they come back,
//!   up to 1,000 in flight, each checked for a stream error. A call returns once every message
//!   is stored; a PubAck missing for 10 s fails it (which of its messages were stored is then
//!   unknown).
//! - **Claim**: one pull request (`no_wait` with an expiry) for the worker's free capacity.
//!   Ready messages come back at once; when none is ready the server holds the request up to
//!   [`NatsConfig::set_claim_wait`] (100 ms) and answers with the first message that arrives.
//!   Pushes also publish on the wake subject, so idle workers in every process claim at once
//!   ([`Backend::wakeup`](drover_core::Backend::wakeup)): no polling. A pull the server has
//!   not ended 200 ms past its expiry is given up (claims and the delay pump alike):
//!   nats-server before 2.9.16 drops an expired pull without the status that ends it when a
//!   message becomes deliverable at that moment (nats-server#3942), and async-nats would wait
//!   5 s more (`tests/pull_expiry.rs`).
//! - **Attempt**: `Drover-Attempt` plus the message's delivery count, so a delivery whose
//!   worker died counts, as the contract wants. A delivery past the task's `max_attempts`
//!   (its last lease ran out) goes to the dead stream with
//!   [`LEASE_EXPIRED_ON_LAST_ATTEMPT`](drover_core::LEASE_EXPIRED_ON_LAST_ATTEMPT) instead of
//!   running: a job that kills its worker every time cannot loop.
//! - **Lease**: each claim has a local deadline (the worker's lease, fenced by a token);
//!   heartbeats move it and send a progress ack (`+WPI`), which restarts the server's
//!   `ack_wait`. A claim whose deadline passes is Nak'd (redelivered at once, as the next
//!   attempt). `ack_wait` is the lease against crashes: a killed worker's messages come back
//!   after it. Keep `ack_wait` ≥ the workers' lease, and the heartbeat (a third of the lease)
//!   well below it.
//! - **Stale acks across processes** (fencing by delivery): nats-server 2.9 acks a message
//!   by its stream sequence whatever delivery the ack came from, and has no call that tells a
//!   client a message's current delivery. So each claim keeps a second deadline, the server's:
//!   the time the pull was sent (a delivery's ack timer starts after the server got it), or
//!   the time of the last progress ack whose flush returned, plus `ack_wait`. From 250 ms
//!   before it, the claim is fenced: its completion, heartbeat, hand-back or lease expiry sends
//!   nothing (no ack, Nak or copy), because the server may have redelivered the message to
//!   another process and an ack would land on that delivery (verified on 2.9.10: an ack sent
//!   on the first delivery's reply subject after the second delivery removed the message). The task then runs again
//!   (at-least-once). A redelivery of the same message to this process adopts the claim and
//!   lifts the fence. `tests/fencing.rs` shows it: a claim outliving `ack_wait` by a second,
//!   redelivered to a second storage, then completed by the first, leaves the second's
//!   delivery pending; what the fence cannot cover is a clock that stalls for longer than the
//!   margin between the check and the ack reaching the server.
//! - **Done**: an ack (acks of a batch are published together, then one flush).
//! - **Retry**: a delay up to [`NatsConfig::set_nak_delay_max`] (10 s) is a delayed Nak: the
//!   server redelivers on time, and the redelivery counts the attempt. Longer delays are a copy
//!   in the delay stream (attempt, run time and error in its headers), stored before the
//!   original is acked. Delayed Naks count against `max_ack_pending`; delay-stream copies do
//!   not.
//! - **Delayed and scheduled pushes** (`push_with` delay or `run_at`) go to the delay stream.
//!   The pump (one per storage, sharing `drover_pump` across processes) Naks a message that is
//!   not due with its remaining wait (at most an hour, then again), and publishes a due one to
//!   the work stream with a message id of task and attempt, acking it only after the work
//!   stream stored it: a pump that dies in between republishes the same id, dropped as a
//!   duplicate. Run times use the pushing and pumping processes' clocks.
//! - **Dead**: a copy in the dead stream with the error, then an ack of the original.
//! - **Hand-back on shutdown**: a copy due now with the attempt taken back, then an ack (a Nak
//!   would count a delivery).
//! - **Max deliveries**: with [`NatsConfig::set_max_deliver`], the server stops delivering a
//!   message after that many deliveries and leaves it in the work stream. A subscriber to the
//!   server's `MAX_DELIVERIES` advisory moves it to the dead stream; since advisories are not
//!   persisted, connect also sweeps them: with nothing ack-pending, every work message the
//!   consumer has delivered; otherwise those at or below its ack floor.
//!
//! # Capabilities
//!
//! | trait | supported |
//! |---|---|
//! | [`Backend`](drover_core::Backend), [`Enqueue`](drover_core::Enqueue) | yes |
//! | [`Cancel`](drover_core::Cancel) | yes: the task's message is deleted from the work or delay stream (found by its subject); a claim on it in this process is revoked, and a long retry checks the message is still there. Cancelled tasks are not kept: `get` finds nothing, `stats().cancelled` is 0 |
//! | [`Requeue`](drover_core::Requeue) | yes: dead tasks, from the dead stream (cancelled tasks are deleted) |
//! | [`PushTicks`](drover_core::PushTicks) | yes: a KV compare-and-set on the schedule's record, and a per-tick `Nats-Msg-Id` (see below) |
//! | priorities | no: a consumer delivers in stream order; a non-zero priority is [`BackendError::Unsupported`](drover_core::BackendError::Unsupported) |
//! | unique keys | yes: see below |
//! | concurrency keys | no: refused with `Unsupported` naming the key |
//! | [`Inspect`](drover_core::Inspect) | yes: see below; [`NatsStorage::depths`] gives the raw counts |
//!
//! # Unique keys
//!
//! The unique bucket maps each key to the task holding it. A push with a key creates the KV
//! key (create-if-absent: of pushers racing for a key in any number of processes, one wins);
//! one that finds it returns the holder's id while the holder is pending or running (its
//! message is in the work or delay stream; a key younger than 30 s is trusted without
//! looking, its pusher may still be publishing). A holder found finished (its process died
//! before releasing) is replaced by compare-and-set on the revision read. A task that ends
//! (done, dead, cancelled) deletes its key expecting the revision that names it, so a newer
//! holder's key is never deleted; a failed push frees the keys it took. The key is not used
//! as a message id: the duplicate window would drop a new push of a key whose task finished
//! within it; the KV bucket decides, within the window and beyond it. A requeued dead task
//! does not take its key again.
//!
//! # Inspection
//!
//! | status | where it lives | count (`stats`) | one task (`get`) |
//! |---|---|---|---|
//! | pending, due | work stream, past the work consumer's delivered sequence | consumer info `num_pending` | the last message on `ready.<id>` (get message by subject) |
//! | pending, scheduled or a long retry | delay stream | stream info `messages` (also `scheduled`) | `delay.<id>` |
//! | pending, a short retry (delayed Nak) | work stream, delivered | counted as pending by the process that sent the Nak, as running by others | the same, from this process's memory of its Naks |
//! | running | work stream, delivered and unacked | consumer info `num_ack_pending` | as pending; a claim held by this process adds its attempt and lease deadline; another process's reads as attempt = attempts before + 1, no deadline |
//! | dead | dead stream | stream info | `dead.<id>` |
//! | done | done stream, with [`NatsConfig::set_keep_done`] (off by default: done tasks leave no trace) | stream info | `done.<id>` (no payload) |
//!
//! `oldest_due_at` is the run time (or stored time) of the first work message past the
//! consumer's delivered sequence (get next message by subject from that sequence). `list`
//! takes the task ids of each stream from the subjects the server reports (stream info with a
//! subject filter, paged), sorts them newest first, and reads only the page's tasks; a list of
//! pending or running tasks reads work-stream tasks until the page is full. A task being moved
//! between streams is briefly in two; `get` prefers the copy, and looks twice before it says
//! a task does not exist. Done records are published with the acks without awaiting their
//! PubAcks: a lost one only hides a done task from inspection.
//!
//! # Cron ticks
//!
//! One key per schedule in the ticks bucket holds its last tick and task. A push reads it;
//! an older tick is taken. Otherwise the task is published with the message id
//! `tick.<queue>.<schedule>.<tick>`: of callers racing for one tick, the stream stores the
//! first and answers the others `duplicate` (taken), and the one that stored it writes the
//! record by compare-and-set on the revision read. A caller that dies between publish and
//! record leaves the task pushed; a retry of the tick within the duplicate window is dropped.
//!
//! # Reconnecting
//!
//! The client reconnects by itself, forever, after a server restart or a network cut; calls
//! made meanwhile fail with [`BackendError::Connection`](drover_core::BackendError) and the
//! worker retries them with backoff. Streams and consumers on file storage survive the
//! restart. Acks lost in the outage make their tasks run again after `ack_wait`, unless this
//! process still holds the claim, which then adopts the redelivery.
//!
//! # Clustering
//!
//! On a JetStream cluster give the storage every node's client URL, comma-separated, and the
//! replica count:
//!
//! ```no_run
//! use drover_nats::{NatsConfig, NatsStorage};
//! # async fn run() -> Result<(), drover_core::BoxDynError> {
//! let config = NatsConfig::new("nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://10.0.0.3:4222")
//!     .set_queue("email")
//!     .set_replicas(3);
//! let storage: NatsStorage<String> = NatsStorage::connect(config).await?;
//! # Ok(())
//! # }
//! ```
//!
//! (`NATS_URL` may hold the same list for [`NatsConfig::from_env`].) The client connects to
//! the first node that answers and, when it loses it, reconnects by itself to any other,
//! listed or announced by the cluster. [`NatsConfig::set_replicas`] applies to every stream
//! the storage creates (work, delay, dead, done) and to both KV buckets (ticks, unique keys);
//! the consumers inherit their stream's replicas. It takes effect when a stream is created:
//! connecting does not change the replicas of an existing stream (`nats stream edit
//! --replicas 3` does). A PubAck, and so a returned push, means a majority of the replicas
//! stored the message.
//!
//! What the loss of a node does (`tests/cluster_fault.rs`: three nodes on loopback, the work
//! stream's leader SIGKILLed mid-drain of 3,000 jobs): each stream and consumer the node led
//! elects a new leader among the two left, within about a second here; meanwhile calls fail
//! or time out and the worker retries them with its backoff, and a claim whose pull went
//! unanswered ends at its expiry. Acks the lost node never passed on are lost with it: those
//! jobs run again after `ack_wait` (at-least-once; 0 to 19 of 3,000 in the test's runs).
//! Nothing a PubAck confirmed is lost. Every job completed within 2 to 10 s of the kill, the
//! same worker went on, and the node, restarted on its store, caught up in under a second.
//! With two of three nodes gone the streams have no quorum and calls fail until one returns.
//! Use an odd number of nodes and replicas ≤ nodes (R3 on 3 or 5 nodes); R1 streams on a
//! cluster live on one node and stop with it.
//!
//! # Tuning
//!
//! - `max_ack_pending` (20,000): at least all workers' concurrency plus their claim-ahead
//!   (up to 1,000 each) plus the tasks waiting on a delayed Nak.
//! - `ack_wait` (30 s): the lease against crashes; a killed worker's jobs restart after it.
//! - `claim_wait` (100 ms): longer means fewer empty pulls on an idle queue; shutdown waits
//!   for a claim in flight.
//! - `nak_delay_max` (10 s): retries longer than this use the delay stream.
//! - File storage (default) for durability, memory storage for throw-away queues.
//! - `keep_done` (off): with it, each done task adds a small record (headers only) to the
//!   done stream, which `Inspect` reads; it costs about 30% of the drain throughput. Without
//!   it, `Inspect` sees no done tasks.
//!
//! # Errors
//!
//! An unreachable server is a connection error naming the URL and how to start one; a server
//! without JetStream is a config error saying to start it with `-js`; a queue or prefix that
//! cannot name a stream is a config error.
//!
//! # Tests
//!
//! `cargo test -p drover-nats` runs the conformance groups `core`, `refuses_priorities`,
//! `refuses_concurrency_keys`, `unique_keys`, `cancel`, `requeue`, `ticks`, `inspect` against the server at `NATS_URL`,
//! plus a worker process killed with SIGKILL mid-job (`kill_worker`), a private nats-server
//! SIGKILLed and restarted during a drain (`server_restart`), delayed-job timing, long retries
//! and two pumps (`delays`), and the `max_deliver` backstop: a worker killed on every delivery,
//! and the start-up sweep of a message whose advisory nobody heard (`max_deliveries`), and
//! across two storages: a stale ack fenced, twenty racing pushes of one key, inspection of
//! another process's tasks, and a keyed task enqueued twice with one id stored once
//! (`fencing`), and a retry due just as the claim waiting for it expires (`pull_expiry`). On a
//! three-node cluster the tests start themselves (nats-server on loopback ports 4300-4305, see
//! `tests/support/cluster.rs`): the same conformance groups on R3 streams
//! (`cluster_conformance`), and the work stream's leader SIGKILLed mid-drain
//! (`cluster_fault`).

mod config;
mod dead;
mod envelope;
mod inner;
mod inspect;
mod names;
mod pump;
mod state;
mod storage;
mod ticks;
mod topology;
mod unique;

pub use config::{NatsConfig, NatsStorageType, DEFAULT_URL};
pub use storage::{NatsStorage, StreamDepths};
