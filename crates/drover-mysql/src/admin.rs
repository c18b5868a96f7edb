//! `MysqlAdmin`: every queue of a database, for the `drover` tool and the board.

use std::time::Duration;

use drover_core::{AdminBackend, BackendError, Prune, Status, TaskFilter, TaskId};
use futures_util::future::BoxFuture;
use sqlx::MySqlPool;

use crate::columns::{id_bytes, task_id};
use crate::error::{backend_error, retry_on_lock_conflict};
use crate::{MysqlConfig, MysqlStorage};

/// A search's ids, newest first (ids are big-endian ULIDs): every condition is skipped when its
/// parameter is NULL, so each is bound twice. The error text is compared lower-cased.
const FIND_IDS: &str = "SELECT id FROM drover_tasks WHERE queue = ? AND (? IS NULL OR status = ?) \
     AND (? IS NULL OR id = ?) AND (? IS NULL OR LOCATE(LOWER(?), LOWER(last_error)) > 0) \
     AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?";

/// Delete a task unless it is running (a running task's worker still holds its lease).
const DELETE: &str = "DELETE FROM drover_tasks WHERE id = ? AND queue = ? AND status <> 'running'";

/// Make a pending task due now (`updated_at` always changes, so a pending task counts as
/// affected).
const RUN_NOW: &str = "UPDATE drover_tasks SET run_at = LEAST(run_at, UTC_TIMESTAMP(6)), \
     updated_at = UTC_TIMESTAMP(6) WHERE id = ? AND queue = ? AND status = 'pending'";

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

    fn registry(&self) -> Option<std::sync::Arc<dyn drover_core::WorkerRegistry>> {
        Some(std::sync::Arc::new(crate::registry::MysqlRegistry::new(self.pool.clone())))
    }

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

    fn find_ids<'a>(
        &'a self,
        queue: &'a str,
        filter: &'a TaskFilter,
        before: Option<TaskId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<TaskId>, BackendError>> {
        Box::pin(async move {
            let status = filter.status.map(|s| s.as_str());
            let id = filter.id.map(id_bytes);
            let error = filter.error_contains.as_deref();
            let before = before.map(id_bytes);
            let rows: Vec<Vec<u8>> = sqlx::query_scalar(FIND_IDS)
                .bind(queue)
                .bind(status)
                .bind(status)
                .bind(id.clone())
                .bind(id)
                .bind(error)
                .bind(error)
                .bind(before.clone())
                .bind(before)
                .bind(u64::try_from(limit).unwrap_or(u64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend_error("search tasks", e))?;
            rows.iter().map(|id| task_id(id).map_err(|e| backend_error("search tasks", e))).collect()
        })
    }

    fn delete_task(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let queue = queue.to_owned();
        Box::pin(async move {
            let queue = queue.as_str();
            retry_on_lock_conflict("delete a task", || {
                Box::pin(async move {
                    let done = sqlx::query(DELETE).bind(id_bytes(id)).bind(queue).execute(&self.pool).await?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
        })
    }

    fn run_now(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let storage = self.storage(queue);
        let queue = queue.to_owned();
        Box::pin(async move {
            let queue = queue.as_str();
            let due = retry_on_lock_conflict("make a task due now", || {
                Box::pin(async move {
                    let done = sqlx::query(RUN_NOW).bind(id_bytes(id)).bind(queue).execute(&self.pool).await?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await?;
            if due {
                storage.shared.wakeup.notify();
            }
            Ok(due)
        })
    }

    drover_core::admin_limits_from_storage!();
    drover_core::admin_key_limits_from_storage!();
}
