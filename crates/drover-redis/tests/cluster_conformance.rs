//! The whole conformance suite, and the admin contract's, on a Redis Cluster of three masters
//! and three replicas that this test binary starts on loopback ports 7100-7105 (see
//! `support/cluster.rs`). Each check connects with `connect_cluster` and uses a namespace of
//! its own, so the checks' queues spread over the masters.
//!
//! The cluster is started once, by the first check, and shared; its nodes are killed when the
//! test process exits (the harness's watchdog: a static is never dropped).
#![cfg(feature = "cluster")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/cluster.rs"]
mod cluster;

use std::sync::LazyLock;

use drover_conformance::TestJob;
use drover_redis::{Config, RedisAdmin, RedisConnection, RedisStorage};

/// Ports 7100-7105 (cluster bus 17100-17105).
const BASE_PORT: u16 = 7100;

static CLUSTER: LazyLock<Result<cluster::TestCluster, String>> =
    LazyLock::new(|| cluster::TestCluster::start(BASE_PORT));

async fn connection() -> RedisConnection {
    let cluster = match &*CLUSTER {
        Ok(cluster) => cluster,
        Err(e) => panic!("cannot start the test cluster: {e}"),
    };
    drover_redis::connect_cluster(&cluster.urls())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e}"))
}

async fn backend() -> RedisStorage<TestJob> {
    let ns = format!("cluster-conf-{}", drover_core::TaskId::new());
    RedisStorage::new_with_config(connection().await, Config::default().set_namespace(ns))
}

async fn admin() -> (RedisAdmin, String) {
    (RedisAdmin::new(connection().await), format!("cluster-admin-{}", drover_core::TaskId::new()))
}

drover_conformance::conformance_tests!(backend; core, priorities, unique_keys, cancel, requeue, inspect, batches, ticks, pause, global_concurrency, global_rate, key_concurrency);
drover_conformance::admin_conformance_tests!(admin);

/// `purge` scans the node that holds the queue's slot, and the queue's keys are all there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_finds_every_key_on_the_cluster() {
    use drover_core::{Enqueue, Inspect};
    let storage = backend().await;
    storage.push_bulk((0..50).map(TestJob::ok)).await.unwrap();
    let deleted = storage.purge().await.unwrap();
    // 50 task hashes and the indexes they are in.
    assert!(deleted >= 52, "purge deleted only {deleted} keys");
    assert_eq!(storage.stats().await.unwrap().pending, 0);
}

/// WAIT after pushes: with one replica per master, a push waits for it and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_wait_for_a_replica() {
    use drover_core::Enqueue;
    let ns = format!("cluster-wait-{}", drover_core::TaskId::new());
    let config = Config::new(ns).set_wait_for_replicas(1, std::time::Duration::from_secs(2));
    let storage: RedisStorage<TestJob> = RedisStorage::new_with_config(connection().await, config);
    storage.push(TestJob::ok(1)).await.unwrap();
    storage.push_bulk((2..2_500).map(TestJob::ok)).await.unwrap();
    // Two replicas were asked for, one exists: the push is refused, saying why.
    let ns = format!("cluster-wait2-{}", drover_core::TaskId::new());
    let config = Config::new(ns).set_wait_for_replicas(2, std::time::Duration::from_millis(100));
    let two: RedisStorage<TestJob> = RedisStorage::new_with_config(connection().await, config);
    let error = two.push(TestJob::ok(1)).await.unwrap_err();
    assert!(error.to_string().contains("only 1 of the 2 replicas"), "{error}");
    storage.purge().await.unwrap();
    two.purge().await.unwrap();
}
