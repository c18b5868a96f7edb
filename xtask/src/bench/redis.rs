//! The Redis bench: each run gets a fresh namespace on the server at `REDIS_URL`, and the
//! previous run's namespace is purged so the server's memory stays flat.

use drover_redis::{Config, RedisStorage};

use super::suite::{capped_drains, run_suite_cleaning, BenchJob, Measurement, Workload};

pub async fn run(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let conn = drover_redis::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e} (start Redis with `cargo xtask services`, or set REDIS_URL)"))?;
    run_on(conn, workload, on_result, true).await
}

/// The suite on `conn`, each run on a fresh namespace purged afterwards; with the capped
/// drains when `capped`.
pub async fn run_on(
    conn: drover_redis::RedisConnection,
    workload: &Workload,
    on_result: impl FnMut(&Measurement),
    capped: bool,
) -> anyhow::Result<()> {
    let mut on_result = on_result;
    let make = |queue: String| {
        let conn = conn.clone();
        async move { Ok(RedisStorage::<BenchJob>::new_with_config(conn, Config::new(queue))) }
    };
    let clean = |last: RedisStorage<BenchJob>| async move {
        last.purge().await?;
        Ok(())
    };
    run_suite_cleaning(workload, &mut on_result, make, clean).await?;
    if capped {
        capped_drains(workload, &mut on_result, make, clean).await?;
    }
    Ok(())
}
