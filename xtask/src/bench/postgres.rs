//! The PostgreSQL bench: one pool to the server at `DATABASE_URL`, the migrations applied
//! once, a fresh queue per run; each run's tasks are deleted when the next run starts, so the
//! table stays small.

use drover_postgres::{PostgresConfig, PostgresStorage};
use drover_postgres::sqlx::{self, postgres::PgPoolOptions};

use super::suite::{run_suite, BenchJob, Measurement, Workload};

/// Delete the tasks of one bench queue.
const DELETE_QUEUE: &str = "DELETE FROM drover.tasks WHERE queue = $1";

pub async fn run(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e} (start PostgreSQL with `cargo xtask services`, or set DATABASE_URL)"))?;
    PostgresStorage::setup(&pool).await?;
    sqlx::query("DELETE FROM drover.tasks WHERE queue LIKE 'bench\\_%'").execute(&pool).await?;
    sqlx::query("VACUUM ANALYZE drover.tasks").execute(&pool).await?;
    let mut previous: Option<String> = None;
    let result = run_suite(workload, on_result, |queue| {
        let pool = pool.clone();
        let last = previous.replace(queue.clone());
        async move {
            if let Some(last) = last {
                sqlx::query(DELETE_QUEUE).bind(last).execute(&pool).await?;
            }
            Ok(PostgresStorage::<BenchJob>::new_with_config(pool, PostgresConfig::new(queue)))
        }
    })
    .await;
    if let Some(last) = previous {
        sqlx::query(DELETE_QUEUE).bind(last).execute(&pool).await?;
    }
    result
}
