//! `kill -9` of a worker process mid-job on a file database: the job runs again after its
//! lease and completes, and the file passes `PRAGMA integrity_check`.
//!
//! The child process is this test binary itself, run with `--ignored --exact crash_child`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drover_core::{BoxDynError, Data, Enqueue, Inspect, Status, TaskId, WorkerBuilder};
use drover_sqlite::{SqliteConfig, SqliteStorage};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};

const DB_ENV: &str = "DROVER_SQLITE_CRASH_DB";
/// The child's lease: short, so the test does not wait long once the child is gone.
const CHILD_LEASE: Duration = Duration::from_secs(1);

/// The jobs the rescuing worker ran, with their attempts.
type Runs = Arc<Mutex<Vec<(u64, u32)>>>;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Job {
    n: u64,
}

fn db_path() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite-crash");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}.db", TaskId::new()))
}

/// The child: a worker with a short lease whose job announces itself and then sleeps, and a
/// producer writing bulk pushes to another queue non-stop, so the kill lands mid-write too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of kill_9_mid_job"]
async fn crash_child() {
    let Ok(url) = std::env::var(DB_ENV) else { return };
    let storage = SqliteStorage::<Job>::connect_with_config(&url, SqliteConfig::new("crash")).await.unwrap();
    let noise: SqliteStorage<Job> = storage.with_config(drover_sqlite::SqliteConfig::new("noise"));
    tokio::spawn(async move {
        for round in 0.. {
            noise.push_bulk((0..500).map(|n| Job { n: round * 1_000 + n })).await.unwrap();
        }
    });
    async fn sleepy(job: Job, id: TaskId) -> Result<(), BoxDynError> {
        println!("STARTED {id} {}", job.n);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    }
    let worker = WorkerBuilder::new("doomed")
        .lease(CHILD_LEASE)
        .heartbeat(Duration::from_millis(200))
        .backend(storage)
        .build_fn(sleepy);
    worker.run_until(std::future::pending::<()>()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_job() {
    let path = db_path();
    let url = format!("sqlite://{}", path.display());
    let storage = SqliteStorage::<Job>::connect_with_config(&url, SqliteConfig::new("crash")).await.unwrap();
    let id = storage.push(Job { n: 42 }).await.unwrap();

    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(DB_ENV, &url)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // The test harness may print its own text on the same line first.
            if let Some(at) = line.find("STARTED") {
                return line[at..].to_owned();
            }
            eprintln!("child: {line}");
        }
        panic!("the child exited before starting the job")
    })
    .await
    .expect("the child never started the job");
    assert_eq!(started, format!("STARTED {id} 42"));

    // Let the heartbeat and the producer run, then kill -9 mid-job (and likely mid-write).
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = storage.get(id).await.unwrap().unwrap();
    assert_eq!((before.status, before.attempt), (Status::Running, 1), "the child holds the job");
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "the child must have been killed, got {status}");
    let killed_at = Instant::now();

    // A worker here takes the job over once the dead child's lease runs out.
    let ran: Runs = Arc::default();
    async fn record(job: Job, attempt: drover_core::Attempt, ran: Data<Runs>) -> Result<(), BoxDynError> {
        ran.lock().unwrap().push((job.n, attempt.0));
        Ok(())
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = WorkerBuilder::new("rescuer")
        .poll_interval(Duration::from_millis(100))
        .data(ran.clone())
        .backend(storage.clone())
        .build_fn(record);
    let handle = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + CHILD_LEASE + Duration::from_secs(10);
    while storage.get(id).await.unwrap().unwrap().status != Status::Done {
        assert!(Instant::now() < deadline, "the killed worker's job never completed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = killed_at.elapsed();
    let _ = stop.send(());
    handle.await.unwrap().unwrap();
    assert_eq!(*ran.lock().unwrap(), vec![(42, 2)], "the job must run once more, as attempt 2");
    assert!(took <= CHILD_LEASE + Duration::from_secs(2), "recovery took {took:?}, the lease is {CHILD_LEASE:?}");
    let after = storage.get(id).await.unwrap().unwrap();
    assert_eq!((after.status, after.attempt), (Status::Done, 2));

    // The file is intact, and every committed bulk push of the child is whole.
    let check: String =
        drover_sqlite::sqlx::query_scalar("PRAGMA integrity_check").fetch_one(storage.pool()).await.unwrap();
    assert_eq!(check, "ok");
    let noise: SqliteStorage<Job> = storage.with_config(drover_sqlite::SqliteConfig::new("noise"));
    let pending = noise.stats().await.unwrap().pending;
    assert!(pending > 0 && pending % 500 == 0, "bulk pushes must be all-or-nothing, found {pending} noise tasks");
    eprintln!("recovered in {took:?}; {pending} noise tasks committed before the kill; integrity_check = {check}");
    storage.pool().close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
