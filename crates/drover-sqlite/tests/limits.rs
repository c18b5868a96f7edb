//! Limits across worker processes on one SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drover_conformance::TestJob;
use drover_sqlite::{SqliteConfig, SqliteStorage};

/// Every process opens the same file, named after the queue.
async fn storage(queue: String) -> SqliteStorage<TestJob> {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite-limits");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join(format!("{queue}.db")).display());
    SqliteStorage::connect_with_config(&url, SqliteConfig::new(queue)).await.unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// 4 processes x concurrency 20 on a queue capped at 5, one killed with SIGKILL midway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_concurrency_across_processes() {
    drover_conformance::processes::global_concurrency("global_concurrency_across_processes", storage).await;
}

/// 4 processes x concurrency 20 on a queue limited to 200 starts a second, for 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_rate_across_processes() {
    drover_conformance::processes::global_rate("global_rate_across_processes", storage).await;
}

/// 1,000 jobs over 10 keys with one running per key, on 4 processes x concurrency 20, one
/// killed with SIGKILL midway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_concurrency_across_processes() {
    drover_conformance::processes::key_concurrency("key_concurrency_across_processes", storage).await;
}
