//! The conformance checks rsmq's capabilities allow, against the Redis server at `REDIS_URL`,
//! each check in its own namespace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use drover_conformance::TestJob;
use drover_rsmq::{RsmqConfig, RsmqStorage};

async fn backend() -> RsmqStorage<TestJob> {
    common::storage(RsmqConfig::new("conformance").set_namespace(common::fresh_namespace("conf"))).await
}

drover_conformance::conformance_tests!(backend; core, refuses_priorities, refuses_unique_keys, refuses_concurrency_keys, cancel, requeue);
