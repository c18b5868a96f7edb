//! The conformance suite against the real nats-server at `NATS_URL` (default
//! nats://127.0.0.1:4222, JetStream enabled): every group NATS's capabilities allow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use drover_conformance::TestJob;
use drover_nats::NatsStorage;

async fn backend() -> NatsStorage<TestJob> {
    common::connect(common::config("c")).await
}

drover_conformance::conformance_tests!(backend; core, refuses_priorities, refuses_concurrency_keys, unique_keys, cancel, requeue, ticks, inspect);
