//! Limits across worker processes, against the real Redis server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use drover_conformance::TestJob;

/// 4 processes x concurrency 20 on a queue capped at 5, one killed with SIGKILL midway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_concurrency_across_processes() {
    drover_conformance::processes::global_concurrency("global_concurrency_across_processes", |queue| async move {
        common::storage::<TestJob>(&queue, |c| c).await
    })
    .await;
}

/// 4 processes x concurrency 20 on a queue limited to 200 starts a second, for 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_rate_across_processes() {
    drover_conformance::processes::global_rate("global_rate_across_processes", |queue| async move {
        common::storage::<TestJob>(&queue, |c| c).await
    })
    .await;
}

/// 1,000 jobs over 10 keys with one running per key, on 4 processes x concurrency 20, one
/// killed with SIGKILL midway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_concurrency_across_processes() {
    drover_conformance::processes::key_concurrency("key_concurrency_across_processes", |queue| async move {
        common::storage::<TestJob>(&queue, |c| c).await
    })
    .await;
}
