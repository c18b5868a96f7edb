//! The Redis Cluster bench: the standard suite through a throwaway cluster of three masters
//! and three replicas that the bench starts on loopback ports 7120-7125 (the harness the
//! crate's cluster tests use) and kills when it ends. Each run gets a fresh namespace, so the
//! runs' queues land on different masters; the previous run's namespace is purged.

#[path = "../../../crates/drover-redis/tests/support/cluster.rs"]
mod cluster;

use super::suite::{Measurement, Workload};

/// Ports 7120-7125 (cluster bus 17120-17125), apart from the tests' 7100-7115.
const BASE_PORT: u16 = 7120;

pub async fn run(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let cluster = tokio::task::spawn_blocking(|| cluster::TestCluster::start(BASE_PORT))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot start the bench's Redis Cluster: {e}"))?;
    let conn = drover_redis::connect_cluster(&cluster.urls()).await?;
    let result = super::redis::run_on(conn, workload, on_result, false).await;
    drop(cluster);
    result
}
