//! `SqliteAdmin`: every queue of a database file, for the `drover` tool and the board.

use std::time::Duration;

use drover_core::{AdminBackend, BackendError, Prune, Status};
use futures_util::future::BoxFuture;
use sqlx::SqlitePool;

use crate::error::sql;
use crate::{SqliteConfig, SqliteStorage};

/// Every queue of a SQLite database, as [`drover_core::Admin`] operates them. SQLite does not
/// record workers.
#[derive(Clone, Debug)]
pub struct SqliteAdmin {
    pool: SqlitePool,
}

impl SqliteAdmin {
    /// Operate the queues of `pool`'s database.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

impl AdminBackend for SqliteAdmin {
    type Storage = SqliteStorage<()>;

    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn storage(&self, queue: &str) -> Self::Storage {
        SqliteStorage::new_with_config(self.pool.clone(), SqliteConfig::new(queue))
    }

    fn queue_names(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async move {
            sqlx::query_scalar("SELECT DISTINCT queue FROM drover_tasks ORDER BY queue")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| sql("listing queues", e))
        })
    }

    fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(SqliteStorage::setup(&self.pool))
    }

    fn prune(
        &self,
        queue: &str,
        status: Status,
        older_than: Duration,
        limit: usize,
    ) -> BoxFuture<'_, Result<u64, BackendError>> {
        let storage = self.storage(queue);
        Box::pin(async move { storage.prune_batch(status, older_than, limit).await })
    }

    drover_core::admin_limits_from_storage!();
}
