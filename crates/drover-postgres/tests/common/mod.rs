//! Helpers shared by the integration tests: the server URL, a pool, a fresh storage.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use drover_core::{Inspect, Status, TaskId};
use drover_postgres::{PostgresConfig, PostgresStorage};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

pub fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub async fn pool() -> PgPool {
    let url = url();
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to PostgreSQL at {url}: {e}; start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
            )
        });
    PostgresStorage::setup(&pool).await.expect("setup");
    pool
}

/// A fresh queue name for one test.
pub fn queue(prefix: &str) -> String {
    format!("{prefix}-{}", TaskId::new())
}

pub async fn storage<T>(prefix: &str) -> PostgresStorage<T> {
    PostgresStorage::new_with_config(pool().await, PostgresConfig::new(queue(prefix)))
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
