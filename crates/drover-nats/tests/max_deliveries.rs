//! The server-side backstop: a message delivered `max_deliver` times without an ack (its
//! worker killed each time) ends in the dead stream, from the server's advisory while a
//! storage listens, or from the start-up sweep when nobody did.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use async_nats::jetstream::AckKind;
use drover_conformance::{Running, TestJob};
use std::sync::{Arc, Mutex};

use drover_core::{BoxDynError, Data, Enqueue, WorkerBuilder};
use drover_nats::{NatsStorage, NatsStorageType};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The job type of the `drover-nats-test-worker` binary.
#[derive(Debug, Serialize, Deserialize)]
struct SlowJob {
    n: u64,
    sleep_ms: u64,
}

const MAX_DELIVER: u32 = 3;

type Ran = Arc<Mutex<Vec<u64>>>;

async fn record(job: SlowJob, ran: Data<Ran>) -> Result<(), BoxDynError> {
    ran.lock().unwrap().push(job.n);
    Ok(())
}

/// Wait until `storage` reports `dead` dead messages and an empty work stream.
async fn wait_dead<T>(storage: &NatsStorage<T>, dead: u64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let d = storage.depths().await.unwrap();
        if d.dead == dead && d.ready == 0 && d.ack_pending == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "expected {dead} dead and an empty work stream: {d:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_kills_its_worker_every_time_ends_dead_after_max_deliver() {
    let config = common::config("mdkill")
        .set_storage(NatsStorageType::File)
        .set_ack_wait(Duration::from_secs(2))
        .set_max_deliver(MAX_DELIVER);
    let queue = config.queue().unwrap().to_owned();
    // This storage listens to the advisory; the job keeps its 25 attempts, so only the
    // server's max_deliver can stop the loop.
    let storage: NatsStorage<SlowJob> = common::connect(config).await;
    storage.push(SlowJob { n: 1, sleep_ms: 600_000 }).await.unwrap();

    for delivery in 1..=MAX_DELIVER {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_drover-nats-test-worker"))
            .arg(&queue)
            .env("NATS_URL", common::url())
            .env("DROVER_TEST_MAX_DELIVER", MAX_DELIVER.to_string())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the test worker");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let started = async {
            loop {
                let line = lines.next_line().await.unwrap().expect("the test worker exited early");
                if let Some(rest) = line.strip_prefix("started ") {
                    return rest.to_owned();
                }
            }
        };
        let started = tokio::time::timeout(Duration::from_secs(15), started).await.expect("the job started");
        assert_eq!(started, format!("1 {delivery}"), "delivery {delivery} is attempt {delivery}");
        child.start_kill().expect("SIGKILL the worker");
        assert!(!child.wait().await.unwrap().success());
    }

    // A worker pulls: the server finds the message past max_deliver, says so in its
    // advisory, and this storage moves it to the dead stream. It never runs again.
    let ran = Ran::default();
    let worker = Running::start(
        WorkerBuilder::new("after-kills").backend(storage.clone()).concurrency(2).data(ran.clone()).build_fn(record),
    );
    let waited = tokio::time::Instant::now();
    wait_dead(&storage, 1, Duration::from_secs(15)).await;
    eprintln!("killed on each of {MAX_DELIVER} deliveries: dead {:?} after the last kill", waited.elapsed());
    worker.stop().await.unwrap();
    assert!(ran.lock().unwrap().is_empty(), "the job must not run after max_deliver deliveries");
    storage.delete_streams().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_sweep_finds_a_message_whose_advisory_nobody_heard() {
    let config = common::config("mdsweep").set_ack_wait(Duration::from_secs(2)).set_max_deliver(MAX_DELIVER);
    let first: NatsStorage<TestJob> = common::connect(config.clone()).await;
    first.push(TestJob::ok(1)).await.unwrap();
    let work_stream = first.work_stream().to_owned();
    // No storage listens from here on.
    first.flush().await.unwrap();
    drop(first);

    // Deliver it max_deliver times without Drover, Nak'ing each time (a worker that crashed).
    let client = async_nats::connect(common::url()).await.unwrap();
    let mut heard = client
        .subscribe(format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{work_stream}.drover_workers"))
        .await
        .unwrap();
    client.flush().await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let stream = js.get_stream(&work_stream).await.unwrap();
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream.get_consumer("drover_workers").await.unwrap();
    let mut deliveries = 0;
    let advised = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let mut batch =
                consumer.fetch().max_messages(1).expires(Duration::from_millis(200)).messages().await.unwrap();
            while let Some(Ok(message)) = batch.next().await {
                deliveries += 1;
                message.ack_with(AckKind::Nak(None)).await.unwrap();
            }
            if let Ok(Some(advisory)) = tokio::time::timeout(Duration::from_millis(10), heard.next()).await {
                return advisory;
            }
        }
    })
    .await
    .expect("the server sent its max-deliveries advisory");
    assert_eq!(deliveries, MAX_DELIVER, "delivered max_deliver times, then no more");
    eprintln!("advisory nobody acted on: {}", String::from_utf8_lossy(&advised.payload));
    let mut info = stream.clone();
    assert_eq!(info.info().await.unwrap().state.messages, 1, "the server leaves the message in the work stream");

    // The next storage to connect sweeps it into the dead stream.
    let second: NatsStorage<TestJob> = common::connect(config).await;
    let depths = second.depths().await.unwrap();
    assert_eq!((depths.dead, depths.ready, depths.ack_pending), (1, 0, 0), "swept at connect: {depths:?}");
    assert_eq!(info.info().await.unwrap().state.messages, 0, "deleted from the work stream");
    second.delete_streams().await.unwrap();
}
