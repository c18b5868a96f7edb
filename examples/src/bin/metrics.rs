//! Guide §7: Prometheus metrics. A worker with `PrometheusLayer`, the queue gauges, and a
//! `/metrics` endpoint on axum, scraped once the jobs are done.

use std::time::Duration;

use drover::layers::prometheus::{self, Exporter, PrometheusLayer, QueueMetrics};
use drover::prelude::*;
use drover_examples::Email;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Fails for good on `invalid@…` addresses.
async fn send_email(job: Email, _: Data<()>) -> Result<(), BoxDynError> {
    if job.to.starts_with("invalid@") {
        return Err(Abort::new(format!("{} is not an address we can send to", job.to)).into());
    }
    tokio::time::sleep(Duration::from_millis(2)).await;
    Ok(())
}

/// `GET /metrics` over a plain TCP connection, as Prometheus would scrape it.
async fn scrape(addr: std::net::SocketAddr) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "the scrape failed: {head}");
    Ok(body.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let storage = MemoryStorage::<Email>::named("email");
    for n in 0..20 {
        let to = if n % 7 == 3 { format!("invalid@{n}") } else { format!("user{n}@example.com") };
        storage.push(Email { to, body: "Welcome".into() }).await?;
    }

    // The queue gauges are read from the storage at each scrape, in the default registry where
    // PrometheusLayer::new() records too.
    let queues = QueueMetrics::global()?;
    queues.watch(storage.clone());
    let app = prometheus::router(Exporter::default_registry().with_queues(queues));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let probe = storage.clone();
    Monitor::new()
        .register(
            WorkerBuilder::new("email-worker")
                .layer(PrometheusLayer::new())
                .backend(storage)
                .concurrency(4)
                .build_fn(send_email),
        )
        .run_with_signal(async move {
            while probe.stats().await.map(|s| s.done + s.dead).unwrap_or(0) < 20 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await?;

    let body = scrape(addr).await?;
    for line in body.lines().filter(|l| l.starts_with("drover_jobs_total") || l.starts_with("drover_queue_tasks")) {
        println!("{line}");
    }
    Ok(())
}
