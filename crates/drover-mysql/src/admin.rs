//! `MysqlAdmin`: every queue of a database, for the `drover` tool and the board.

use std::time::Duration;

use drover_core::{AdminBackend, BackendError, Prune, Status};
use futures_util::future::BoxFuture;
use sqlx::MySqlPool;

use crate::error::backend_error;
use crate::{MysqlConfig, MysqlStorage};

/// Every queue of a MySQL or MariaDB database, as [`drover_core::Admin`] operates them.
#[derive(Clone, Debug)]
pub struct MysqlAdmin {
    pool: MySqlPool,
}

impl MysqlAdmin {
    /// Operate the queues of `pool`'s database.
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

impl AdminBackend for MysqlAdmin {
    type Storage = MysqlStorage<()>;

    fn name(&self) -> &'static str {
        "mysql"
    }

    fn storage(&self, queue: &str) -> Self::Storage {
        MysqlStorage::new_with_config(self.pool.clone(), MysqlConfig::new(queue))
    }

    fn queue_names(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async move {
            sqlx::query_scalar("SELECT DISTINCT queue FROM drover_tasks ORDER BY queue")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend_error("list queues", e))
        })
    }

    fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(MysqlStorage::setup(&self.pool))
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
