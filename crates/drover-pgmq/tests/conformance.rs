//! The conformance suite against the real PostgreSQL server with pgmq (`DATABASE_URL`, default
//! postgres://postgres@127.0.0.1:5432/test; `cargo xtask services` installs pgmq). Each check
//! gets its own pgmq queue. pgmq has no priorities and no unique keys, so the suite checks that
//! the storage refuses them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use drover_conformance::TestJob;
use drover_pgmq::PgmqStorage;

async fn backend() -> PgmqStorage<TestJob> {
    common::storage("conf").await
}

drover_conformance::conformance_tests!(backend; core, refuses_priorities, refuses_unique_keys, refuses_concurrency_keys, cancel, requeue, inspect, transactions, prune);
