//! The NATS JetStream bench: each run gets a fresh queue (its own streams) on the server at
//! `NATS_URL`, deleted afterwards. Beside the standard workload it measures the floor: a plain
//! async-nats loop, no Drover, on the same server (10,000 messages published with batched
//! PubAck waits, then pulled and acked in batches).

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, stream};
use drover_nats::{NatsConfig, NatsStorage, NatsStorageType};
use futures_util::StreamExt;

use super::suite::{run_suite, BenchJob, Measurement, Workload};

/// The three-node cluster the drover-nats cluster tests use, on their loopback ports.
#[path = "../../../crates/drover-nats/tests/support/cluster.rs"]
mod cluster;

pub async fn run(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| drover_nats::DEFAULT_URL.to_owned());
    run_on(&url, 1, workload, on_result).await?;
    let (publish, drain) = floor(workload.n).await?;
    eprintln!("nats floor (plain async-nats, no Drover): publish {publish:.0} msg/s, pull+ack {drain:.0} msg/s");
    Ok(())
}

/// The standard workload on R3 streams of a three-node cluster started here (loopback ports
/// 4300-4302, routes 6300-6302), stopped when the bench ends.
pub async fn run_cluster(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let nodes = tokio::task::spawn_blocking(|| cluster::NatsCluster::start(0)).await?;
    eprintln!("a three-node nats-server cluster runs at {}", nodes.urls());
    run_on(&nodes.urls(), 3, workload, on_result).await
}

async fn run_on(
    url: &str,
    replicas: usize,
    workload: &Workload,
    on_result: impl FnMut(&Measurement),
) -> anyhow::Result<()> {
    let url = url.to_owned();
    let made = std::sync::Arc::new(std::sync::Mutex::new(Vec::<NatsStorage<BenchJob>>::new()));
    let keep = made.clone();
    let result = run_suite(workload, on_result, move |queue| {
        let (keep, url) = (keep.clone(), url.clone());
        async move {
            let queue: String =
                queue.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
            let config =
                NatsConfig::new(url).set_queue(queue).set_storage(NatsStorageType::File).set_replicas(replicas);
            let storage = NatsStorage::<BenchJob>::connect(config)
                .await
                .map_err(|e| anyhow::anyhow!("{e} (start nats-server with `cargo xtask services`, or set NATS_URL)"))?;
            keep.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(storage.clone());
            Ok(storage)
        }
    })
    .await;
    let storages: Vec<_> = made.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.drain(..).collect();
    for storage in storages {
        let _ = storage.delete_streams().await;
    }
    result
}

/// The plain async-nats loop: publish `n` messages, awaiting PubAcks 1,000 at a time, then
/// pull in batches of 500 and ack each batch before the next pull. Returns messages per
/// second of each phase.
async fn floor(n: u64) -> anyhow::Result<(f64, f64)> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| drover_nats::DEFAULT_URL.to_owned());
    let client = async_nats::connect(url).await?;
    let js = jetstream::new(client.clone());
    let name = format!("BENCH_FLOOR_{}", std::process::id());
    let subject = format!("bench.floor.{}", std::process::id());
    let _ = js.delete_stream(&name).await;
    let st = js
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            retention: stream::RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await?;
    let consumer = st
        .create_consumer(pull::Config {
            durable_name: Some("floor".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await?;
    let started = Instant::now();
    let mut acks = Vec::with_capacity(1000);
    for i in 0..n {
        let body = format!("{{\"id\":{i},\"to\":\"user{i}@example.com\"}}");
        acks.push(js.publish(subject.clone(), body.into()).await?);
        if acks.len() == 1000 {
            for ack in futures_util::future::join_all(acks.drain(..).map(|a| async move { a.await })).await {
                ack?;
            }
        }
    }
    for ack in futures_util::future::join_all(acks.drain(..).map(|a| async move { a.await })).await {
        ack?;
    }
    let publish = n as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut got = 0u64;
    while got < n {
        let mut batch = consumer.fetch().max_messages(500).expires(Duration::from_secs(1)).messages().await?;
        let mut replies = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| anyhow::anyhow!("pull: {e}"))?;
            if let Some(reply) = message.reply.clone() {
                replies.push(reply);
            }
        }
        got += replies.len() as u64;
        for reply in replies {
            client.publish(reply, "+ACK".into()).await?;
        }
        client.flush().await?;
    }
    let drain = n as f64 / started.elapsed().as_secs_f64();
    js.delete_stream(&name).await?;
    Ok((publish, drain))
}
