//! Faults: a worker process killed with SIGKILL mid-job, and rows whose payload does not decode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use drover_core::{BoxDynError, Data, Enqueue, Inspect, ListQuery, Status, TaskId, WorkerBuilder};
use drover_postgres::{PostgresConfig, PostgresStorage};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Job {
    n: u64,
}

const CHILD_QUEUE: &str = "DROVER_TEST_CHILD_QUEUE";
const CHILD_LEASE: Duration = Duration::from_secs(2);

/// Not a test of its own: the worker process `killed_worker_loses_nothing` starts (this test
/// binary, re-executed) and kills. Its jobs never finish.
#[tokio::test]
#[ignore = "run as a child process by killed_worker_loses_nothing"]
async fn child_worker_process() {
    let Ok(queue) = std::env::var(CHILD_QUEUE) else { return };
    let storage: PostgresStorage<Job> =
        PostgresStorage::new_with_config(common::pool().await, PostgresConfig::new(queue));
    async fn hang(_job: Job) -> Result<(), BoxDynError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    }
    let worker = WorkerBuilder::new("doomed").backend(storage).concurrency(4).lease(CHILD_LEASE).build_fn(hang);
    let _ = worker.run_until(std::future::pending::<()>()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_loses_nothing() {
    let pool = common::pool().await;
    let queue = common::queue("kill9");
    let storage: PostgresStorage<Job> = PostgresStorage::new_with_config(pool, PostgresConfig::new(queue.clone()));
    let ids = storage.push_bulk((0..10).map(|n| Job { n })).await.unwrap();

    // A real worker process claims jobs and hangs in them.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_worker_process", "--ignored", "--nocapture"])
        .env(CHILD_QUEUE, &queue)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the child worker process");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stats = storage.stats().await.unwrap();
        if stats.running >= 4 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the child worker never claimed its jobs: {stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held: Vec<TaskId> =
        storage.list(ListQuery::new(Some(Status::Running), 100)).await.unwrap().iter().map(|t| t.id).collect();
    assert!(held.len() >= 4);

    // kill -9: no shutdown, no hand-back, no completion.
    child.kill().expect("SIGKILL the child");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must have died: {status}");

    // A worker here finishes every job once the dead worker's leases ran out.
    let ran = Arc::new(AtomicUsize::new(0));
    async fn work(_job: Job, ran: Data<Arc<AtomicUsize>>) -> Result<(), BoxDynError> {
        ran.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    let worker = WorkerBuilder::new("survivor")
        .backend(storage.clone())
        .concurrency(4)
        .poll_interval(Duration::from_millis(200))
        .data(ran.clone())
        .build_fn(work);
    let handle = tokio::spawn(worker.run_until(tokio::time::sleep(Duration::from_secs(3600))));
    for id in &ids {
        common::wait_for_status(&storage, *id, Status::Done, Duration::from_secs(30)).await;
    }
    handle.abort();
    for id in held {
        let info = storage.get(id).await.unwrap().unwrap();
        assert_eq!(info.attempt, 2, "a job the killed worker held runs again as attempt 2");
    }
    assert_eq!(storage.stats().await.unwrap().done, 10, "every job done, none lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_rows_end_dead_and_the_worker_goes_on() {
    let pool = common::pool().await;
    let queue = common::queue("undecodable");
    let storage: PostgresStorage<Job> =
        PostgresStorage::new_with_config(pool.clone(), PostgresConfig::new(queue.clone()));
    // Rows written by something else: bytes that are not JSON, and JSON of the wrong shape.
    let garbage: (uuid::Uuid,) = sqlx::query_as(
        "INSERT INTO drover.tasks (id, queue, payload) VALUES (drover.new_task_id(), $1, '\\xfffe00'::bytea) RETURNING id",
    )
    .bind(&queue)
    .fetch_one(&pool)
    .await
    .unwrap();
    let wrong_shape: (String,) =
        sqlx::query_as("SELECT drover.push_job($1, '{\"wrong\": true}')").bind(&queue).fetch_one(&pool).await.unwrap();
    let good = storage.push(Job { n: 1 }).await.unwrap();

    async fn work(_job: Job) -> Result<(), BoxDynError> {
        Ok(())
    }
    let worker = WorkerBuilder::new("decoder").backend(storage.clone()).concurrency(1).build_fn(work);
    let handle = tokio::spawn(worker.run_until(tokio::time::sleep(Duration::from_secs(3600))));
    common::wait_for_status(&storage, good, Status::Done, Duration::from_secs(10)).await;
    let garbage = TaskId::from_u128(garbage.0.as_u128());
    let wrong_shape: TaskId = wrong_shape.0.parse().unwrap();
    for id in [garbage, wrong_shape] {
        common::wait_for_status(&storage, id, Status::Dead, Duration::from_secs(10)).await;
        let info = storage.get(id).await.unwrap().unwrap();
        let error = info.last_error.unwrap_or_default();
        assert!(error.contains("could not decode"), "the decode error is recorded: {error:?}");
        assert_eq!(info.attempt, 1, "an undecodable task is not retried");
    }
    handle.abort();
}
