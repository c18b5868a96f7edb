//! Guide §5: a Monitor with graceful shutdown on Ctrl+C or SIGTERM.
//!
//! The program pushes slow jobs and stops itself after a moment, as a SIGTERM would: running
//! jobs finish within the shutdown timeout; claimed jobs that had not started go straight back
//! to the queue. Press Ctrl+C to stop it earlier.

use std::time::Duration;

use drover::prelude::*;
use drover_examples::{shutdown_signal, Email};

async fn send_email(job: Email, _: Data<()>) -> Result<(), BoxDynError> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    tracing::info!(to = %job.to, "sent");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new("info")).init();
    let storage = MemoryStorage::named("email");
    storage.push_bulk((0..40).map(Email::numbered)).await?;
    let stats = storage.clone();

    let stop = async {
        tokio::select! {
            _ = shutdown_signal() => {}
            _ = tokio::time::sleep(Duration::from_millis(700)) => tracing::info!("stopping, as a SIGTERM would"),
        }
    };
    Monitor::new()
        .register(|_run_id| {
            WorkerBuilder::new("email-worker")
                .backend(storage)
                .parallelize(tokio::spawn)
                .concurrency(10)
                .build_fn(send_email)
        })
        .on_event(|e| tracing::info!("{e}"))
        .shutdown_timeout(std::time::Duration::from_secs(30)) // Wait up to 30s for jobs to finish
        .run_with_signal(stop)
        .await?;

    let s = stats.stats().await?;
    println!("after shutdown: {} done, {} pending, {} running (nothing lost)", s.done, s.pending, s.running);
    assert_eq!(s.done + s.pending, 40, "every job is either done or back in the queue");
    Ok(())
}
