//! The production guide's programs, run as written against a real backend.
//!
//! [`multiple_workers_in_one_process`] is the guide's §10 "Multiple Workers in One Process":
//! two job types, each with a storage made by the backend's plain constructor
//! (`PostgresStorage::new(pool.clone())` and `PostgresStorage::new(pool)`, say), both workers
//! registered on one [`Monitor`]. Each job type must land in its own queue, so that every job
//! runs once, in its own worker, and none ends dead.
//!
//! ```ignore
//! // tests/seed.rs of a backend crate
//! use drover_conformance::seed::{self, Email, Report};
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn multiple_workers_in_one_process() {
//!     let pool = connect().await;
//!     let email_storage: MyStorage<Email> = MyStorage::new(pool.clone());
//!     let report_storage: MyStorage<Report> = MyStorage::new(pool);
//!     seed::multiple_workers_in_one_process(email_storage, report_storage).await;
//! }
//! ```

use std::time::Duration;

use drover_core::{BoxDynError, Enqueue, Inspect, Monitor, QueueStats, WorkerBuilder};
use serde::{Deserialize, Serialize};

/// Jobs of each type the program pushes.
pub const JOBS_PER_TYPE: u64 = 100;

/// The guide's email job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// The recipient.
    pub to: String,
    /// The text.
    pub body: String,
}

/// The guide's report job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Which report.
    pub id: u64,
    /// Its format.
    pub format: String,
}

async fn send_email(job: Email) -> Result<(), BoxDynError> {
    if !job.to.ends_with("@example.com") {
        return Err(format!("not an address of the test: {}", job.to).into());
    }
    Ok(())
}

async fn generate_report(job: Report) -> Result<(), BoxDynError> {
    if job.format != "pdf" {
        return Err(format!("unknown format {}", job.format).into());
    }
    Ok(())
}

/// Push [`JOBS_PER_TYPE`] jobs of each type, run the guide's §10 program until every job has
/// finished, and check that all of them are done and none is dead. The storages must come from
/// the backend's plain constructor, on queues that hold nothing yet (a backend's test clears
/// them first).
pub async fn multiple_workers_in_one_process<E, R>(email_storage: E, report_storage: R)
where
    E: Enqueue<Job = Email> + Inspect,
    R: Enqueue<Job = Report> + Inspect,
{
    assert_ne!(
        email_storage.queue(),
        report_storage.queue(),
        "the plain constructors put both job types in one queue, so each worker would claim the other's jobs"
    );
    for (queue, stats) in [
        (email_storage.queue(), email_storage.stats().await.expect("stats")),
        (report_storage.queue(), report_storage.stats().await.expect("stats")),
    ] {
        assert_eq!(total(&stats), 0, "queue `{queue}` is not empty ({stats:?}): clear it before the check");
    }
    email_storage
        .push_bulk((0..JOBS_PER_TYPE).map(|n| Email { to: format!("user{n}@example.com"), body: "hello".into() }))
        .await
        .expect("push emails");
    report_storage
        .push_bulk((0..JOBS_PER_TYPE).map(|id| Report { id, format: "pdf".into() }))
        .await
        .expect("push reports");

    // The program, as the guide writes it; the shutdown signal fires once every job finished.
    let (emails, reports) = (email_storage.clone(), report_storage.clone());
    let shutdown_signal = move || {
        let (emails, reports) = (emails.clone(), reports.clone());
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while tokio::time::Instant::now() < deadline {
                let (e, r) = (emails.stats().await, reports.stats().await);
                if let (Ok(e), Ok(r)) = (e, r) {
                    if finished(&e) == JOBS_PER_TYPE && finished(&r) == JOBS_PER_TYPE {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    Monitor::new()
        .register(
            WorkerBuilder::new("email-worker").concurrency(20).backend(email_storage.clone()).build_fn(send_email),
        )
        .register(
            WorkerBuilder::new("report-worker")
                .concurrency(5)
                .backend(report_storage.clone())
                .build_fn(generate_report),
        )
        .run_with_signal(shutdown_signal())
        .await
        .expect("the monitor ran");

    for (queue, stats) in [
        (email_storage.queue(), email_storage.stats().await.expect("stats")),
        (report_storage.queue(), report_storage.stats().await.expect("stats")),
    ] {
        assert_eq!(stats.dead, 0, "queue `{queue}`: jobs ended dead ({stats:?})");
        assert_eq!(stats.done, JOBS_PER_TYPE, "queue `{queue}`: not every job is done ({stats:?})");
        assert_eq!(total(&stats), JOBS_PER_TYPE, "queue `{queue}` holds other tasks ({stats:?})");
    }
}

fn finished(stats: &QueueStats) -> u64 {
    stats.done + stats.dead + stats.cancelled
}

fn total(stats: &QueueStats) -> u64 {
    stats.pending + stats.running + finished(stats)
}
