//! A worker process for the kill -9 test (`tests/crash.rs`), not meant for users.
//!
//! Usage: `drover-mysql-crash-worker <mysql-url> <queue> <lease-ms>`. It runs a worker whose
//! handler prints `started <task id>` and then hangs, so the test can kill the process with
//! SIGKILL while the job runs.

use std::io::Write;
use std::time::Duration;

use drover_core::{BoxDynError, TaskId, WorkerBuilder};
use drover_mysql::{MysqlConfig, MysqlStorage};

fn announce(id: TaskId) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "started {id}")?;
    out.flush()
}

async fn hang(_job: u64, id: TaskId) -> Result<(), BoxDynError> {
    announce(id)?;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(())
}

fn main() -> Result<(), BoxDynError> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, queue, lease_ms] = args.as_slice() else {
        return Err("usage: drover-mysql-crash-worker <mysql-url> <queue> <lease-ms>".into());
    };
    let lease = Duration::from_millis(lease_ms.parse()?);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let pool = sqlx::MySqlPool::connect(url).await?;
        let storage: MysqlStorage<u64> = MysqlStorage::new_with_config(pool, MysqlConfig::new(queue.as_str()));
        let worker = WorkerBuilder::new("crash-worker")
            .backend(storage)
            .lease(lease)
            .heartbeat(lease / 4)
            .poll_interval(Duration::from_millis(50))
            .build_fn(hang);
        worker.run_until(std::future::pending::<()>()).await?;
        Ok(())
    })
}
