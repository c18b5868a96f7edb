//! The MySQL/MariaDB bench: one pool to the server at `MYSQL_URL`, the migrations applied
//! once, a fresh queue per run; each run's tasks are deleted when the next run starts, so the
//! table stays small.
//!
//! Claims commit in the background (`ClaimCommit::Asynchronous`): with the server's default
//! `innodb_flush_log_at_trx_commit = 1` every commit waits for an fsync, and a worker's claims
//! (at most its concurrency each, one at a time) would otherwise be bounded by the disk's flush
//! latency. `DROVER_BENCH_MYSQL_CLAIM_COMMIT=sync` measures synchronous claims. The pool skips
//! sqlx's ping before each checkout (`test_before_acquire(false)`), a round trip per call.

use drover_mysql::sqlx::{self, mysql::MySqlPoolOptions};
use drover_mysql::{ClaimCommit, MysqlConfig, MysqlStorage};

use super::suite::{run_suite, BenchJob, Measurement, Workload};

/// Delete the tasks of one bench queue.
const DELETE_QUEUE: &str = "DELETE FROM drover_tasks WHERE queue = ?";

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
    let commit = match std::env::var("DROVER_BENCH_MYSQL_CLAIM_COMMIT").as_deref() {
        Ok("sync") => ClaimCommit::Synchronous,
        _ => ClaimCommit::Asynchronous,
    };
    eprintln!("mysql bench: claims commit {commit:?}");
    let mut previous: Option<String> = None;
    let result = run_suite(workload, on_result, |queue| {
        let pool = pool.clone();
        let last = previous.replace(queue.clone());
        async move {
            if let Some(last) = last {
                sqlx::query(DELETE_QUEUE).bind(last).execute(&pool).await?;
            }
            Ok(MysqlStorage::<BenchJob>::new_with_config(pool, MysqlConfig::new(queue).set_claim_commit(commit))?)
        }
    })
    .await;
    if let Some(last) = previous {
        sqlx::query(DELETE_QUEUE).bind(last).execute(&pool).await?;
    }
    result
}
