//! A quorum queue replicated on a 3-node RabbitMQ cluster started by this test on loopback
//! (nodes `drover-q1@localhost`..`drover-q3@localhost`, AMQP ports 5700-5702, distribution
//! ports 25700-25702, CLI distribution ports 25704-25709, data, logs and a private Erlang
//! cookie in a temp dir, no plugins: tests/support/rabbit_nodes.rs). The node holding the
//! queue's leader, which is also the node the storage is connected to, is killed with SIGKILL
//! mid-drain: the storage reconnects to another node (`set_fallback_urls`), the queue elects a
//! new leader, and every job completes at least once; jobs pushed after the kill complete too,
//! and so do jobs claimed before the kill on a consumer that a larger one joined.
//! The nodes are killed when the test ends, also on a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use drover_amqp::{AmqpConfig, AmqpStorage, QueueType};
use drover_conformance::{start_worker, wait_until, Action, Recorder, TestJob};
use drover_core::{Backend, ClaimRequest, Enqueue, TaskId};

#[path = "support/rabbit_nodes.rs"]
mod rabbit_nodes;
use rabbit_nodes::{Layout, RabbitNodes};

const CLUSTER: Layout = Layout { prefix: "drover-q", nodes: 3, amqp_port: 5700, dist_port: 25700 };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_queue_on_three_nodes_loses_nothing_when_its_leader_node_is_killed_mid_drain() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    }
    let mut cluster = tokio::task::spawn_blocking(|| RabbitNodes::start(CLUSTER, true)).await.unwrap();
    let queue = format!("cluster-{}", TaskId::new());
    let config = AmqpConfig::new(cluster.url(0), &queue)
        .set_fallback_urls([cluster.url(1), cluster.url(2)])
        .set_queue_type(QueueType::Quorum);
    let storage: AmqpStorage<TestJob> = AmqpStorage::connect(config).await.expect("connect to the cluster");

    let status = tokio::task::block_in_place(|| {
        cluster.ctl(0, &["list_queues", "-q", "--no-table-headers", "name", "leader", "members"])
    });
    let line = status.lines().find(|l| l.starts_with(&format!("{queue}\t"))).unwrap_or_else(|| panic!("{status}"));
    assert!(line.contains(&format!("\t{}\t", cluster.name(0))), "the leader is on the node declaring it: {line}");
    for i in 0..3 {
        assert!(line.contains(cluster.name(i)), "a replica on every node: {line}");
    }

    let n = 2_000u64;
    let more = 300u64;
    storage.push_bulk((0..n).map(|i| TestJob::with(i, Action::Sleep(5)))).await.expect("push");

    // Claims held across the kill, taken so that the storage needs a second consumer while
    // the first one's deliveries are all held: a claim of one starts a consumer with the least
    // prefetch (128), a claim of 300 more needs a larger one. RabbitMQ 3.10 hands back what a
    // node's *active* consumers held when the node dies, not what a cancelled one held, so
    // these 128 come back only if the first consumer was never cancelled. The claims are not
    // completed: once redelivered, their leases run out and they run on the worker.
    let hold = Duration::from_secs(10);
    let mut held = storage.claim(ClaimRequest::new("holder", 1, hold)).await.expect("claim one");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while held.len() < 301 && tokio::time::Instant::now() < deadline {
        // The first of these starts the second consumer; the others take what it delivers.
        held.extend(storage.claim(ClaimRequest::new("holder", 301 - held.len(), hold)).await.expect("claim"));
    }
    assert_eq!(held.len(), 301, "the first consumer's deliveries are not all held");

    let recorder = Recorder::default();
    let worker = start_worker("cluster", storage.clone(), &recorder, 10);
    wait_until("the drain is under way", Duration::from_secs(60), || recorder.finished() >= 200).await;

    tokio::task::block_in_place(|| cluster.kill(0));
    let at_kill = recorder.finished();
    assert!((at_kill as u64) < n, "the drain finished before the node died; the test proves nothing");
    eprintln!("killed drover-q1 (leader, and the storage's node) after {at_kill} of {n} jobs");

    // Pushes keep working once the storage reconnected and the queue has a new leader.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match storage.push_bulk((n..n + more).map(|i| TestJob::with(i, Action::Sleep(5)))).await {
            Ok(_) => break,
            Err(error) if tokio::time::Instant::now() < deadline => {
                eprintln!("push after the kill: {error}; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => panic!("pushes never worked again after the node died: {error}"),
        }
    }

    let total = n + more;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while (recorder.finished_counts().len() as u64) < total {
        if tokio::time::Instant::now() > deadline {
            let missing: Vec<u64> = (0..total).filter(|i| !recorder.finished_counts().contains_key(i)).collect();
            // Where the broker holds them: ready or unacknowledged, and on which channel.
            let queues = tokio::task::block_in_place(|| {
                let args = ["list_queues", "-q", "name", "messages_ready", "messages_unacknowledged", "consumers"];
                cluster.ctl(1, &args)
            });
            let channels = tokio::task::block_in_place(|| {
                let args = ["list_channels", "-q", "connection", "number", "consumer_count", "messages_unacknowledged"];
                cluster.ctl(1, &args)
            });
            panic!(
                "{} of {total} jobs never completed after the node died (first: {:?}); queue depths {:?}\n\
                 queues:\n{queues}\nchannels:\n{channels}",
                missing.len(),
                &missing[..missing.len().min(10)],
                storage.queue_depths().await
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let depths = storage.queue_depths().await;
    worker.stop().await.expect("the worker stops cleanly");
    let counts = recorder.finished_counts();
    assert!((0..total).all(|i| counts.contains_key(&i)), "every job completes at least once");
    let again = counts.values().filter(|c| **c > 1).count();
    eprintln!("{total} jobs completed; {again} ran more than once; queue depths at the end {depths:?}");
    storage.close().await.unwrap();
    drop(cluster);
}
