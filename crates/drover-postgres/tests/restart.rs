//! PostgreSQL restarted during a drain: the worker reconnects by itself and finishes every job.
//! Its own test binary, so the restart cannot disturb other tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_core::{BoxDynError, Data, Enqueue, Inspect, WorkerBuilder};
use drover_postgres::{PostgresConfig, PostgresStorage};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Job {
    n: u64,
}

/// Restart the local cluster the way the README starts it.
fn restart_postgres() {
    let versions = std::fs::read_dir("/etc/postgresql").expect("a local PostgreSQL cluster in /etc/postgresql");
    let version = versions.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).max().unwrap();
    let status = std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()
        .expect("run pg_ctlcluster");
    assert!(status.success(), "pg_ctlcluster restart failed: {status}");
}

async fn server_start(pool: &sqlx::PgPool) -> chrono::DateTime<chrono::Utc> {
    sqlx::query_scalar("SELECT pg_postmaster_start_time()").fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_during_drain_loses_nothing() {
    const N: u64 = 3_000;
    let pool = common::pool().await;
    let started_before = server_start(&pool).await;
    let storage: PostgresStorage<Job> =
        PostgresStorage::new_with_config(pool.clone(), PostgresConfig::new(common::queue("restart")));
    storage.push_bulk((0..N).map(|n| Job { n })).await.unwrap();

    let seen: Arc<Mutex<HashSet<u64>>> = Arc::default();
    async fn work(job: Job, seen: Data<Arc<Mutex<HashSet<u64>>>>) -> Result<(), BoxDynError> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        seen.lock().unwrap().insert(job.n);
        Ok(())
    }
    let worker = WorkerBuilder::new("restart-survivor")
        .backend(storage.clone())
        .concurrency(10)
        .lease(Duration::from_secs(3))
        .poll_interval(Duration::from_millis(200))
        .data(seen.clone())
        .build_fn(work);
    let handle = tokio::spawn(worker.run_until(tokio::time::sleep(Duration::from_secs(3600))));

    // Restart while the drain is under way.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().len() < 200 {
        assert!(tokio::time::Instant::now() < deadline, "the drain never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::task::spawn_blocking(restart_postgres).await.unwrap();
    let at_restart = seen.lock().unwrap().len();
    assert!((at_restart as u64) < N, "the drain finished before the restart; raise N");

    // Every job runs and is recorded done, through the same pool and worker.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let done = storage.stats().await.map(|s| s.done).unwrap_or(0);
        if done == N {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} of {N} jobs done 120 s after the restart ({} ran)",
            seen.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen.lock().unwrap().len() as u64, N, "every job ran");
    assert!(server_start(&pool).await > started_before, "the server must really have restarted");
    handle.abort();
}
