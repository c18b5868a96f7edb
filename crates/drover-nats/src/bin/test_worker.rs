//! A worker process for the crash test (tests/kill_worker.rs): it runs jobs from the queue
//! named by its first argument and reports each start on standard output, so the test can
//! kill it with SIGKILL in the middle of a job. Not meant for users.

use std::io::Write;
use std::time::Duration;

use drover_core::{Attempt, BoxDynError, WorkerBuilder};
use drover_nats::{NatsConfig, NatsStorage};
use serde::{Deserialize, Serialize};

/// The job: a number, and how long to run.
#[derive(Debug, Serialize, Deserialize)]
struct SlowJob {
    n: u64,
    sleep_ms: u64,
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn run_job(job: SlowJob, attempt: Attempt) -> Result<(), BoxDynError> {
    say(format!("started {} {}", job.n, attempt.0));
    tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
    Ok(())
}

fn main() -> Result<(), BoxDynError> {
    let queue = std::env::args().nth(1).ok_or("usage: drover-nats-test-worker <queue>")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let mut config = NatsConfig::from_env().set_queue(queue).set_ack_wait(Duration::from_secs(2));
        // The test's own consumer settings: a differing max_deliver would re-create the consumer.
        if let Some(max) = std::env::var("DROVER_TEST_MAX_DELIVER").ok().and_then(|v| v.parse().ok()) {
            config = config.set_max_deliver(max);
        }
        let storage: NatsStorage<SlowJob> = NatsStorage::connect(config).await?;
        let worker = WorkerBuilder::new("test-worker").backend(storage).concurrency(2).build_fn(run_job);
        worker.run_until(std::future::pending::<()>()).await?;
        Ok(())
    })
}
