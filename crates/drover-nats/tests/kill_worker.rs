//! A worker process killed with SIGKILL in the middle of a job: the server redelivers the
//! message after `ack_wait`, which counts as an attempt, and it completes on another worker.
//! A job killed on its last attempt is dead instead of looping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_conformance::wait_until;
use drover_core::{Attempt, BoxDynError, Data, Enqueue, PushOptions, WorkerBuilder};
use drover_nats::NatsStorage;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The job type of the `drover-nats-test-worker` binary.
#[derive(Debug, Serialize, Deserialize)]
struct SlowJob {
    n: u64,
    sleep_ms: u64,
}

type Seen = Arc<Mutex<Vec<(u64, u32)>>>;

async fn record(job: SlowJob, seen: Data<Seen>, attempt: Attempt) -> Result<(), BoxDynError> {
    seen.lock().unwrap().push((job.n, attempt.0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_job_is_redelivered_and_completes() {
    let config =
        common::config("k").set_storage(drover_nats::NatsStorageType::File).set_ack_wait(Duration::from_secs(2));
    let queue = config.queue().unwrap().to_owned();
    let storage: NatsStorage<SlowJob> = common::connect(config).await;
    storage.push(SlowJob { n: 1, sleep_ms: 600_000 }).await.unwrap();
    storage.push_with(SlowJob { n: 2, sleep_ms: 600_000 }, PushOptions::new().max_attempts(1)).await.unwrap();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_drover-nats-test-worker"))
        .arg(&queue)
        .env("NATS_URL", common::url())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the test worker");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut started = Vec::new();
    let reading = async {
        while started.len() < 2 {
            let line = lines.next_line().await.unwrap().expect("the test worker exited early");
            if let Some(rest) = line.strip_prefix("started ") {
                started.push(rest.to_owned());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), reading).await.expect("the test worker started both jobs");
    child.start_kill().expect("SIGKILL the worker");
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "the worker was killed, not finished: {status}");

    let seen = Seen::default();
    let worker = WorkerBuilder::new("after-kill").backend(storage.clone()).concurrency(2).data(seen.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.build_fn(record).run_until(async move {
        let _ = stopped.await;
    }));
    wait_until("the killed job ran again", Duration::from_secs(20), || !seen.lock().unwrap().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();

    assert_eq!(
        *seen.lock().unwrap(),
        vec![(1, 2)],
        "job 1 runs again as attempt 2; job 2, killed on its last attempt, does not"
    );
    let depths = storage.depths().await.unwrap();
    assert_eq!(depths.dead, 1, "job 2 must be in the dead stream: {depths:?}");
    storage.delete_streams().await.unwrap();
}
