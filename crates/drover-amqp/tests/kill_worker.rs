//! A worker process killed with SIGKILL in the middle of a job: the broker redelivers the
//! message, which counts as an attempt, and it completes on another worker. A job killed on its
//! last attempt is dead instead of looping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_amqp::{AmqpConfig, AmqpStorage};
use drover_conformance::wait_until;
use drover_core::{Attempt, BoxDynError, Data, Enqueue, PushOptions, TaskId, WorkerBuilder};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The job type of the `drover-amqp-test-worker` binary.
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
    let queue = format!("kill-{}", TaskId::new());
    let config = AmqpConfig::from_env(queue.clone()).set_queue_expires(Duration::from_secs(600));
    let storage: AmqpStorage<SlowJob> = AmqpStorage::connect(config).await.expect("connect to RabbitMQ");
    storage.push(SlowJob { n: 1, sleep_ms: 600_000 }).await.unwrap();
    storage.push_with(SlowJob { n: 2, sleep_ms: 600_000 }, PushOptions::new().max_attempts(1)).await.unwrap();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_drover-amqp-test-worker"))
        .arg(&queue)
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
    assert!(started.contains(&"1 1".to_owned()) && started.contains(&"2 1".to_owned()), "{started:?}");

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
        "job 1 must run again as attempt 2 (the killed run counts); job 2, killed on its last attempt, must not"
    );
    let depths = storage.queue_depths().await.unwrap();
    assert_eq!((depths.ready, depths.dead), (0, 1), "job 2 must be in the dead-letter queue: {depths:?}");
}
