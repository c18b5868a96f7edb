//! RSMQ on a Redis Cluster is refused: rsmq's key layout has no hash tags, so a queue's keys
//! lie in different slots. Starts drover-redis's test cluster (3 masters, 3 replicas) on
//! loopback ports 7130-7135 and checks both the refusal and the reason behind it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../drover-redis/tests/support/cluster.rs"]
mod cluster;

use drover_rsmq::{RsmqConfig, RsmqStorage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_connection_is_refused() {
    let cluster = tokio::task::spawn_blocking(|| cluster::TestCluster::start(7130))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot start the test cluster: {e}"));
    // The layout's keys for one queue fall in different slots.
    let slots: Vec<u16> =
        ["rsmq:QUEUES", "rsmq:jobs", "rsmq:jobs:Q"].iter().map(|k| cluster.slot_of(k).unwrap()).collect();
    assert!(slots[0] != slots[1] && slots[1] != slots[2], "slots {slots:?}");

    let conn = drover_redis::connect_cluster(&cluster.urls()).await.unwrap();
    let error = RsmqStorage::<String>::new(conn, RsmqConfig::new("jobs")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("RSMQ cannot run on a Redis Cluster") && message.contains("CROSSSLOT"), "{message}");
}
