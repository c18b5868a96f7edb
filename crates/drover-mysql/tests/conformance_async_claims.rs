//! The whole conformance suite again, with claims committed in the background
//! (`ClaimCommit::Asynchronous`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use drover_conformance::TestJob;
use drover_mysql::{ClaimCommit, MysqlConfig, MysqlStorage};

async fn backend() -> MysqlStorage<TestJob> {
    let config = MysqlConfig::new(support::queue("conf-async")).set_claim_commit(ClaimCommit::Asynchronous);
    MysqlStorage::new_with_config(support::pool().await, config).unwrap()
}

drover_conformance::conformance_tests!(backend; core, priorities, unique_keys, cancel, requeue, inspect, transactions);
