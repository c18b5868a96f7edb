//! The production guide's backend table, §1: "Cron — schedule-driven jobs; use with pipe_to for
//! persistence". A schedule piped into PostgreSQL storage, its job run by an ordinary worker
//! and visible as an ordinary task, in `drover.tasks` and through `Inspect`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use drover_core::{BoxDynError, Inspect, ListQuery, Monitor, Status, WorkerBuilder};
use drover_cron::{CronJob, Schedule, Tick};
use drover_postgres::sqlx::{self, PgPool};
use drover_postgres::{PostgresConfig, PostgresStorage};

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SendDigest;

async fn send_digest(_job: SendDigest, tick: Tick) -> Result<(), BoxDynError> {
    tracing::info!("digest for the period ending {}", tick.at());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_piped_into_postgres_runs_as_a_normal_task() {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = PgPool::connect(&url).await.expect("PostgreSQL at DATABASE_URL");
    PostgresStorage::setup(&pool).await.unwrap();
    let queue = format!("digest-{}", drover_core::TaskId::new());
    let storage: PostgresStorage<SendDigest> =
        PostgresStorage::new_with_config(pool.clone(), PostgresConfig::new(queue.clone()));

    let schedule = CronJob::<SendDigest>::new("digest", Schedule::every(Duration::from_secs(1)).unwrap()).unwrap();
    let probe = storage.clone();
    Monitor::new()
        .register(schedule.pipe_to(storage.clone()))
        .register(WorkerBuilder::new("digests").backend(storage.clone()).build_fn(send_digest))
        .run_with_signal(async move {
            while probe.stats().await.unwrap().done < 2 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .unwrap();

    let tasks = storage.list(ListQuery::new(Some(Status::Done), 10)).await.unwrap();
    assert!(tasks.len() >= 2, "{tasks:?}");
    let (status, attempt): (String, i32) = sqlx::query_as("SELECT status, attempt FROM drover.tasks WHERE id = $1")
        .bind(uuid::Uuid::from_u128(tasks[0].id.to_u128()))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempt), ("done", 1), "a tick's job is a row of drover.tasks like any other");
    let tick = Tick::of(tasks[0].id).expect("the task is a tick's");
    assert_eq!(tick.at().timestamp_millis() % 1000, 0, "ticks of an every-second schedule fall on whole seconds");
}
