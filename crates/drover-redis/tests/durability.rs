//! Crashes and restarts: Redis killed and restarted mid-drain, a worker process killed with
//! SIGKILL mid-job, the script cache flushed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_core::{Backend, BoxDynError, ClaimRequest, Data, Enqueue, Inspect, Status, TaskId, WorkerBuilder};
use drover_redis::{Config, RedisStorage};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Job {
    n: u64,
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<(HashSet<u64>, u64)>>);

impl Seen {
    fn record(&self, n: u64) {
        let mut seen = self.0.lock().unwrap();
        seen.0.insert(n);
        seen.1 += 1;
    }
    fn distinct(&self) -> usize {
        self.0.lock().unwrap().0.len()
    }
    fn runs(&self) -> u64 {
        self.0.lock().unwrap().1
    }
}

async fn slow_job(job: Job, seen: Data<Seen>) -> Result<(), BoxDynError> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    seen.record(job.n);
    Ok(())
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Redis (append-only, fsync always) is SIGKILLed and started again on the same port and
/// directory while a worker drains; the worker reconnects by itself, the scripts are loaded
/// again after NOSCRIPT, and every job completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_mid_drain_loses_no_job() {
    let mut server = common::PrivateRedis::start("restart");
    let conn = drover_redis::connect(&server.url()).await.unwrap();
    let config = Config::new("restart").set_done_cap(100_000);
    let storage: RedisStorage<Job> = RedisStorage::new_with_config(conn, config);
    let n = 4_000u64;
    storage.push_bulk((0..n).map(|n| Job { n })).await.unwrap();

    let seen = Seen::default();
    let worker = WorkerBuilder::new("restart-drain")
        .concurrency(20)
        .lease(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .poll_interval(Duration::from_millis(200))
        .data(seen.clone())
        .backend(storage.clone())
        .build_fn(slow_job);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(worker.run_until(async move {
        let _ = stop_rx.await;
    }));

    wait_for("a quarter of the jobs ran", Duration::from_secs(60), || seen.distinct() >= (n / 4) as usize).await;
    let before = seen.distinct();
    server.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart();
    assert!(before < n as usize, "the drain finished before the restart; raise n");

    wait_for("every job ran after the restart", Duration::from_secs(120), || seen.distinct() == n as usize).await;
    // The last completions may still be in flight: wait for the server's view.
    let mut stats = storage.stats().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stats.done < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stats = storage.stats().await.unwrap();
    }
    let _ = stop_tx.send(());
    handle.await.unwrap().unwrap();
    assert_eq!((stats.pending, stats.running, stats.done), (0, 0, n), "stats after the drain: {stats:?}");
    assert!(seen.runs() >= n, "at-least-once: every job ran");
}

/// `SCRIPT FLUSH` (what a restart does to the script cache) is answered by loading the
/// scripts again.
#[tokio::test]
async fn scripts_reload_after_flush() {
    let storage: RedisStorage<Job> = common::storage(&format!("flush-{}", TaskId::new()), |c| c).await;
    let conn = drover_redis::connect(&common::redis_url()).await.unwrap();
    let mut manager = conn.clone();
    storage.push(Job { n: 1 }).await.unwrap();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut manager).await.unwrap();
    let claimed = storage.claim(ClaimRequest::new("flush", 10, Duration::from_secs(30))).await.unwrap();
    assert_eq!(claimed.len(), 1);
    storage.purge().await.unwrap();
}

const CHILD_NS: &str = "DROVER_REDIS_TEST_CHILD_NS";

/// Not a test by itself: the worker process that `worker_killed_mid_job_completes_after_lease`
/// starts (this test binary, filtered to this function) and kills with SIGKILL.
#[tokio::test]
async fn child_worker_process() {
    let Ok(ns) = std::env::var(CHILD_NS) else { return };
    let storage: RedisStorage<Job> = common::storage(&ns, |c| c).await;
    async fn hang(_job: Job) -> Result<(), BoxDynError> {
        std::future::pending::<()>().await;
        Ok(())
    }
    let worker = WorkerBuilder::new("doomed")
        .lease(Duration::from_secs(1))
        .heartbeat(Duration::from_millis(200))
        .backend(storage)
        .build_fn(hang);
    worker.run_until(std::future::pending::<()>()).await.unwrap();
}

/// A worker process is killed with SIGKILL while running a job; after its lease runs out a
/// worker here claims the job again and completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_mid_job_completes_after_lease() {
    let ns = format!("kill9-{}", TaskId::new());
    let storage: RedisStorage<Job> = common::storage(&ns, |c| c).await;
    let id = storage.push(Job { n: 9 }).await.unwrap();

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_worker_process", "--exact", "--nocapture"])
        .env(CHILD_NS, &ns)
        .env("REDIS_URL", common::redis_url())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info = storage.get(id).await.unwrap().unwrap();
        if info.status == Status::Running {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the child worker never started the job");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let a few heartbeats pass, so the job is mid-run under a live, extended lease.
    tokio::time::sleep(Duration::from_millis(600)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let info = storage.get(id).await.unwrap().unwrap();
    assert_eq!((info.status, info.attempt), (Status::Running, 1), "the job was running when the worker died");

    let seen = Seen::default();
    let worker = WorkerBuilder::new("survivor")
        .poll_interval(Duration::from_millis(100))
        .data(seen.clone())
        .backend(storage.clone())
        .build_fn(slow_job);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(worker.run_until(async move {
        let _ = stop_rx.await;
    }));
    wait_for("the job completed after the lease", Duration::from_secs(10), || seen.distinct() == 1).await;
    let _ = stop_tx.send(());
    handle.await.unwrap().unwrap();
    let info = storage.get(id).await.unwrap().unwrap();
    assert_eq!((info.status, info.attempt), (Status::Done, 2), "the job must be done on its second attempt");
    storage.purge().await.unwrap();
}
