//! Guide §8: rate limiting and concurrency caps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drover::prelude::*;
use drover_examples::{done_or_signal, Email};

async fn send_email(_job: Email, done: Data<Arc<AtomicU64>>) -> Result<(), BoxDynError> {
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let storage = MemoryStorage::named("sendgrid");
    storage.push_bulk((0..250).map(Email::numbered)).await?;
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    WorkerBuilder::new("sendgrid-worker")
        .rate_limit(100, Duration::from_secs(1))
        .concurrency(10)
        .data(done.clone())
        .backend(storage)
        .build_fn(send_email)
        .run_until(done_or_signal(done.clone(), 250))
        .await?;
    let elapsed = started.elapsed();
    println!("processed 250 jobs at 100/s in {:.2}s", elapsed.as_secs_f64());
    assert!(elapsed >= Duration::from_secs(2), "the rate limit must hold 250 jobs to at least 2 s");
    Ok(())
}
