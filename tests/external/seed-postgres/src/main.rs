//! The production guide's §1 "Setting Up PostgreSQL Storage", as a user writes it with sqlx 0.9,
//! then one job through a worker to show the storage works.

use drover::prelude::*;
use drover_sql::postgres::PostgresStorage;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

#[derive(Debug, Serialize, Deserialize)]
struct Email {
    to: String,
}

async fn send_email(job: Email, ctx: TaskContext) -> Result<(), BoxDynError> {
    println!("sent to {} from queue `{}` (task {})", job.to, ctx.queue(), ctx.id());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxDynError> {
    let database_url = std::env::var("DATABASE_URL")
        .map_err(|_| "DATABASE_URL is not set; export it, e.g. postgres://postgres@127.0.0.1:5432/test")?;

    // §1, verbatim (apalis renamed to drover).
    let pool = PgPool::connect(&database_url).await?;
    // Run migrations to create the jobs table
    PostgresStorage::setup(&pool).await?;
    let storage = PostgresStorage::new(pool);

    // The same pool type works with a transaction of the user's own (sqlx 0.9).
    let mut tx = storage.pool().begin().await?;
    let id = storage.push_in_tx(&mut *tx, Email { to: "user@example.com".into() }).await?;
    tx.commit().await?;

    let worker = WorkerBuilder::new("email-worker").concurrency(2).backend(storage.clone()).build_fn(send_email);
    let probe = storage.clone();
    worker
        .run_until(async move {
            while probe.get(id).await.ok().flatten().is_none_or(|t| !t.status.is_final()) {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await?;
    let task = storage.get(id).await?.ok_or("the task vanished")?;
    println!("task {id}: {}", task.status.as_str());
    if task.status != Status::Done {
        return Err(format!("task {id} ended {}", task.status.as_str()).into());
    }
    Ok(())
}
