//! The main demo: 10,000 email jobs through one worker on a SQLite file (no server needed),
//! with a progress bar and a summary. Some jobs fail on their first attempt and are retried
//! with backoff; a few are malformed and end dead with a clear error. Nothing is lost.
//!
//! `cargo run --release -p drover-examples --bin demo` (add `-- 50000` for more jobs). The
//! database is `drover-demo.db` in the system's temporary folder, made fresh on each run
//! (`DROVER_DEMO_DB` to put it elsewhere).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drover::prelude::*;
use drover::{Backoff, NewTask};
use drover_examples::Email;
use drover_sqlite::{SqliteConfig, SqliteStorage};

async fn send_email(job: Email, attempt: drover::Attempt, ok: Data<Arc<AtomicU64>>) -> Result<(), BoxDynError> {
    // One email in fifty hits a "temporary" failure on its first attempt.
    let number = job.to.trim_start_matches("user").split('@').next().and_then(|s| s.parse::<u64>().ok());
    if attempt.0 == 1 && number.is_some_and(|i| i % 50 == 7) {
        return Err("SMTP server said 421: try again later".into());
    }
    ok.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 { width } else { (done as usize * width) / total as usize };
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| anyhow::anyhow!("the job count must be a number, got {arg:?}"))?,
        None => 10_000,
    };
    let path = std::env::var_os("DROVER_DEMO_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("drover-demo.db"));
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let storage = SqliteStorage::<Email>::connect_with_config(&url, SqliteConfig::new("email")).await?;
    println!("Drover demo: {n} email jobs in {} (SQLite), one worker, concurrency 50", path.display());

    let started = Instant::now();
    storage.push_bulk((0..n).map(Email::numbered)).await?;
    // Three malformed payloads, as another service with a bug might enqueue them.
    let malformed = (0..3).map(|i| NewTask::new(format!("{{\"to\": {i}}}").into_bytes(), PushOptions::new())).collect();
    storage.enqueue(malformed).await?;
    let enqueued_in = started.elapsed();

    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let events_failures = failures.clone();
    let total = n + 3;
    let stats_storage = storage.clone();
    let progress = async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let Ok(s) = stats_storage.stats().await else { continue };
            let finished = s.done + s.dead;
            print!(
                "\r{} {finished:>7}/{total} done {:>6}  dead {:>2}  retrying {:>4}",
                bar(finished, total, 30),
                s.done,
                s.dead,
                s.pending
            );
            let _ = std::io::stdout().flush();
            if finished >= total {
                println!();
                break;
            }
        }
    };
    let drained = Instant::now();
    Monitor::new()
        .register(
            WorkerBuilder::new("demo-email-worker")
                .parallelize(tokio::spawn)
                .concurrency(50)
                .backoff(Backoff::exponential(Duration::from_millis(100)))
                .poll_interval(Duration::from_millis(100))
                .data(ok.clone())
                .backend(storage.clone())
                .build_fn(send_email),
        )
        .on_event(move |e| {
            if let Event::TaskFailed { .. } = e {
                events_failures.fetch_add(1, Ordering::Relaxed);
            }
        })
        .run_with_signal(async {
            tokio::select! {
                _ = progress => {}
                _ = drover_examples::shutdown_signal() => println!("\ninterrupted"),
            }
        })
        .await?;
    let elapsed = drained.elapsed();

    let s = storage.stats().await?;
    let dead = storage.list(ListQuery::new(Some(Status::Dead), 3)).await?;
    println!();
    println!("Summary");
    println!("  enqueued     {total} jobs in {:.1} ms (bulk)", enqueued_in.as_secs_f64() * 1000.0);
    println!(
        "  processed    {} jobs in {:.2} s ({:.0} jobs/s, including retry backoff)",
        s.done + s.dead,
        elapsed.as_secs_f64(),
        (s.done + s.dead) as f64 / elapsed.as_secs_f64()
    );
    println!("  succeeded    {}", s.done);
    println!(
        "  failures     {} (retried with backoff, then succeeded)",
        failures.load(Ordering::Relaxed).saturating_sub(s.dead)
    );
    println!("  dead         {}", s.dead);
    for task in dead {
        println!("    {}: {}", task.id, task.last_error.unwrap_or_default());
    }
    println!("  lost         {}", total - (s.done + s.dead + s.pending + s.running));
    if s.done + s.dead != total {
        anyhow::bail!("{} jobs did not finish", total - (s.done + s.dead));
    }
    Ok(())
}
