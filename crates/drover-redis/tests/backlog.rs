//! A backlog of 1,000,000 pending tasks is pushed in bulk and drained by one worker at high
//! concurrency: every job runs, exactly once, and the queue ends empty with its retention
//! cap respected. (apalis-redis 1.0 fails at 10,000 with "too many results to unpack": here
//! every script handles at most 1,000 items per call.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drover_core::{BoxDynError, Data, Enqueue, Inspect, TaskId, WorkerBuilder};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Job {
    n: u32,
}

struct Tally {
    runs: AtomicU64,
    seen: Mutex<Vec<u8>>,
    total: u64,
    all_done: tokio::sync::Notify,
}

async fn count(job: Job, tally: Data<Arc<Tally>>) -> Result<(), BoxDynError> {
    let first = {
        let mut seen = tally.seen.lock().unwrap();
        let slot = &mut seen[job.n as usize];
        *slot += 1;
        *slot == 1
    };
    let runs = tally.runs.fetch_add(1, Ordering::Relaxed) + 1;
    if first && runs >= tally.total {
        tally.all_done.notify_one();
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn million_task_backlog_drains() {
    let total: u64 = std::env::var("DROVER_REDIS_BACKLOG").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let ns = format!("backlog-{}", TaskId::new());
    let cap = 5_000;
    let storage = common::storage::<Job>(&ns, |c| c.set_done_cap(cap)).await;

    let started = Instant::now();
    for start in (0..total).step_by(100_000) {
        let end = (start + 100_000).min(total);
        let ids = storage.push_bulk((start..end).map(|n| Job { n: n as u32 })).await.unwrap();
        assert_eq!(ids.len() as u64, end - start);
    }
    let pushed_in = started.elapsed();
    let stats = storage.stats().await.unwrap();
    assert_eq!(stats.pending, total, "every pushed task must be pending: {stats:?}");

    let tally = Arc::new(Tally {
        runs: AtomicU64::new(0),
        seen: Mutex::new(vec![0; total as usize]),
        total,
        all_done: tokio::sync::Notify::new(),
    });
    let started = Instant::now();
    let worker =
        WorkerBuilder::new("backlog").concurrency(500).data(tally.clone()).backend(storage.clone()).build_fn(count);
    let done = tally.clone();
    tokio::time::timeout(Duration::from_secs(600), worker.run_until(async move { done.all_done.notified().await }))
        .await
        .unwrap_or_else(|_| panic!("drain timed out: {} of {total} jobs ran", tally.runs.load(Ordering::Relaxed)))
        .unwrap();
    let drained_in = started.elapsed();

    let (missing, twice) = {
        let seen = tally.seen.lock().unwrap();
        (seen.iter().filter(|c| **c == 0).count(), seen.iter().filter(|c| **c > 1).count())
    };
    assert_eq!((missing, twice), (0, 0), "every job must run exactly once");
    let stats = storage.stats().await.unwrap();
    assert_eq!((stats.pending, stats.running), (0, 0), "the queue must end empty: {stats:?}");
    assert!(stats.done <= cap, "retention must keep at most {cap} done tasks: {stats:?}");
    eprintln!("backlog of {total}: pushed in {pushed_in:?}, drained in {drained_in:?}");
    storage.purge().await.unwrap();
}
