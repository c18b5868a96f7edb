//! The whole conformance suite against the real server (`MYSQL_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use drover_conformance::TestJob;
use drover_mysql::MysqlStorage;

async fn backend() -> MysqlStorage<TestJob> {
    support::storage("conf").await
}

drover_conformance::conformance_tests!(backend; core, priorities, unique_keys, cancel, requeue, inspect, transactions, prune, ticks, pause, global_concurrency, global_rate, key_concurrency, long_drain);
