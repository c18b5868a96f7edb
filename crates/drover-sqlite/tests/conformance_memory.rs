//! The conformance suite against in-memory databases (`sqlite::memory:`), all but the
//! `transactions` group: an in-memory database has no WAL, so while a transaction is open
//! other connections cannot even read (they wait up to the busy timeout). File databases run
//! every group (tests/conformance.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drover_conformance::TestJob;
use drover_core::TaskId;
use drover_sqlite::{SqliteConfig, SqliteStorage};

async fn backend() -> SqliteStorage<TestJob> {
    SqliteStorage::connect_with_config("sqlite::memory:", SqliteConfig::new(format!("conf-{}", TaskId::new())))
        .await
        .unwrap_or_else(|e| panic!("opening an in-memory database: {e}"))
}

drover_conformance::conformance_tests!(backend; core, priorities, unique_keys, cancel, requeue, inspect, prune);
