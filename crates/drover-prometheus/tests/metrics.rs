//! A worker with the layer runs jobs that succeed, fail then succeed, fail for good, abort and
//! panic; the scrape has the right counts and buckets, and `promtool check metrics` accepts it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::Duration;

use drover_core::{Abort, Attempt, Backoff, BoxDynError, Enqueue, Inspect, MemoryStorage, PushOptions, WorkerBuilder};
use drover_prometheus::{Exporter, JobMetrics, PrometheusLayer, QueueMetrics};
use prometheus::Registry;

#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
enum Job {
    Succeed,
    FailOnce,
    AlwaysFail,
    Abort,
    Panic,
}

async fn run(job: Job, attempt: Attempt) -> Result<(), BoxDynError> {
    tokio::time::sleep(Duration::from_millis(3)).await;
    match job {
        Job::Succeed => Ok(()),
        Job::FailOnce if attempt.0 == 1 => Err("first attempt fails".into()),
        Job::FailOnce => Ok(()),
        Job::AlwaysFail => Err("always fails".into()),
        Job::Abort => Err(Abort::new("bad input").into()),
        Job::Panic => panic!("the job panicked"),
    }
}

/// The value of the one sample line starting with `series ` (labels in prometheus's order).
fn sample(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no sample {series} in the scrape:\n{text}"));
    line[prefix.len()..].trim().parse().unwrap()
}

fn labels(queue: &str, outcome: &str) -> String {
    format!("outcome=\"{outcome}\",queue=\"{queue}\",worker=\"metrics-test\"")
}

async fn scrape_after_jobs(catch_panic: bool) -> (String, String) {
    let queue = if catch_panic { "with-catch-panic" } else { "bare" };
    let registry = Registry::new();
    let jobs = JobMetrics::register(&registry).unwrap();
    let queues = QueueMetrics::register(&registry).unwrap();
    let storage = MemoryStorage::<Job>::named(queue);
    queues.watch(storage.clone());
    for _ in 0..5 {
        storage.push(Job::Succeed).await.unwrap();
    }
    storage.push(Job::FailOnce).await.unwrap();
    storage.push_with(Job::AlwaysFail, PushOptions::new().max_attempts(2)).await.unwrap();
    storage.push(Job::Abort).await.unwrap();
    storage.push_with(Job::Panic, PushOptions::new().max_attempts(1)).await.unwrap();
    // A task due in an hour: pending and scheduled, not due, not run.
    storage.push_with(Job::Succeed, PushOptions::new().delay(Duration::from_secs(3600))).await.unwrap();

    let builder = WorkerBuilder::new("metrics-test").backoff(Backoff::constant(Duration::from_millis(10)));
    let probe = storage.clone();
    let until = async move {
        loop {
            let stats = probe.stats().await.unwrap();
            if stats.done == 6 && stats.dead == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    if catch_panic {
        let worker = builder.layer(PrometheusLayer::with_metrics(jobs)).catch_panic().backend(storage).build_fn(run);
        tokio::time::timeout(Duration::from_secs(20), worker.run_until(until)).await.unwrap().unwrap();
    } else {
        let worker = builder.layer(PrometheusLayer::with_metrics(jobs)).backend(storage).build_fn(run);
        tokio::time::timeout(Duration::from_secs(20), worker.run_until(until)).await.unwrap().unwrap();
    }
    (queue.to_owned(), Exporter::new(registry).with_queues(queues).render().await.unwrap())
}

fn check_scrape(queue: &str, text: &str) {
    let count = |outcome: &str| sample(text, &format!("drover_jobs_total{{{}}}", labels(queue, outcome)));
    assert_eq!(count("done"), 6.0, "5 that succeed, and the one that failed once");
    assert_eq!(count("retried"), 2.0, "the fail-once job's first run and the always-failing job's first");
    assert_eq!(count("dead"), 2.0, "the always-failing job's last attempt and the aborted job");
    assert_eq!(count("panicked"), 1.0, "the panic counts once");
    let bucket = |outcome: &str, le: &str| {
        sample(text, &format!("drover_job_duration_seconds_bucket{{{},le=\"{le}\"}}", labels(queue, outcome)))
    };
    assert_eq!(bucket("done", "+Inf"), 6.0);
    assert_eq!(bucket("done", "0.001"), 0.0, "every job sleeps 3 ms");
    assert_eq!(bucket("done", "5"), 6.0);
    assert_eq!(sample(text, &format!("drover_job_duration_seconds_count{{{}}}", labels(queue, "panicked"))), 1.0);
    let worker = format!("queue=\"{queue}\",worker=\"metrics-test\"");
    assert_eq!(sample(text, &format!("drover_jobs_in_flight{{{worker}}}")), 0.0);
    assert_eq!(sample(text, &format!("drover_job_wait_seconds_count{{{worker}}}")), 11.0, "one wait per run");
    let tasks = |status: &str| sample(text, &format!("drover_queue_tasks{{queue=\"{queue}\",status=\"{status}\"}}"));
    assert_eq!((tasks("done"), tasks("dead"), tasks("pending"), tasks("scheduled")), (6.0, 3.0, 1.0, 1.0));
    assert_eq!(sample(text, &format!("drover_queue_oldest_due_age_seconds{{queue=\"{queue}\"}}")), 0.0, "nothing due");
    assert_eq!(sample(text, &format!("drover_queue_stats_up{{queue=\"{queue}\"}}")), 1.0);
}

/// `promtool check metrics` (Debian's `prometheus` package; `cargo xtask services` installs it).
fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool is not installed ({e}); `cargo xtask services` installs it (apt-get install prometheus)")
        });
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics refused the scrape:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_counts_every_outcome_and_promtool_accepts_it() {
    let (queue, text) = scrape_after_jobs(false).await;
    check_scrape(&queue, &text);
    promtool_accepts(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_counts_once_beside_catch_panic() {
    let (queue, text) = scrape_after_jobs(true).await;
    check_scrape(&queue, &text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_default_registry() {
    let a = PrometheusLayer::new();
    let b = PrometheusLayer::new();
    for (name, layer) in [("one", a), ("two", b)] {
        let storage = MemoryStorage::<Job>::named(format!("shared-{name}"));
        storage.push(Job::Succeed).await.unwrap();
        let probe = storage.clone();
        let worker = WorkerBuilder::new(format!("shared-{name}")).layer(layer).backend(storage).build_fn(run);
        worker
            .run_until(async move {
                while probe.stats().await.unwrap().done < 1 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .unwrap();
    }
    let text = Exporter::default_registry().render().await.unwrap();
    for name in ["one", "two"] {
        let series = format!("drover_jobs_total{{outcome=\"done\",queue=\"shared-{name}\",worker=\"shared-{name}\"}}");
        assert_eq!(sample(&text, &series), 1.0);
    }
    assert!(JobMetrics::register(prometheus::default_registry()).is_err(), "the default registry has them once");
}
