//! Faults: a worker whose visibility timeout passed while another pgmq reader took its
//! message, and a worker process killed with SIGKILL mid-job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use drover_core::{
    Backend, BoxDynError, ClaimRequest, Completion, Data, Enqueue, Inspect, ListQuery, Outcome, Status, TaskId,
    WorkerBuilder,
};
use drover_pgmq::{msg_id, PgmqConfig, PgmqStorage};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Job {
    n: u64,
}

/// The message's read_ct, vt in the future, and whether it is archived, as psql sees it.
async fn state(queue: &str, id: i64) -> String {
    common::psql(&format!(
        "SELECT (SELECT read_ct || ',' || (vt > clock_timestamp()) FROM pgmq.q_{queue} WHERE msg_id = {id}), \
                (SELECT count(*) FROM pgmq.a_{queue} WHERE msg_id = {id}), \
                (SELECT count(*) FROM pgmq.q_{queue}_dead)"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_workers_completion_after_its_visibility_timeout_changes_nothing() {
    let storage: PgmqStorage<Job> = common::storage("stale").await;
    let q = storage.queue_name().to_owned();
    let id = storage.push(Job { n: 1 }).await.unwrap();
    let mid = msg_id(id).unwrap();
    let stale = storage.claim(ClaimRequest::new("stale", 1, Duration::from_millis(300))).await.unwrap();
    assert_eq!(stale.len(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The visibility timeout passed; another pgmq client reads the message.
    let read = common::psql(&format!("SELECT msg_id, read_ct FROM pgmq.read('{q}', 30, 1)")).await;
    assert_eq!(read, format!("{mid}|2"));
    let before = state(&q, mid).await;
    assert_eq!(before, "2,true|0|0");

    // The stale worker, late, completes, extends, releases, fails it: each is ignored.
    let lease = stale[0].lease();
    storage.complete(vec![Completion { lease, outcome: Outcome::Done }]).await.unwrap();
    assert_eq!(state(&q, mid).await, before, "a stale completion archived a message another reader holds");
    storage.complete(vec![Completion { lease, outcome: Outcome::Dead { error: "late".into() } }]).await.unwrap();
    storage
        .complete(vec![Completion { lease, outcome: Outcome::Retry { delay: Duration::ZERO, error: "late".into() } }])
        .await
        .unwrap();
    storage.release(vec![lease]).await.unwrap();
    storage.extend_leases(vec![lease], Duration::from_secs(3600)).await.unwrap();
    assert_eq!(state(&q, mid).await, before, "a stale worker changed a message another reader holds");
    let info = storage.get(id).await.unwrap().unwrap();
    assert_eq!((info.status, info.last_error), (Status::Running, None));

    // The current reader's archive works.
    assert_eq!(common::psql(&format!("SELECT pgmq.archive('{q}', {mid})")).await, "t");
    assert_eq!(storage.get(id).await.unwrap().unwrap().status, Status::Done);
}

const CHILD_QUEUE: &str = "DROVER_PGMQ_TEST_CHILD_QUEUE";
const CHILD_LEASE: Duration = Duration::from_secs(2);

/// Not a test of its own: the worker process `a_killed_worker_loses_nothing` starts (this test
/// binary, re-executed) and kills. Its jobs never finish.
#[tokio::test]
#[ignore = "run as a child process by a_killed_worker_loses_nothing"]
async fn child_worker_process() {
    let Ok(queue) = std::env::var(CHILD_QUEUE) else { return };
    let storage: PgmqStorage<Job> = PgmqStorage::new_with_config(common::pool().await, PgmqConfig::new(queue));
    async fn hang(_job: Job) -> Result<(), BoxDynError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    }
    let worker =
        WorkerBuilder::new("doomed").backend(storage).concurrency(4).prefetch(0).lease(CHILD_LEASE).build_fn(hang);
    let _ = worker.run_until(std::future::pending::<()>()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing() {
    let storage: PgmqStorage<Job> = common::storage("kill9").await;
    let queue = storage.queue_name().to_owned();
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
    assert_eq!(held.len(), 4, "the child holds one message per slot");

    // kill -9: no shutdown, no hand-back, no completion.
    child.kill().expect("SIGKILL the child");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must have died: {status}");
    let killed_at = tokio::time::Instant::now();

    // A worker here finishes every job; the dead worker's once their visibility timeout ran out.
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
    for id in &held {
        common::wait_for_status(&storage, *id, Status::Done, Duration::from_secs(30)).await;
    }
    assert!(killed_at.elapsed() >= CHILD_LEASE / 2, "held jobs ran again only after their visibility timeout");
    for id in &ids {
        common::wait_for_status(&storage, *id, Status::Done, Duration::from_secs(30)).await;
    }
    handle.abort();
    for id in held {
        let info = storage.get(id).await.unwrap().unwrap();
        assert_eq!(info.attempt, 2, "a job the killed worker held runs again as attempt 2");
    }
    assert_eq!(storage.stats().await.unwrap().done, 10, "every job done, none lost");
    assert_eq!(ran.load(Ordering::SeqCst), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_psql_send_wakes_an_idle_worker_through_pgmq_notify() {
    let config = PgmqConfig::default().set_notify_insert(Some(Duration::ZERO));
    let storage: PgmqStorage<Job> = common::storage_with("notify", config).await;
    let q = storage.queue_name().to_owned();
    let ran = Arc::new(AtomicUsize::new(0));
    async fn work(_job: Job, ran: Data<Arc<AtomicUsize>>) -> Result<(), BoxDynError> {
        ran.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    // Polling alone would take up to a minute.
    let worker = WorkerBuilder::new("listener")
        .backend(storage.clone())
        .poll_interval(Duration::from_secs(60))
        .data(ran.clone())
        .build_fn(work);
    let handle = tokio::spawn(worker.run_until(tokio::time::sleep(Duration::from_secs(3600))));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = tokio::time::Instant::now();
    common::psql(&format!(r#"SELECT pgmq.send('{q}', '{{"n": 1}}')"#)).await;
    while ran.load(Ordering::SeqCst) == 0 {
        assert!(sent.elapsed() < Duration::from_secs(10), "the worker was not woken by pgmq's insert notification");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_or_hand_back_that_crosses_a_retry_does_not_move_it() {
    let storage: PgmqStorage<Job> = common::storage("crossed").await;
    let id = storage.push(Job { n: 1 }).await.unwrap();
    let claimed = storage.claim(ClaimRequest::new("w", 1, Duration::from_secs(30))).await.unwrap();
    let lease = claimed[0].lease();
    let retry = Outcome::Retry { delay: Duration::from_secs(3600), error: "later".into() };
    storage.complete(vec![Completion { lease, outcome: retry }]).await.unwrap();
    storage.extend_leases(vec![lease], Duration::from_millis(1)).await.unwrap();
    storage.release(vec![lease]).await.unwrap();
    let info = storage.get(id).await.unwrap().unwrap();
    assert_eq!((info.status, info.last_error.as_deref()), (Status::Pending, Some("later")));
    assert!(info.run_at > chrono::Utc::now() + chrono::Duration::seconds(3000), "the retry's delay was moved");
    assert!(storage.claim(ClaimRequest::new("w", 1, Duration::from_secs(30))).await.unwrap().is_empty());
}
