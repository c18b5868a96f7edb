//! The RSMQ bench: each run gets a fresh rsmq queue in the namespace `drover-bench` on the
//! server at `REDIS_URL`, and the previous run's queue is deleted (rsmq's deleteQueue) so the
//! server's memory stays flat.

use drover_rsmq::{RsmqConfig, RsmqStorage};

use super::suite::{run_suite, BenchJob, Measurement, Workload};

const NAMESPACE: &str = "drover-bench";

pub async fn run(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let conn = drover_rsmq::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e} (start Redis with `cargo xtask services`, or set REDIS_URL)"))?;
    let mut previous: Option<RsmqStorage<BenchJob>> = None;
    let result = run_suite(workload, on_result, |queue| {
        let storage = RsmqStorage::<BenchJob>::new(conn.clone(), RsmqConfig::new(queue).namespace(NAMESPACE));
        let last = previous.take();
        if let Ok(storage) = &storage {
            previous = Some(storage.clone());
        }
        async move {
            if let Some(last) = last {
                last.delete_queue().await?;
            }
            Ok(storage?)
        }
    })
    .await;
    if let Some(last) = previous {
        last.delete_queue().await?;
    }
    result
}
