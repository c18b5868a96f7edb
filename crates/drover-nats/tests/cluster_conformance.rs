//! The conformance suite on a three-node nats-server cluster started by the test (loopback
//! ports 4300-4302, routes 6300-6302, monitoring 8300-8302), every stream and bucket R3, the
//! storage connected with all three URLs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/cluster.rs"]
mod cluster;

use std::sync::OnceLock;
use std::time::Duration;

use drover_conformance::{Action, TestJob};
use drover_core::{Enqueue, PushOptions, PushTicks, TaskId};
use drover_nats::{NatsConfig, NatsStorage, NatsStorageType};
use futures_util::StreamExt;

/// One cluster for the whole test process (the checks run in parallel, each on its own
/// queue). Its nodes die with the process: see the guard in `support/cluster.rs`.
fn cluster() -> &'static cluster::NatsCluster {
    static CLUSTER: OnceLock<cluster::NatsCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| cluster::NatsCluster::start(0))
}

/// A queue's config on the cluster: R3, file storage, all three URLs.
async fn config(queue: String) -> NatsConfig {
    let urls = tokio::task::spawn_blocking(|| cluster().urls()).await.unwrap();
    NatsConfig::new(urls)
        .set_queue(queue)
        .set_replicas(3)
        .set_storage(NatsStorageType::File)
        .set_ack_wait(Duration::from_secs(10))
        .set_keep_done(Duration::from_secs(3600))
}

async fn backend() -> NatsStorage<TestJob> {
    let config = config(format!("c{}", TaskId::new())).await;
    NatsStorage::connect(config).await.unwrap_or_else(|e| panic!("connect to the test cluster: {e}"))
}

drover_conformance::conformance_tests!(backend; core, refuses_priorities, refuses_concurrency_keys, unique_keys, cancel, requeue, ticks, inspect);

/// What the suite ran on: every stream of a queue, and both of its KV buckets, have three
/// replicas placed on the three nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stream_and_bucket_of_a_queue_is_r3() {
    let queue = format!("r{}", TaskId::new());
    let storage: NatsStorage<TestJob> = NatsStorage::connect(config(queue.clone()).await).await.unwrap();
    storage.push_with(TestJob::with(1, Action::Succeed), PushOptions::new().unique_key("one")).await.unwrap();
    storage.tick_records().await.unwrap();
    let js = async_nats::jetstream::new(storage.client().clone());
    let mut names = js.stream_names();
    let mut checked = Vec::new();
    while let Some(name) = names.next().await {
        let name = name.unwrap();
        if !name.contains(&queue) {
            continue;
        }
        let info = js.get_stream(&name).await.unwrap().info().await.unwrap().clone();
        let peers = info.cluster.as_ref().map_or(0, |c| c.replicas.len() + usize::from(c.leader.is_some()));
        assert_eq!((info.config.num_replicas, peers), (3, 3), "{name} is not R3 on three nodes: {:?}", info.cluster);
        checked.push(name);
    }
    checked.sort();
    assert_eq!(checked.len(), 6, "work, delay, dead, done streams and two KV buckets: {checked:?}");
    storage.delete_streams().await.unwrap();
}
