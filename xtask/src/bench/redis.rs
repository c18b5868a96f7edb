//! The Redis bench: each run gets a fresh namespace on the server at `REDIS_URL`, and the
//! previous run's namespace is purged so the server's memory stays flat.

use std::time::Duration;

use drover_redis::{Config, RedisStorage};

use super::suite::{capped_drains, run_suite_cleaning, single_push_variants, BenchJob, Measurement, Workload};

/// The settings of single pushes compared beside the standard `enqueue_single` (one caller,
/// the default push spin): the push spin off, and both from 50 callers at once.
const SINGLE_PUSH_VARIANTS: [(&str, usize); 3] = [(WITHOUT_SPIN, 1), (WITH_SPIN, 50), (WITHOUT_SPIN, 50)];
const WITH_SPIN: &str = "default push spin";
const WITHOUT_SPIN: &str = "no push spin";

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
    let make_variant = |variant: &'static str| {
        let conn = conn.clone();
        async move {
            let mut config = Config::new(super::suite::queue_name("enqueue_single_variant"));
            if variant == WITHOUT_SPIN {
                config = config.set_push_spin(Duration::ZERO);
            }
            Ok(RedisStorage::<BenchJob>::new_with_config(conn, config))
        }
    };
    single_push_variants(workload, &mut on_result, &SINGLE_PUSH_VARIANTS, make_variant, clean).await?;
    if capped {
        capped_drains(workload, &mut on_result, make, clean).await?;
    }
    Ok(())
}
