//! The PGMQ bench: one pool to the server at `DATABASE_URL` (with pgmq installed by `cargo
//! xtask services`), a fresh pgmq queue per run, created by `setup` and dropped with
//! `pgmq.drop_queue` when the next run starts, so the schema stays small.

use drover_pgmq::sqlx::{self, postgres::PgPoolOptions};
use drover_pgmq::{PgmqConfig, PgmqStorage};

use super::suite::{run_suite_cleaning, BenchJob, Measurement, Workload};

/// Drop the queues earlier, interrupted benches left behind.
const DROP_LEFTOVERS: &str =
    "SELECT count(pgmq.drop_queue(queue_name)) FROM pgmq.meta WHERE queue_name LIKE 'bench\\_%'";

pub async fn run(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .test_before_acquire(false)
        .connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e} (start PostgreSQL and install pgmq with `cargo xtask services`)"))?;
    sqlx::query(DROP_LEFTOVERS)
        .execute(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("{e} (is pgmq installed? `cargo xtask services` installs it)"))?;
    run_suite_cleaning(
        workload,
        on_result,
        |queue| {
            let storage = PgmqStorage::<BenchJob>::new_with_config(pool.clone(), PgmqConfig::new(queue));
            async move {
                storage.setup().await?;
                Ok(storage)
            }
        },
        |last| async move {
            last.drop_queues().await?;
            Ok(())
        },
    )
    .await
}
