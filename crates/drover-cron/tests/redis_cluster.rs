//! A schedule piped into a Redis Cluster, end to end: a cluster of three masters and three
//! replicas that this test starts on loopback ports 7130-7135 (cluster bus 17130-17135;
//! drover-redis's `tests/support/cluster.rs`, killed when the test ends). Two nodes, each with
//! its own cluster connection, step the same schedule on a controlled clock: every tick is
//! pushed once, by whichever node comes first; a node back from a downtime catches up from the
//! tick record the cluster holds; and a worker on a third connection runs every tick's task,
//! its handler seeing the tick through the `Tick` extractor.
//!
//! The conformance `ticks` group already runs on a cluster (drover-redis's
//! `cluster_conformance.rs`); this is the cron crate's own `Pipe` over it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../drover-redis/tests/support/cluster.rs"]
mod cluster;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use drover_core::{BoxDynError, Data, Inspect, TickPushed, WorkerBuilder};
use drover_cron::{CatchUp, CronJob, Schedule, Tick};
use drover_redis::{Config, RedisStorage};

/// Ports 7130-7135, apart from drover-redis's tests (7100-7115) and bench (7120-7125).
const BASE_PORT: u16 = 7130;

#[derive(Default, Debug, serde::Serialize, serde::Deserialize)]
struct Beat;

type Seen = Arc<Mutex<Vec<DateTime<Utc>>>>;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, s).unwrap()
}

fn minutely() -> CronJob<Beat> {
    CronJob::new("minutely", Schedule::cron("* * * * *").unwrap()).unwrap()
}

fn pushed(results: &[(DateTime<Utc>, TickPushed)]) -> Vec<DateTime<Utc>> {
    results.iter().filter(|(_, p)| matches!(p, TickPushed::Pushed(_))).map(|(t, _)| *t).collect()
}

async fn record(_job: Beat, tick: Tick, seen: Data<Seen>) -> Result<(), BoxDynError> {
    seen.lock().unwrap().push(tick.at());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_piped_into_a_redis_cluster_pushes_each_tick_once_and_its_tasks_run() {
    let cluster = tokio::task::spawn_blocking(|| cluster::TestCluster::start(BASE_PORT))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot start the test cluster: {e}"));
    let namespace = format!("cron-cluster-{}", drover_core::TaskId::new());
    let storage = || {
        let (urls, namespace) = (cluster.urls(), namespace.clone());
        async move {
            let connection = drover_redis::connect_cluster(&urls)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e}"));
            RedisStorage::<Beat>::new_with_config(connection, Config::default().set_namespace(namespace))
        }
    };
    let (node_a, node_b, probe) = (storage().await, storage().await, storage().await);

    // Two nodes on the same schedule: the first to step a tick pushes it, the other finds it pushed.
    let a = minutely().pipe_to(node_a);
    let b = minutely().pipe_to(node_b.clone());
    for minute in 1..=4 {
        let now = at(10, minute, 0) + chrono::TimeDelta::milliseconds(5);
        let (first, second) = if minute % 2 == 0 { (&b, &a) } else { (&a, &b) };
        let pushed_first = first.step(now).await.expect("step the first node");
        let pushed_second = second.step(now + chrono::TimeDelta::milliseconds(3)).await.expect("step the second node");
        assert_eq!(pushed(&pushed_first), vec![at(10, minute, 0)], "the first node pushes the tick");
        assert!(pushed_second.is_empty(), "the second node finds the tick pushed: {pushed_second:?}");
    }

    // Node b is down from 10:04:30 to 10:07:30, and a with it: b comes back first and catches
    // up the two newest missed ticks from the tick record on the cluster.
    let back = minutely().catch_up(CatchUp::All { max: 2 }).pipe_to(node_b);
    let caught_up = back.step(at(10, 7, 30)).await.expect("step the node back from its downtime");
    assert_eq!(pushed(&caught_up), vec![at(10, 6, 0), at(10, 7, 0)], "the newest 2 missed ticks, oldest first");
    assert!(a.step(at(10, 7, 31)).await.expect("step a").is_empty(), "a finds the cluster caught up");

    let ticks = vec![at(10, 1, 0), at(10, 2, 0), at(10, 3, 0), at(10, 4, 0), at(10, 6, 0), at(10, 7, 0)];
    assert_eq!(probe.stats().await.unwrap().pending, ticks.len() as u64, "one task per tick pushed");

    let seen: Seen = Arc::default();
    let worker = WorkerBuilder::new("cron-cluster").backend(probe.clone()).data(seen.clone()).build_fn(record);
    let expected = ticks.len() as u64;
    let watch = probe.clone();
    tokio::time::timeout(
        Duration::from_secs(30),
        worker.run_until(async move {
            while watch.stats().await.map(|s| s.done).unwrap_or(0) < expected {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }),
    )
    .await
    .expect("every tick's task runs within 30 s")
    .expect("the worker stops cleanly");
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ticks, "each tick's handler ran once and saw its tick");
    drop(cluster);
}
