//! A node of a three-node nats-server cluster (loopback ports 4303-4305, routes 6303-6305,
//! monitoring 8303-8305) SIGKILLed mid-drain, the work stream's leader by preference: its R3
//! streams elect a new leader, the storage's client (connected with every node's URL) fails
//! over, every job completes at least once, and the worker keeps going. The node then comes
//! back on its store and its replica of the work stream catches up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/cluster.rs"]
mod cluster;

use std::time::Duration;

use drover_conformance::{start_worker, wait_until, Action, Recorder, TestJob};
use drover_core::{Enqueue, TaskId};
use drover_nats::{NatsConfig, NatsStorage, NatsStorageType};
use tokio::time::Instant;

/// The work stream's leader and replicas (name, current) as the cluster reports them.
async fn stream_cluster(storage: &NatsStorage<TestJob>) -> Option<(String, Vec<(String, bool)>)> {
    let js = async_nats::jetstream::new(storage.client().clone());
    let mut stream = js.get_stream(storage.work_stream()).await.ok()?;
    let info = stream.info().await.ok()?;
    let cluster = info.cluster.clone()?;
    let replicas = cluster.replicas.iter().map(|r| (r.name.clone(), r.current)).collect();
    Some((cluster.leader?, replicas))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_survives_the_loss_of_the_stream_leader() {
    let mut nodes = tokio::task::spawn_blocking(|| cluster::NatsCluster::start(3)).await.unwrap();
    let config = NatsConfig::new(nodes.urls())
        .set_queue(format!("fault{}", TaskId::new()))
        .set_replicas(3)
        .set_storage(NatsStorageType::File)
        .set_ack_wait(Duration::from_secs(5));
    let storage: NatsStorage<TestJob> = NatsStorage::connect(config).await.expect("connect to the test cluster");
    let n = 3_000u64;
    storage.push_bulk((0..n).map(|i| TestJob::with(i, Action::Sleep(5)))).await.expect("push");
    let (leader, replicas) = stream_cluster(&storage).await.expect("the work stream's cluster info");
    assert_eq!(replicas.len(), 2, "the work stream has three replicas (a leader and two): {replicas:?}");
    let victim = nodes.index_of(&leader).unwrap_or_else(|| panic!("no node is named {leader}"));

    let recorder = Recorder::default();
    let worker = start_worker("cluster-fault", storage.clone(), &recorder, 10);
    wait_until("the drain is under way", Duration::from_secs(30), || recorder.finished() >= 500).await;
    let before = recorder.finished();
    let killed = Instant::now();
    tokio::task::block_in_place(|| nodes.kill(victim));
    assert!((before as u64) < n, "the drain finished before the node was killed; the test proves nothing");
    let new_leader = loop {
        match stream_cluster(&storage).await {
            Some((new_leader, _)) if new_leader != leader => break new_leader,
            other => assert!(
                killed.elapsed() < Duration::from_secs(15),
                "no surviving node leads the work stream 15 s after the kill: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let elected_in = killed.elapsed();

    let deadline = killed + Duration::from_secs(45);
    while (recorder.finished_counts().len() as u64) < n {
        if Instant::now() > deadline {
            let missing = n - recorder.finished_counts().len() as u64;
            panic!(
                "{missing} of {n} jobs never completed within 45 s of killing {leader}; depths {:?}; logs:\n{}",
                storage.depths().await,
                nodes.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained_in = killed.elapsed();

    // Deliveries whose acks the failover lost come back after ack_wait: let the server settle
    // so those re-runs are counted too.
    let settle = Instant::now() + Duration::from_secs(20);
    loop {
        let depths = storage.depths().await;
        if matches!(depths, Ok(d) if d.ready == 0 && d.ack_pending == 0) {
            break;
        }
        assert!(Instant::now() < settle, "the cluster still holds messages 20 s after the drain: {depths:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let counts = recorder.finished_counts();
    assert_eq!(counts.len() as u64, n, "every job completes at least once");
    assert!(counts.keys().all(|k| *k < n), "only the pushed jobs ran");
    let again = counts.values().filter(|c| **c > 1).count();

    // The worker keeps going: a job pushed now runs.
    storage.push(TestJob::with(n, Action::Succeed)).await.expect("push after the failover");
    wait_until("a job pushed after the failover ran", Duration::from_secs(10), || {
        recorder.finished_counts().contains_key(&n)
    })
    .await;

    // The killed node comes back on its store and catches up with the new leader.
    tokio::task::block_in_place(|| nodes.restart(victim));
    let back = Instant::now();
    loop {
        let caught_up = stream_cluster(&storage)
            .await
            .is_some_and(|(_, replicas)| replicas.iter().any(|(name, current)| *name == leader && *current));
        if caught_up {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(20), "{leader} did not catch up within 20 s of its restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{n} jobs on an R3 stream: {before} done when the leader {leader} was killed, {new_leader} leading \
         {elected_in:.1?} later, all done {drained_in:.1?} after the kill; {again} ran twice; {leader} caught up \
         {:.1?} after its restart",
        back.elapsed()
    );
    worker.stop().await.expect("the worker ran through the failover and stops cleanly");
    storage.delete_streams().await.unwrap();
}
