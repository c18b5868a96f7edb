//! The RSMQ bench: each run gets a fresh rsmq queue in the namespace `drover-bench` on the
//! server at `REDIS_URL`, and the previous run's queue is deleted (rsmq's deleteQueue) so the
//! server's memory stays flat.

use drover_rsmq::{RsmqConfig, RsmqStorage};

use super::suite::{run_suite_cleaning, BenchJob, Measurement, Workload};

const NAMESPACE: &str = "drover-bench";

pub async fn run(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let conn = drover_rsmq::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e} (start Redis with `cargo xtask services`, or set REDIS_URL)"))?;
    run_suite_cleaning(
        workload,
        on_result,
        |queue| {
            let storage = RsmqStorage::<BenchJob>::new(conn.clone(), RsmqConfig::new(queue).set_namespace(NAMESPACE));
            async move { Ok(storage?) }
        },
        |last| async move {
            last.delete_queue().await?;
            Ok(())
        },
    )
    .await
}
