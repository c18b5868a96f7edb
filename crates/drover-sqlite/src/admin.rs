//! `SqliteAdmin`: every queue of a database file, for the `drover` tool and the board.

use std::time::Duration;

use drover_core::{AdminBackend, BackendError, Prune, Status, TaskFilter, TaskId};
use futures_util::future::BoxFuture;
use sqlx::SqlitePool;

use crate::codec::{id_bytes, id_from, now_millis};
use crate::error::sql;
use crate::{SqliteConfig, SqliteStorage};

/// A search's ids of a finished status, newest first (ids are big-endian ULIDs), read off the
/// finished index (its `WHERE` term repeated word for word); the error condition is skipped
/// when `?3` is NULL, the cursor when `?4` is. `lower` folds ASCII letters only, as the contract
/// says.
const FIND_FINISHED: &str = "SELECT id FROM drover_tasks \
     WHERE queue = ?1 AND status IN ('done', 'dead', 'cancelled') AND status = ?2 \
       AND (?3 IS NULL OR instr(lower(last_error), lower(?3)) > 0) AND (?4 IS NULL OR id < ?4) \
     ORDER BY id DESC LIMIT ?5";

/// The same for pending or running tasks (few, through their own indexes).
const FIND_LIVE: &str = "SELECT id FROM drover_tasks \
     WHERE queue = ?1 AND status = ?2 \
       AND (?3 IS NULL OR instr(lower(last_error), lower(?3)) > 0) AND (?4 IS NULL OR id < ?4) \
     ORDER BY id DESC LIMIT ?5";

/// The same over every status (`?2`, the status, is NULL here).
const FIND_ALL: &str = "SELECT id FROM drover_tasks \
     WHERE queue = ?1 AND ?2 IS NULL \
       AND (?3 IS NULL OR instr(lower(last_error), lower(?3)) > 0) AND (?4 IS NULL OR id < ?4) \
     ORDER BY id DESC LIMIT ?5";

/// Delete a task unless it is running (a running task's worker still holds its lease).
const DELETE: &str = "DELETE FROM drover_tasks WHERE id = ?1 AND queue = ?2 AND status <> 'running'";

/// Make a pending task due now.
const RUN_NOW: &str = "UPDATE drover_tasks SET run_at = min(run_at, ?3), updated_at = ?3 \
     WHERE id = ?1 AND queue = ?2 AND status = 'pending'";

/// Every queue of a SQLite database, as [`drover_core::Admin`] operates them: counts,
/// searches by status, id and error text with stable pages, requeue, cancel, delete, run now,
/// bulk actions by filter, purge, push, limits. SQLite does not record workers.
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

    fn registry(&self) -> Option<std::sync::Arc<dyn drover_core::WorkerRegistry>> {
        Some(std::sync::Arc::new(crate::registry::SqliteRegistry::new(self.pool.clone())))
    }

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

    fn find_ids<'a>(
        &'a self,
        queue: &'a str,
        filter: &'a TaskFilter,
        before: Option<TaskId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<TaskId>, BackendError>> {
        Box::pin(async move {
            let statement = match filter.status {
                Some(status) if status.is_final() => FIND_FINISHED,
                Some(_) => FIND_LIVE,
                None => FIND_ALL,
            };
            let rows: Vec<Vec<u8>> = sqlx::query_scalar(statement)
                .bind(queue)
                .bind(filter.status.map(|s| s.as_str()))
                .bind(filter.error_contains.as_deref())
                .bind(before.map(|id| id_bytes(id).to_vec()))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(|e| sql("searching tasks", e))?;
            rows.iter().map(|id| id_from(id)).collect()
        })
    }

    fn delete_task(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let queue = queue.to_owned();
        Box::pin(async move {
            let done = sqlx::query(DELETE)
                .bind(id_bytes(id).to_vec())
                .bind(queue)
                .execute(&self.pool)
                .await
                .map_err(|e| sql("deleting a task", e))?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn run_now(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let storage = self.storage(queue);
        let queue = queue.to_owned();
        Box::pin(async move {
            let done = sqlx::query(RUN_NOW)
                .bind(id_bytes(id).to_vec())
                .bind(queue)
                .bind(now_millis())
                .execute(&self.pool)
                .await
                .map_err(|e| sql("making a task due now", e))?;
            let due = done.rows_affected() == 1;
            if due {
                storage.notify();
            }
            Ok(due)
        })
    }

    drover_core::admin_limits_from_storage!();
    drover_core::admin_key_limits_from_storage!();
}
