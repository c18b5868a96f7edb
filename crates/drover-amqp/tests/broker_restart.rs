//! RabbitMQ restarted (`rabbitmqctl stop_app && rabbitmqctl start_app`) in the middle of a
//! drain: the worker reconnects by itself and every job completes (at least once). The broker is
//! a node of this test's own (`drover-r1@localhost` on 127.0.0.1:5703, distribution port 25703:
//! tests/support/rabbit_nodes.rs), never the shared one at `AMQP_URL`, which other tests use.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use drover_amqp::{AmqpConfig, AmqpStorage};
use drover_conformance::{start_worker, wait_until, Action, Recorder, TestJob};
use drover_core::{Enqueue, TaskId};

#[path = "support/rabbit_nodes.rs"]
mod rabbit_nodes;
use rabbit_nodes::{Layout, RabbitNodes};

const BROKER: Layout = Layout { prefix: "drover-r", nodes: 1, amqp_port: 5703, dist_port: 25703 };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_survives_a_broker_restart() {
    // `RUST_LOG=drover_amqp=debug` shows the reconnects and consumer changes.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    }
    let broker = Arc::new(tokio::task::spawn_blocking(|| RabbitNodes::start(BROKER, false)).await.unwrap());
    let rabbitmqctl = |command: &'static str| {
        let broker = broker.clone();
        async move { tokio::task::spawn_blocking(move || broker.ctl(0, &[command])).await.unwrap() }
    };
    let config = AmqpConfig::new(broker.url(0), format!("restart-{}", TaskId::new()));
    let storage: AmqpStorage<TestJob> = AmqpStorage::connect(config).await.expect("connect to RabbitMQ");
    let n = 3_000u64;
    storage.push_bulk((0..n).map(|i| TestJob::with(i, Action::Sleep(20)))).await.expect("push");
    let recorder = Recorder::default();
    let worker = start_worker("restart", storage.clone(), &recorder, 10);
    wait_until("the drain is under way", Duration::from_secs(30), || recorder.finished() >= 300).await;

    // Delivered and unacknowledged while the broker stops and restarts: running, claimed
    // ahead by the worker or with an ack on its way. The broker requeues all of them, so
    // these may run twice; the most held at any moment of the outage bounds the re-runs.
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn({
        let (storage, sampling) = (storage.clone(), sampling.clone());
        async move {
            let mut most = 0;
            while sampling.load(Ordering::Relaxed) {
                most = most.max(storage.held_claims());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            most
        }
    });
    rabbitmqctl("stop_app").await;
    let during = recorder.finished();
    tokio::time::sleep(Duration::from_secs(1)).await;
    rabbitmqctl("start_app").await;
    sampling.store(false, Ordering::Relaxed);
    let in_flight = sampler.await.expect("the sampler ran");
    assert!((during as u64) < n, "the drain finished before the broker stopped; the test proves nothing");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while (recorder.finished_counts().len() as u64) < n {
        if tokio::time::Instant::now() > deadline {
            let missing = n - recorder.finished_counts().len() as u64;
            let depths = storage.queue_depths().await;
            panic!(
                "{missing} of {n} jobs never completed after the restart; the storage holds {} claims; \
                 queue depths {depths:?}",
                storage.held_claims()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.stop().await.expect("the worker stops cleanly");
    let counts = recorder.finished_counts();
    assert_eq!(counts.len() as u64, n, "every job must complete at least once");
    let again = counts.values().filter(|c| **c > 1).count();
    eprintln!("{n} jobs completed; {again} ran twice; at most {in_flight} were in flight during the outage");
    // A few more may be claimed between the count and the broker's stop.
    let bound = in_flight + 20;
    assert!(again <= bound, "only jobs in flight at the restart may run twice: {again} ran twice, bound {bound}");
}
