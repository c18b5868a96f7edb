//! The MySQL/MariaDB bench: one pool to the server at `MYSQL_URL`, the migrations applied
//! once, a fresh queue per run; each run's tasks are deleted when the next run starts, so the
//! table stays small.
//!
//! The pool skips sqlx's ping before each checkout (`test_before_acquire(false)`), a round
//! trip per call, as the crate docs recommend.

use drover_core::Backend;
use drover_mysql::sqlx::{self, mysql::MySqlPoolOptions};
use drover_mysql::{MysqlConfig, MysqlStorage};

use super::suite::{capped_drains, run_suite_cleaning, scale_drains, BenchJob, Measurement, Workload};

/// Delete the tasks of one bench queue.
const DELETE_QUEUE: &str = "DELETE FROM drover_tasks WHERE queue = ?";

/// Delete a queue's tasks, again if InnoDB picks this big delete as a deadlock victim.
async fn delete_queue(pool: &sqlx::MySqlPool, queue: &str) -> anyhow::Result<()> {
    let mut tries = 0;
    loop {
        tries += 1;
        match sqlx::query(DELETE_QUEUE).bind(queue).execute(pool).await {
            Ok(_) => return Ok(()),
            Err(sqlx::Error::Database(e)) if tries < 5 && matches!(e.code().as_deref(), Some("40001" | "HY000")) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

pub async fn run(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let url = std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let pool = MySqlPoolOptions::new()
        .max_connections(16)
        .test_before_acquire(false)
        .connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e} (start MariaDB with `cargo xtask services`, or set MYSQL_URL)"))?;
    MysqlStorage::setup(&pool).await?;
    sqlx::query("DELETE FROM drover_tasks WHERE queue LIKE 'bench\\_%'").execute(&pool).await?;
    let mut on_result = on_result;
    let make = |queue: String| {
        let pool = pool.clone();
        async move { Ok(MysqlStorage::<BenchJob>::new_with_config(pool, MysqlConfig::new(queue))) }
    };
    let clean = |last: MysqlStorage<BenchJob>| {
        let pool = pool.clone();
        async move { delete_queue(&pool, last.queue()).await }
    };
    if let Some(big) = workload.scale {
        return scale_drains(workload, big, &mut on_result, make, clean).await;
    }
    run_suite_cleaning(workload, &mut on_result, make, clean).await?;
    capped_drains(workload, &mut on_result, make, clean).await
}
