//! One function per behaviour of the contract. Each takes a factory that makes a fresh,
//! isolated backend, and panics with a message naming what broke.

mod basic;
mod capabilities;
mod drain;
mod keys;
mod lease;
mod retry;
mod ticks;
mod worker;

pub use basic::{bulk_push, claim_limit_is_honoured, push_claim_ack, scheduling};
pub use capabilities::{
    batched_enqueue, cancel, global_concurrency, global_rate, inspect, pause, priorities, prune, refuses_priorities,
    refuses_unique_keys, requeue_dead, transactional_enqueue, unique_keys,
};
pub use drain::long_drain;
pub use keys::{key_concurrency, refuses_concurrency_keys};
pub use lease::{
    heartbeat_keeps_long_task, lease_expiry_on_last_attempt_is_dead, lease_expiry_redelivers, stale_ack_ignored,
};
pub use retry::{dead_after_max_attempts, persisted_retry_with_backoff};
pub use ticks::push_ticks;
pub use worker::{no_double_processing, panicking_handler, shutdown_hands_back_unstarted, undecodable_payload};
