//! The SQLite bench: every run gets a fresh database file (WAL, as `connect` opens it) in the
//! system's temporary directory, deleted when the next run starts and at the end.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use drover_sqlite::{SqliteConfig, SqliteStorage};

use super::suite::{run_suite, scale_drains, BenchJob, Measurement, Workload};

type Current = Arc<Mutex<Option<(SqliteStorage<BenchJob>, PathBuf)>>>;

pub async fn run(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("drover-bench-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let current: Current = Arc::default();
    let make = |queue: String| {
        let current = current.clone();
        let path = dir.join(format!("{queue}.db"));
        async move {
            close(&current).await;
            let url = format!("sqlite://{}", path.display());
            let storage = SqliteStorage::<BenchJob>::connect_with_config(&url, SqliteConfig::new(queue)).await?;
            *lock(&current) = Some((storage.clone(), path));
            Ok(storage)
        }
    };
    let result = match workload.scale {
        Some(big) => {
            let mut on_result = on_result;
            scale_drains(workload, big, &mut on_result, make, |_| async { Ok(()) }).await
        }
        None => run_suite(workload, on_result, make).await,
    };
    close(&current).await;
    let _ = std::fs::remove_dir(&dir);
    result
}

fn lock(current: &Current) -> std::sync::MutexGuard<'_, Option<(SqliteStorage<BenchJob>, PathBuf)>> {
    current.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Close the last run's pool and delete its files.
async fn close(current: &Current) {
    let last = lock(current).take();
    if let Some((storage, path)) = last {
        storage.pool().close().await;
        remove(&path);
    }
}

fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
