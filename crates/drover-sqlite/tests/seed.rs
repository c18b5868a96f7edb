//! The production guide's §10 program ("Multiple Workers in One Process") as written: storages
//! from the plain constructor `SqliteStorage::new`, one per job type, on one pool and one
//! Monitor. Every job must be done and none dead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drover_conformance::seed::{self, Email, Report};
use drover_sqlite::SqliteStorage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiple_workers_in_one_process() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite-seed");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test database directory");
    let url = format!("sqlite://{}?mode=rwc", dir.join("jobs.db").display());
    let pool = drover_sqlite::connect_pool(&url).await.unwrap_or_else(|e| panic!("opening {url}: {e}"));
    SqliteStorage::setup(&pool).await.expect("setup");
    let email_storage: SqliteStorage<Email> = SqliteStorage::new(pool.clone());
    let report_storage: SqliteStorage<Report> = SqliteStorage::new(pool);
    seed::multiple_workers_in_one_process(email_storage, report_storage).await;
}
