//! Guide §7 and §10: structured JSON logs, tracing spans per job, and several workers in one
//! process under one Monitor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use drover::prelude::*;
use drover_examples::{done_or_signal, Email};
use serde::{Deserialize, Serialize};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Report {
    month: u32,
}

async fn send_email(job: Email, done: Data<Arc<AtomicU64>>) -> Result<(), BoxDynError> {
    tracing::debug!(to = %job.to, "sending");
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn generate_report(job: Report, done: Data<Arc<AtomicU64>>) -> Result<(), BoxDynError> {
    tracing::debug!(month = job.month, "generating");
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string())))
        .with(tracing_subscriber::fmt::layer().json()) // JSON logs for production
        .init();

    let email_storage = MemoryStorage::named("email");
    let report_storage = MemoryStorage::named("report");
    email_storage.push_bulk((0..100).map(Email::numbered)).await?;
    report_storage.push_bulk((1..=12).map(|month| Report { month })).await?;
    let done = Arc::new(AtomicU64::new(0));

    Monitor::new()
        .register(
            WorkerBuilder::new("email-worker-us-east")
                .enable_tracing() // Automatically traces each job execution
                .concurrency(20)
                .data(done.clone())
                .backend(email_storage.clone())
                .build_fn(send_email),
        )
        .register(
            WorkerBuilder::new("report-worker-us-east")
                .enable_tracing()
                .concurrency(5)
                .data(done.clone())
                .backend(report_storage.clone())
                .build_fn(generate_report),
        )
        .run_with_signal(done_or_signal(done.clone(), 112))
        .await?;
    let (e, r) = (email_storage.stats().await?, report_storage.stats().await?);
    println!("processed {} emails and {} reports", e.done, r.done);
    Ok(())
}
