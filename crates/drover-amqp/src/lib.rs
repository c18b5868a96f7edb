//! AMQP 0-9-1 storage for Drover, on RabbitMQ (through [lapin](https://docs.rs/lapin) 4.x on
//! the Tokio runtime).
//!
//! A broker cannot be queried like a database: messages are pushed to consumers and leave a
//! queue when acknowledged. This crate maps Drover's task contract onto that, using only the
//! broker's own features: durable queues, persistent messages, publisher confirms, consumer
//! prefetch, per-queue message TTLs and dead-letter exchanges.
//!
//! ```no_run
//! use drover_amqp::{AmqpConfig, AmqpStorage};
//! use drover_core::{BoxDynError, Enqueue, PushOptions, WorkerBuilder};
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
//! // AMQP_URL, or amqp://guest:guest@127.0.0.1:5672/%2f
//! let storage: AmqpStorage<Email> = AmqpStorage::connect(AmqpConfig::from_env("email")).await?;
//! storage.push(Email { to: "a@example.com".into() }).await?;
//! storage.push_with(Email { to: "b@example.com".into() }, PushOptions::new().delay(Duration::from_secs(60))).await?;
//! let worker = WorkerBuilder::new("email-worker").backend(storage.clone()).concurrency(10).build_fn(send);
//! worker.run_until(tokio::signal::ctrl_c()).await?;
//! storage.close().await?; // hand buffered deliveries back before exiting
//! # Ok(())
//! # }
//! ```
//!
//! # Declared topology
//!
//! Every message goes through the default exchange (routing key = queue name); no exchange is
//! declared. For the queue `q` given in [`AmqpConfig`]:
//!
//! | queue | arguments | holds |
//! |---|---|---|
//! | `q` | durable; `x-consumer-timeout` if [`AmqpConfig::set_consumer_timeout`] is set | due tasks; workers consume it |
//! | `q.dead` | durable | dead tasks, with `x-drover-last-error` |
//! | `q.delay.<ms>` | durable; `x-message-ttl = <ms>`, `x-dead-letter-exchange = ""`, `x-dead-letter-routing-key = q` | tasks waiting `<ms>` before moving to `q` |
//!
//! Every queue also has `x-queue-version = 2` (the classic queue index that writes persistent
//! messages with less disk work), and [`AmqpConfig::set_queue_expires`] adds `x-expires` to all of
//! them, for throw-away queues.
//! `q` and `q.dead` are declared on connect and on every reconnect; a delay queue the first
//! time a connection publishes to it. Declaring an existing queue with other arguments is an
//! error that names the queue.
//!
//! # Quorum queues
//!
//! [`AmqpConfig::set_queue_type`]`(`[`QueueType::Quorum`]`)` declares all of a storage's queues
//! (work, dead and delay) as quorum queues (`x-queue-type = quorum`, RabbitMQ 3.10 or later):
//! durable and replicated over a cluster's nodes, so the loss of a node loses no task.
//!
//! | queue | quorum arguments, besides those of the table above |
//! |---|---|
//! | `q` | `x-delivery-limit` ([`AmqpConfig::set_delivery_limit`], default [`DEFAULT_DELIVERY_LIMIT`] = 25), `x-dead-letter-exchange = ""`, `x-dead-letter-routing-key = q.dead`, `x-dead-letter-strategy = at-least-once`, `x-overflow = reject-publish` |
//! | `q.dead` | none |
//! | `q.delay.<ms>` | `x-dead-letter-strategy = at-least-once`, `x-overflow = reject-publish` (queue-level message TTL on quorum queues needs 3.10) |
//!
//! No `x-queue-version` (a classic queue's argument). Dead-lettering is at least once: the
//! broker keeps a message until the target queue has it (`reject-publish` is required for
//! that and only acts with a length limit, which none has).
//!
//! The delivery limit is the broker's backstop: Drover itself counts a redelivery after a crash
//! as an attempt and republishes the task (see "Attempts and crashes"), which restarts the
//! broker's count; but a message whose consumers die on every delivery *before* Drover could
//! settle it (or that is handed back more than the limit times) is moved to `q.dead` by the
//! broker, without an `x-drover-last-error` header. [`AmqpStorage::requeue_dead`] brings it back
//! like any dead task.
//!
//! A queue's type and arguments are fixed when it is first declared: opening an existing
//! classic queue as quorum (or changing the delivery limit) fails with
//! [`BackendError::Config`](drover_core::BackendError::Config) naming the queue; delete it
//! (`rabbitmqctl delete_queue <name>`, messages included) or use a new queue name; the error
//! also says how to migrate without losing tasks (new pushes to a new queue name, a worker on
//! the old configuration until the old queues are empty). Quorum queues replicate every
//! message, so they cost more per message than classic ones (see docs/benchmarks.md); the
//! conformance suite passes on both (tests/conformance_quorum.rs).
//!
//! What quorum queues on RabbitMQ 3.10 lack, and how the storage keeps its contract without it:
//!
//! | quorum queues lack | drover-amqp |
//! |---|---|
//! | message priorities (`x-max-priority`, until 4.0) | never used; a push with a priority is refused with `Unsupported` on both types |
//! | non-durable, exclusive and auto-delete queues | every queue is durable, none exclusive or auto-delete |
//! | global QoS (`basic.qos` with `global`) | the prefetch is per consumer |
//! | `x-queue-mode = lazy`, `x-queue-version` | not set on quorum queues (classic queue arguments; a quorum queue writes every message to its log) |
//! | per-message TTL expiring in the middle of a queue | never used: each delay queue has one queue-level TTL (`x-message-ttl`, on quorum queues since 3.10) |
//! | at-least-once dead-lettering by default | `x-dead-letter-strategy = at-least-once` with the `x-overflow = reject-publish` it requires |
//! | `x-consumer-timeout` as a queue argument (3.12+ for both types) | [`AmqpConfig::set_consumer_timeout`] needs 3.12; use `consumer_timeout` in `rabbitmq.conf` on 3.10 |
//!
//! A graceful hand-back ([`AmqpStorage::close`], a worker stopping) republishes buffered
//! deliveries rather than returning them, so it does not count towards the delivery limit;
//! only deliveries lost with a connection (a crash, a killed node) do, and Drover republishes
//! those too once it sees them redelivered.
//!
//! # Clusters
//!
//! [`AmqpConfig::set_fallback_urls`] names the other nodes of a cluster: connecting, and
//! reconnecting after a lost connection, tries them in turn (a reconnect starts with the node
//! after the one lost). With quorum queues a storage then rides out the loss of any one node
//! of three, the node it was connected to and the queue's leader included: the queue elects a
//! new leader, the storage reconnects to a live node and declares its queues again, and the
//! deliveries the lost connection held come back redelivered (each counted as an attempt, like
//! after a crash). tests/quorum_cluster.rs starts a 3-node cluster on loopback and kills the
//! leader's node, which is also the storage's, in the middle of a drain: every job completes.
//!
//! ```
//! use drover_amqp::{AmqpConfig, QueueType};
//!
//! let config = AmqpConfig::new("amqp://app:secret@rabbit-1:5672/%2f", "emails")
//!     .set_fallback_urls(["amqp://app:secret@rabbit-2:5672/%2f", "amqp://app:secret@rabbit-3:5672/%2f"])
//!     .set_queue_type(QueueType::Quorum);
//! # let _ = config;
//! ```
//!
//! # Messages
//!
//! Persistent (`delivery_mode = 2`), published with `mandatory` on a channel in confirm mode:
//! a push returns only once RabbitMQ confirmed every message of it, and `push_bulk` publishes
//! the whole batch before awaiting the confirms together. The task id is the `message_id`
//! property (never the delivery tag); the envelope is in headers, each only when it differs
//! from its default, so a fresh push due now has no headers table at all (RabbitMQ decodes,
//! stores and re-encodes every table: without one it takes about a third less work per message):
//!
//! | header | meaning | when absent |
//! |---|---|---|
//! | `x-drover-attempt` | attempts made before this copy was published (a claim is attempt + 1) | 0 |
//! | `x-drover-max-attempts` | attempts allowed | 25 (`DEFAULT_MAX_ATTEMPTS`) |
//! | `x-drover-enqueued-at` | first push, epoch milliseconds (kept across retries) | the time in the task id (a task pushed within a second of its id counts as pushed then) |
//! | `x-drover-run-at` | earliest run time, epoch milliseconds (delayed pushes and retries) | due now |
//! | `x-drover-last-error` | the last failure's error | none |
//!
//! A message without a Drover `message_id` is moved to `q.dead` with an error saying so.
//!
//! # Delays: scheduled pushes and retries
//!
//! A task due later is published to the delay queue of its wait rounded *down* to three
//! significant bits (`q.delay.768` for 800 ms), so there are about four delay queues per
//! doubling of the wait and each queue holds messages of one TTL (a per-message TTL would only
//! expire at the head of a shared queue). When the TTL passes the broker dead-letters the
//! message into `q`; a consumer that sees its `x-drover-run-at` still ahead sends it on to the
//! next smaller delay queue. Each hop at least quarters the remaining wait, so waits are exact
//! to the millisecond after a few hops, and never early. Run times use the publishing
//! process's clock. A retry publishes the copy (confirmed) *before* acking the original, so
//! nothing is lost between the two; at worst a crash in between runs the task twice.
//!
//! # Leases
//!
//! RabbitMQ holds an unacknowledged delivery until it is acked or its channel closes: that is
//! the lease against crashes. The shorter leases of the core contract are kept by the storage
//! itself: each claim has a local deadline, [`extend_leases`](drover_core::Backend::extend_leases)
//! pushes it (no broker call), and a checker (every 50 ms,
//! [`AmqpConfig::set_lease_check_interval`]) republishes a claim whose deadline passed to `q` with
//! the attempt counted (to `q.dead` with
//! [`LEASE_EXPIRED_ON_LAST_ATTEMPT`](drover_core::LEASE_EXPIRED_ON_LAST_ATTEMPT) when it was
//! the last one) and acks the original. A completion whose claim expired, or whose delivery
//! came on a connection since lost, is ignored.
//!
//! # Attempts and crashes
//!
//! When a worker process dies (or the connection drops), RabbitMQ requeues its unacknowledged
//! deliveries marked `redelivered`. Such a delivery may have been running, so the consumer
//! counts it as an attempt: it republishes the message with `x-drover-attempt + 1` (or, at
//! the limit, to `q.dead` with the lease-expired error) and acks the redelivered copy. A job
//! that kills its worker therefore cannot loop forever. The cost: deliveries that were only
//! buffered (prefetched, never started) when a connection was lost also lose one attempt.
//! [`AmqpStorage::close`] (and a worker's hand-back on shutdown) returns buffered deliveries
//! cleanly, so only crashes and broker restarts pay it.
//!
//! When the connection drops but the process lives on (a broker restart, a network cut), its
//! workers still hold the tasks they claimed: running, or claimed ahead and waiting. When
//! such a task comes back `redelivered` on the new connection, the claim the worker still
//! holds adopts the new delivery instead: the task is not handed out again, and the worker's
//! completion acks the new delivery. Only tasks that finished while the connection was down
//! (their acks were lost) run a second time. In the broker-restart test, with up to 641
//! claims held during the outage, 0 to 42 of 3,000 jobs ran twice (before adoption: up to
//! about 300).
//!
//! # Long jobs and the consumer timeout
//!
//! RabbitMQ closes a channel whose delivery stays unacknowledged longer than its
//! `consumer_timeout` (30 minutes by default), which requeues everything delivered on it. A
//! job that may run longer needs a larger timeout: set [`AmqpConfig::set_consumer_timeout`] (the
//! `x-consumer-timeout` queue argument, RabbitMQ 3.12 and later; set it when the queue is
//! first declared), or raise `consumer_timeout` in `rabbitmq.conf` (milliseconds) or with a
//! policy. Heartbeats of the worker keep the storage's own lease, not the broker's timer.
//!
//! # Consumption
//!
//! The first claim starts a consumer. Its prefetch (`basic.qos`) follows the workers' free
//! capacity: four times the claims held plus the capacity asked for, at least 128 (below
//! that the broker idles between acks and a fast drain is held back), or a fixed
//! [`AmqpConfig::set_consumer_prefetch`]. A claim asking for more than the prefetch covers starts
//! a further consumer on the channel with the difference (at most 2,000 in all); running
//! consumers are never cancelled while the storage works, because a quorum queue (RabbitMQ
//! 3.10) does not hand back what a cancelled consumer held when the node of its connection
//! dies. Deliveries are buffered in the
//! storage; a claim takes what is buffered and waits briefly only when nothing is. Every
//! delivery wakes the workers ([`Backend::wakeup`](drover_core::Backend::wakeup)), so they
//! never poll. Acks are batched: a run of the oldest unacknowledged tags is one `multiple` ack.
//!
//! # Reconnecting
//!
//! When the connection or a channel fails, the next operation opens a new connection and
//! declares the queues again; the consumer restarts on the next claim. The broker has requeued
//! what the old connection held, so nothing is lost; claims from the old connection are stale
//! and their completions ignored (the task runs again: delivery is at least once).
//!
//! # Capabilities
//!
//! | trait | supported |
//! |---|---|
//! | [`Backend`](drover_core::Backend), [`Enqueue`](drover_core::Enqueue) | yes |
//! | [`Requeue`](drover_core::Requeue) | yes: scans `q.dead` for the id ([`AmqpStorage::requeue_dead`] moves many at once) |
//! | [`EnqueueBatch`](drover_core::EnqueueBatch) | yes: AMQP transactions (`tx.select` / `tx.commit`) on a channel of their own |
//! | priorities | no: a consumer receives messages as they arrive, before a later, higher-priority one can overtake them; a non-zero priority is [`BackendError::Unsupported`](drover_core::BackendError::Unsupported) |
//! | unique keys | no: queued messages cannot be looked up by key; a unique key is `Unsupported` |
//! | [`Inspect`](drover_core::Inspect), [`Cancel`](drover_core::Cancel) | no: a queue cannot be listed or edited in place; [`AmqpStorage::queue_depths`] gives the counts |
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `rustls` | off | `amqps://` URLs, TLS through rustls with the platform's root certificates |
//!
//! # Configuration
//!
//! [`AmqpConfig::from_env`] reads `AMQP_URL` (default [`DEFAULT_URL`]). The other settings are
//! builder methods on [`AmqpConfig`]: fallback URLs, prefetch, claim wait, lease check interval,
//! connect timeout, consumer timeout, queue expiry, queue type and delivery limit.
//!
//! # Tests
//!
//! `cargo test -p drover-amqp` runs the conformance suite (groups `core`, `requeue`,
//! `transactions`) on classic and on quorum queues, the broker's delivery limit dead-lettering a
//! message whose consumer dies on every delivery, and a worker process killed with SIGKILL
//! mid-job, against the RabbitMQ at `AMQP_URL` (start one with `rabbitmq-server -detached`).
//! Each of these tests uses its own queue, declared with `x-expires` so the broker removes it
//! afterwards. Two tests start nodes of their own from the local RabbitMQ install (127.0.0.1
//! ports 5700-5703 and 25700-25709; files and a private Erlang cookie in a temp dir; killed when
//! the test ends), so no test stops the broker at `AMQP_URL`: tests/broker_restart.rs restarts
//! its node (`rabbitmqctl stop_app` / `start_app`) during a drain, and tests/quorum_cluster.rs
//! kills a node of a 3-node cluster mid-drain (30 s and 45 s here).

mod config;
mod consumer;
mod dead;
mod envelope;
mod inner;
mod session;
mod state;
mod storage;
mod topology;
mod transaction;

pub use config::{AmqpConfig, QueueType, DEFAULT_DELIVERY_LIMIT, DEFAULT_URL};
pub use storage::{AmqpStorage, QueueDepths};
pub use transaction::AmqpTransaction;
