//! Guide §3 and §4: configuration from the environment, and concurrency.
//!
//! `WORKER_CONCURRENCY=20 cargo run -p drover-examples --bin concurrency`

use std::env;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use drover::prelude::*;
use drover_examples::{done_or_signal, Email, SmtpClient};

async fn send_email(job: Email, smtp: Data<Arc<SmtpClient>>, done: Data<Arc<AtomicU64>>) -> Result<(), BoxDynError> {
    smtp.send(&job.to, &job.body).await?;
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    dotenvy::dotenv().ok(); // Load .env if present, silently skip if not
    let concurrency: usize = env::var("WORKER_CONCURRENCY")
        .unwrap_or_else(|_| "10".to_string())
        .parse()
        .expect("WORKER_CONCURRENCY must be a number");

    let storage = MemoryStorage::named("email");
    storage.push_bulk((0..500).map(Email::numbered)).await?;
    let smtp = Arc::new(SmtpClient::default());
    let done = Arc::new(AtomicU64::new(0));

    let worker = WorkerBuilder::new("email-worker")
        .parallelize(tokio::spawn) // Process jobs in parallel with tokio::spawn
        .concurrency(concurrency) // Process up to `concurrency` jobs concurrently
        .data(smtp.clone())
        .data(done.clone())
        .backend(storage)
        .build_fn(send_email);
    worker.run_until(done_or_signal(done.clone(), 500)).await?;
    println!("processed {} emails with concurrency {concurrency}", smtp.sent());
    Ok(())
}
