//! The production guide's §10 program ("Multiple Workers in One Process") as written: storages
//! from the plain constructor `PostgresStorage::new`, one per job type, on one pool and one
//! Monitor. Every job must be done and none dead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drover_conformance::seed::{self, Email, Report};
use drover_postgres::PostgresStorage;
use sqlx::PgPool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiple_workers_in_one_process() {
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = PgPool::connect(&database_url).await.unwrap_or_else(|e| panic!("connecting to {database_url}: {e}"));
    PostgresStorage::setup(&pool).await.expect("setup");
    let email_storage: PostgresStorage<Email> = PostgresStorage::new(pool.clone());
    let report_storage: PostgresStorage<Report> = PostgresStorage::new(pool.clone());
    assert_eq!((email_storage.config().queue(), drover_core::Backend::queue(&email_storage)), (Some("email"), "email"));
    // Earlier runs leave their finished tasks in these queues.
    sqlx::query("DELETE FROM drover.tasks WHERE queue IN ('email', 'report')").execute(&pool).await.expect("clear");
    seed::multiple_workers_in_one_process(email_storage, report_storage).await;
}
