//! The whole conformance suite against file databases (WAL, as `connect` opens them), one
//! fresh file per check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;

use drover_conformance::TestJob;
use drover_core::TaskId;
use drover_sqlite::{SqliteConfig, SqliteStorage};

/// A directory for this run's databases, emptied once per test binary.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite-conformance");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test database directory");
        dir
    })
}

async fn backend() -> SqliteStorage<TestJob> {
    let id = TaskId::new();
    let url = format!("sqlite://{}", dir().join(format!("{id}.db")).display());
    SqliteStorage::connect_with_config(&url, SqliteConfig::new(format!("conf-{id}")))
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"))
}

drover_conformance::conformance_tests!(backend; core, priorities, unique_keys, cancel, requeue, inspect, transactions, prune, ticks, pause, global_concurrency, global_rate, key_concurrency, long_drain);
