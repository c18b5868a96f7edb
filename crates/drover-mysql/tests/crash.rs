//! kill -9 of a worker process mid-job: the job is not lost; another worker completes it once
//! the dead worker's lease has run out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drover_core::{Attempt, Data, Enqueue, Inspect, PushOptions, Status, WorkerBuilder};
use drover_mysql::{MysqlConfig, MysqlStorage};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Attempts seen by the rescuing worker, with the time since the kill.
type Seen = Arc<std::sync::Mutex<Vec<(u32, Duration)>>>;

/// The crashed worker's lease.
const LEASE: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_job_completes_after_its_lease() {
    let queue = support::queue("crash");
    let pool = support::pool().await;
    let storage: MysqlStorage<u64> = MysqlStorage::new_with_config(pool, MysqlConfig::new(queue.clone()));
    let id = storage.push_with(7, PushOptions::new().max_attempts(3)).await.unwrap();

    // A real worker process takes the job and hangs in it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_drover-mysql-crash-worker"))
        .args([support::url(), queue.clone(), LEASE.as_millis().to_string()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the crash worker");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the crash worker never started the job")
        .unwrap()
        .expect("the crash worker exited before starting the job");
    assert_eq!(line, format!("started {id}"));
    let running = storage.get(id).await.unwrap().unwrap();
    assert_eq!((running.status, running.attempt), (Status::Running, 1));

    // kill -9: no shutdown, no hand-back, no ack.
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "the worker must have died from the signal: {status:?}");
    let killed_at = Instant::now();

    // A new worker picks the job up once the lease has run out, and completes it.
    let runs = Arc::new(AtomicU32::new(0));
    let attempts: Seen = Arc::default();
    async fn handle(
        _job: u64,
        attempt: Attempt,
        runs: Data<Arc<AtomicU32>>,
        seen: Data<Seen>,
        started: Data<Instant>,
    ) -> Result<(), drover_core::BoxDynError> {
        runs.fetch_add(1, Ordering::SeqCst);
        seen.lock().unwrap().push((attempt.0, started.elapsed()));
        Ok(())
    }
    let worker = WorkerBuilder::new("rescuer")
        .backend(storage.clone())
        .poll_interval(Duration::from_millis(50))
        .data(runs.clone())
        .data(attempts.clone())
        .data(killed_at)
        .build_fn(handle);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = storage.get(id).await.unwrap().unwrap();
        if info.status == Status::Done {
            break;
        }
        assert!(Instant::now() < deadline, "the killed worker's job never completed: {info:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    handle.await.unwrap().unwrap();

    assert_eq!(runs.load(Ordering::SeqCst), 1, "the job must run exactly once after the crash");
    let seen = attempts.lock().unwrap().clone();
    assert_eq!(seen[0].0, 2, "the re-run is the second attempt");
    // The child heartbeated every LEASE / 4, so its lease ran out between 3/4 of LEASE and
    // LEASE after the kill: not before (the claim held), and not much later.
    assert!(seen[0].1 >= LEASE / 2, "re-run before the lease expired: {:?}", seen[0].1);
    assert!(seen[0].1 <= LEASE + Duration::from_secs(3), "picked up too late: {:?}", seen[0].1);
    let done = storage.get(id).await.unwrap().unwrap();
    assert_eq!((done.status, done.attempt), (Status::Done, 2));
}
