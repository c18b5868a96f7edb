//! The whole conformance suite against the Redis server at `REDIS_URL`, each check in its own
//! namespace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use drover_conformance::TestJob;
use drover_redis::RedisStorage;

async fn backend() -> RedisStorage<TestJob> {
    common::storage(&format!("conf-{}", drover_core::TaskId::new()), |config| config).await
}

drover_conformance::conformance_tests!(backend; core, priorities, unique_keys, cancel, requeue, inspect, batches, ticks, pause, global_concurrency, global_rate, key_concurrency);
