//! [RSMQ](https://github.com/smrchy/rsmq) storage for [Drover](https://docs.rs/drover):
//! Drover workers consume, and Drover pushes produce, queues in exactly the Redis layout of the
//! npm `rsmq` package (0.12), so services in Node.js (or any language with an RSMQ port) and
//! Rust share them.
//!
//! ```no_run
//! use drover_core::{BoxDynError, Enqueue, WorkerBuilder};
//! use drover_rsmq::{RsmqConfig, RsmqStorage};
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
//! let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
//! let config = RsmqConfig::new("emails").set_max_attempts(5).set_realtime(true);
//! let storage: RsmqStorage<Email> = RsmqStorage::connect(&url, config).await?;
//! // A Node.js service can send too:
//! //   rsmq.sendMessage({ qname: "emails", message: JSON.stringify({ to: "a@b.c" }) })
//! storage.push(Email { to: "user@example.com".into() }).await?;
//! let worker = WorkerBuilder::new("email-worker").concurrency(10).backend(storage).build_fn(send_email);
//! worker.run_until(tokio::signal::ctrl_c()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # The rsmq layout
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<ns>:<queue>` | sorted set | message ids, scored by the time (ms) they become visible |
//! | `<ns>:<queue>:Q` | hash | `vt`, `delay`, `maxsize`, `created`, `modified`, `totalrecv`, `totalsent`; per message `<id>` (body), `<id>:rc` (receive count), `<id>:fr` (first receive, ms) |
//! | `<ns>:QUEUES` | set | queue names |
//! | `<ns>:rt:<queue>` | channel | the queue length, after each send (`realtime` option) |
//!
//! Drover reads and writes these exactly as rsmq does: the namespace defaults to `rsmq`, a
//! queue Drover creates gets rsmq's defaults (`vt` 30, `delay` 0, `maxsize` 65,536, changeable
//! in [`RsmqConfig`]), times come from the server's `TIME`, and message ids have rsmq's form
//! (32 characters: the send time in microseconds in base 36, then 22 of `A-Z a-z 0-9`). A
//! message body is the encoded job byte for byte (JSON by default), nothing wrapped around it.
//!
//! Beside those keys Drover keeps one hash per queue, `<ns>:<queue>:drover`, that rsmq never
//! reads: the claim each message is under (token and receive count), a push's own attempt
//! limit, the last error, and the task id of messages an rsmq client sent. Entries go when
//! Drover deletes the message; a message an rsmq client deletes leaves its entries behind.
//!
//! No Redis Cluster: these keys carry no hash tag, so one queue's keys lie in different slots
//! (`rsmq:QUEUES`, `rsmq:myqueue` and `rsmq:myqueue:Q` are slots 12924, 13307 and 13728)
//! and the scripts that touch them together would fail with `CROSSSLOT`. Changing the
//! layout would break interop with rsmq, so [`RsmqStorage::new`] refuses a cluster connection
//! (`drover_redis::connect_cluster`) with a configuration error; `drover-redis` runs on a
//! cluster.
//!
//! # How a worker uses a queue
//!
//! - **Claim** = rsmq's receiveMessage for a whole batch in one script: the due messages with
//!   the lowest scores, each hidden for the worker's lease (its visibility timeout), its
//!   receive count (`rc`, the attempt) and `totalrecv` incremented, `fr` set on the first
//!   receive. The claim's token is recorded with the receive count, so a message received
//!   again since (by Drover or by an rsmq client) makes the old claim stale.
//! - **Heartbeat** = changeMessageVisibility to now + lease, for claims that still hold.
//! - **Success** = deleteMessage. **Failure** = changeMessageVisibility to now + backoff; the
//!   next receive is the next attempt. **Last attempt failed** (or [`drover_core::Abort`]) =
//!   the message moves to the dead queue (`<queue>-dead` unless configured): a real rsmq
//!   queue, same id and body, readable by rsmq clients. A message whose lease ran out on its
//!   last attempt (its receive count reached the limit) moves there too when it next comes
//!   due, with [`drover_core::LEASE_EXPIRED_ON_LAST_ATTEMPT`] as its error.
//! - **Hand-back on shutdown** = visible now, the receive count decremented.
//! - The attempt limit is [`RsmqConfig::set_max_attempts`] (rsmq messages carry none); a push
//!   with another [`PushOptions::max_attempts`](drover_core::PushOptions) keeps its own.
//!
//! Pushing is rsmq's sendMessage (`totalsent`, and the realtime publish when on): a run time
//! becomes the message's delay, measured on the server's clock. Messages that become visible
//! in the same millisecond (a bulk push, say) are received in id order, as rsmq orders equal
//! scores, not necessarily in push order. A body longer than the queue's
//! `maxsize` (counted as rsmq counts: UTF-16 code units) is refused with
//! [`BackendError::Unsupported`](drover_core::BackendError::Unsupported), nothing sent.
//!
//! # Wake-ups
//!
//! With [`RsmqConfig::set_realtime`] the storage subscribes to `<ns>:rt:<queue>` and wakes idle
//! workers whenever anyone sends. Without it, workers are woken by pushes through the same
//! storage in this process and otherwise poll at their poll interval. Delayed messages and
//! retries always become due without a message, found at the next poll.
//!
//! # Capabilities
//!
//! [`Cancel`](drover_core::Cancel) (deleteMessage; a cancelled task leaves no trace) and
//! [`Requeue`](drover_core::Requeue) (dead messages back from the dead queue; cancelled
//! tasks are gone, so requeueing one returns false). [`RsmqStorage::attributes`] and
//! [`RsmqStorage::dead_attributes`] give rsmq's getQueueAttributes.
//!
//! Not supported, because rsmq has no place for them: priorities and unique keys (a push
//! asking for either is refused with `BackendError::Unsupported`), transactional enqueue, and
//! [`Inspect`](drover_core::Inspect) (rsmq deletes a message when it succeeds, so there are
//! no done tasks to count or list, and a hidden message keeps no run time or status of its
//! own).
//!
//! # Feature flags
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `tls-rustls` | no | `rediss://` URLs, TLS through rustls |
//!
//! # Tests
//!
//! `cargo test -p drover-rsmq` runs the conformance suite (`core`, `cancel`, `requeue`) and
//! interoperability tests against the server at `REDIS_URL` (default
//! `redis://127.0.0.1:6379`), each in its own namespace. The interoperability tests drive the
//! real npm client: they need `node` and `npm` on the `PATH`, and install `rsmq@0.12` once
//! into `target/rsmq-node` (`RSMQ_NODE_DIR` to use another folder).

mod admin;
mod config;
mod connection;
mod enqueue;
mod keys;
mod message_id;
mod scripts;
mod storage;
mod wakeup;

pub use admin::QueueAttributes;
pub use config::{RsmqConfig, DEFAULT_NAMESPACE, MAX_BATCH};
pub use connection::{connect, RsmqConnection};
pub use storage::RsmqStorage;

/// The redis crate this storage is built on, for making your own `ConnectionManager`.
pub use redis;
