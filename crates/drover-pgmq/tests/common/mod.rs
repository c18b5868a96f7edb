//! Helpers shared by the integration tests: the server URL, a pool, fresh queues, psql.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use drover_core::{Inspect, Status, TaskId};
use drover_pgmq::{PgmqConfig, PgmqStorage};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

pub fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub async fn pool() -> PgPool {
    let url = url();
    PgPoolOptions::new().max_connections(6).acquire_timeout(Duration::from_secs(20)).connect(&url).await.unwrap_or_else(
        |e| {
            panic!(
                "cannot connect to PostgreSQL at {url}: {e}; start it (and install pgmq) with `cargo xtask services`"
            )
        },
    )
}

/// A fresh queue name for one test: `prefix` and the low bits of a new ULID, lowercase.
pub fn queue(prefix: &str) -> String {
    let id = TaskId::new().to_string().to_lowercase();
    format!("{prefix}_{}", &id[id.len() - 12..])
}

/// Drop the queues of test runs that ended more than an hour ago (every test queue is named by
/// [`queue`]), once per test process, so the test database does not collect pgmq tables.
fn drop_old_test_queues() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let sql = "SELECT count(pgmq.drop_queue(queue_name)) FROM pgmq.meta \
                   WHERE queue_name ~ '^[a-z0-9_]+_[0-9a-z]{12}(_dead)?$' AND created_at < now() - interval '1 hour'";
        // Best effort: a failure here only leaves old tables behind.
        let _ = std::process::Command::new("psql").arg(url()).args(["-XAtq", "-c", sql]).output();
    });
}

/// A set-up storage on a fresh queue made from `config` (its queue is replaced).
pub async fn storage_with<T>(prefix: &str, config: PgmqConfig) -> PgmqStorage<T> {
    drop_old_test_queues();
    let storage = PgmqStorage::new_with_config(pool().await, config.set_queue(queue(prefix)));
    storage.setup().await.unwrap_or_else(|e| panic!("setup: {e}"));
    storage
}

pub async fn storage<T>(prefix: &str) -> PgmqStorage<T> {
    storage_with(prefix, PgmqConfig::default()).await
}

/// Run one SQL statement with psql (a real pgmq client that is not Drover) and return its
/// unaligned, tuples-only output.
pub async fn psql(sql: &str) -> String {
    let output = tokio::process::Command::new("psql")
        .arg(url())
        .args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run psql ({e}): install postgresql-client"));
    assert!(output.status.success(), "psql `{sql}` failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim_end_matches('\n').to_owned()
}

/// The Python of the virtual environment `cargo xtask services` installs the PyPI `pgmq`
/// client into (`DROVER_PGMQ_VENV`, or `drover/pgmq-venv` in the cache folder).
pub fn python() -> PathBuf {
    let venv = std::env::var_os("DROVER_PGMQ_VENV").filter(|d| !d.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
        cache.join("drover").join("pgmq-venv")
    });
    let python = venv.join("bin").join("python");
    assert!(
        python.exists(),
        "the PyPI pgmq client is not installed at {}: run `cargo xtask services` once",
        venv.display()
    );
    python
}

/// Wait until `id` has `status`, or panic after `timeout`.
pub async fn wait_for_status<S: Inspect>(storage: &S, id: TaskId, status: Status, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(Some(info)) = storage.get(id).await {
            if info.status == status {
                return;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "task {id} did not become {status} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
