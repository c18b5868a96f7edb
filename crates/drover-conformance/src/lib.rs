//! The conformance suite: the behaviour every Drover backend must show, checked against its
//! real server.
//!
//! Each check in [`checks`] is one behaviour of the task contract (push/claim/ack, bulk push,
//! scheduling, priorities, unique keys, persisted retry, dead after max attempts, requeue of a
//! dead task, cancel, lease expiry, stale acks, heartbeats, shutdown hand-back, many workers,
//! undecodable payloads, panicking handlers, inspection, transactional enqueue). A check takes
//! a factory that makes a fresh, isolated backend for the job type [`TestJob`], and panics with
//! a message naming what broke.
//!
//! Checks of optional abilities require the ability's trait (`Inspect`, `Cancel`, `Requeue`,
//! `EnqueueInTransaction`), so asking for `inspect` on a backend without it does not compile.
//! Priorities and unique keys are push options every `Enqueue` accepts at the type level: a
//! backend runs either the check that honours each (`priorities`, `unique_keys`) or the one
//! that proves it refuses it (`refuses_priorities`, `refuses_unique_keys`). Nothing is skipped
//! by a flag.
//!
//! A backend crate runs the suite from one test file:
//!
//! ```ignore
//! // tests/conformance.rs
//! async fn backend() -> MyStorage<drover_conformance::TestJob> {
//!     MyStorage::connect_isolated().await
//! }
//! drover_conformance::conformance_tests!(backend; core, priorities, unique_keys, cancel, requeue, inspect, transactions);
//! ```
//!
//! The in-memory backend of `drover-core` runs all of it in this crate's own tests, and a
//! set of deliberately broken backends (dropping acks, releases or heartbeats, ignoring run
//! times or retry delays) is shown to fail it.

// A test suite reports a broken contract by panicking, like `assert!` does.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod admin;
pub mod checks;
mod harness;
pub mod processes;
pub mod seed;

pub use harness::{
    claim, claim_n, decode, handle, start_worker, test_builder, wait_until, Action, Factory, Recorder, Running,
    TestJob, SHORT_LEASE,
};

/// Generate one `#[tokio::test]` per check, in a module per group, for a backend made by the
/// async function `$factory` (called once per check; each call must return an isolated
/// backend, for example with its own queue name).
///
/// Groups: `core` (every backend), `priorities` or `refuses_priorities`, `unique_keys` or
/// `refuses_unique_keys` (every backend runs one of each pair), `cancel`, `requeue`, `inspect`,
/// `batches` (`EnqueueBatch`), `transactions` (`EnqueueInTransaction`), `prune` (`Prune`),
/// `ticks` (`PushTicks`), `pause` (`Pause`), `global_concurrency` (`GlobalConcurrency`),
/// `global_rate` (`GlobalRate`), `key_concurrency` (`KeyConcurrency`) or
/// `refuses_concurrency_keys`, `long_drain` (a 12,000-task drain in which tasks that sort
/// before the backlog still come promptly; backends with priorities and `run_at`).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:ident; $($group:ident),+ $(,)?) => {
        $( $crate::conformance_tests!(@group $group, $factory); )+
    };
    (@group core, $factory:ident) => {
        mod contract {
            $crate::conformance_tests!(@tests $factory;
                push_claim_ack, bulk_push, claim_limit_is_honoured, scheduling, persisted_retry_with_backoff, dead_after_max_attempts,
                lease_expiry_redelivers, lease_expiry_on_last_attempt_is_dead, stale_ack_ignored, heartbeat_keeps_long_task,
                shutdown_hands_back_unstarted, no_double_processing, undecodable_payload, panicking_handler);
        }
    };
    (@group priorities, $factory:ident) => { mod priorities { $crate::conformance_tests!(@tests $factory; priorities); } };
    (@group unique_keys, $factory:ident) => { mod unique_keys { $crate::conformance_tests!(@tests $factory; unique_keys); } };
    (@group refuses_priorities, $factory:ident) => { mod refuses_priorities { $crate::conformance_tests!(@tests $factory; refuses_priorities); } };
    (@group refuses_unique_keys, $factory:ident) => { mod refuses_unique_keys { $crate::conformance_tests!(@tests $factory; refuses_unique_keys); } };
    (@group cancel, $factory:ident) => { mod cancel { $crate::conformance_tests!(@tests $factory; cancel); } };
    (@group requeue, $factory:ident) => { mod requeue { $crate::conformance_tests!(@tests $factory; requeue_dead); } };
    (@group inspect, $factory:ident) => { mod inspect { $crate::conformance_tests!(@tests $factory; inspect); } };
    (@group prune, $factory:ident) => { mod prune { $crate::conformance_tests!(@tests $factory; prune); } };
    (@group batches, $factory:ident) => { mod batches { $crate::conformance_tests!(@tests $factory; batched_enqueue); } };
    (@group global_concurrency, $factory:ident) => { mod global_concurrency { $crate::conformance_tests!(@tests $factory; global_concurrency); } };
    (@group global_rate, $factory:ident) => { mod global_rate { $crate::conformance_tests!(@tests $factory; global_rate); } };
    (@group key_concurrency, $factory:ident) => { mod key_concurrency { $crate::conformance_tests!(@tests $factory; key_concurrency); } };
    (@group refuses_concurrency_keys, $factory:ident) => { mod refuses_concurrency_keys { $crate::conformance_tests!(@tests $factory; refuses_concurrency_keys); } };
    (@group long_drain, $factory:ident) => { mod long_drain { $crate::conformance_tests!(@tests $factory; long_drain); } };
    (@group pause, $factory:ident) => { mod pause { $crate::conformance_tests!(@tests $factory; pause); } };
    (@group ticks, $factory:ident) => { mod ticks { $crate::conformance_tests!(@tests $factory; push_ticks); } };
    (@group transactions, $factory:ident) => { mod transactions { $crate::conformance_tests!(@tests $factory; transactional_enqueue); } };
    (@tests $factory:ident; $($check:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::checks::$check(|| super::$factory()).await;
            }
        )+
    };
}
