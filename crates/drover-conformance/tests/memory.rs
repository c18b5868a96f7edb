//! The whole suite against the in-memory backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drover_conformance::TestJob;
use drover_core::MemoryStorage;

async fn memory() -> MemoryStorage<TestJob> {
    MemoryStorage::named("conformance")
}

drover_conformance::conformance_tests!(memory; core, priorities, unique_keys, cancel, requeue, inspect, batches, prune, ticks, pause, global_concurrency, global_rate, key_concurrency, long_drain);
