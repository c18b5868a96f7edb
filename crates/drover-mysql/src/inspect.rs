//! Inspection (counts, pages, one task) and the operator's actions: cancel and requeue.

use drover_core::{BackendError, Cancel, Codec, Inspect, ListQuery, QueueStats, Requeue, TaskId, TaskInfo};
use sqlx::AssertSqlSafe;
use sqlx::Row;

use crate::columns::{id_bytes, task_detail, task_info, DETAIL_COLUMNS, TASK_COLUMNS};
use crate::error::{backend_error, is_duplicate_key, retry_on_lock_conflict};
use crate::storage::MysqlStorage;

/// Counts by status, and how many pending tasks are not due yet (index
/// `drover_tasks_claim` covers it).
/// The due time of the task a claim takes next, read off the claim index.
const OLDEST_DUE: &str = "SELECT run_at FROM drover_tasks WHERE queue = ? AND status = 'pending'
  AND run_at <= UTC_TIMESTAMP(6) ORDER BY priority_rank, run_at LIMIT 1";

const STATS: &str = "SELECT CAST(status AS CHAR) AS status, COUNT(*) AS n,
  CAST(SUM(status = 'pending' AND run_at > UTC_TIMESTAMP(6)) AS SIGNED) AS scheduled
  FROM drover_tasks WHERE queue = ? GROUP BY status";

/// Cancel a task that has not finished; a running task's token goes, so its ack is ignored.
const CANCEL: &str = "UPDATE drover_tasks SET status = 'cancelled', token = NULL, worker = NULL,
  lease_expires_at = NULL, unique_live = NULL, updated_at = UTC_TIMESTAMP(6)
  WHERE id = ? AND queue = ? AND status IN ('pending', 'running')";

/// Run a dead or cancelled task again from attempt 1. Taking its unique key back fails with a
/// duplicate key when another live task holds it, and then nothing changes.
const REQUEUE: &str = "UPDATE drover_tasks SET status = 'pending', attempt = 0, run_at = UTC_TIMESTAMP(6),
  unique_live = unique_key, token = NULL, worker = NULL, lease_expires_at = NULL, updated_at = UTC_TIMESTAMP(6)
  WHERE id = ? AND queue = ? AND status IN ('dead', 'cancelled')";

impl<T, C> Inspect for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn stats(&self) -> Result<QueueStats, BackendError> {
        let rows = sqlx::query(STATS)
            .bind(self.queue_name())
            .fetch_all(self.pool())
            .await
            .map_err(|e| backend_error("stats", e))?;
        let mut stats = QueueStats::default();
        for row in rows {
            let status: String = row.try_get("status").map_err(|e| backend_error("stats", e))?;
            let n: i64 = row.try_get("n").map_err(|e| backend_error("stats", e))?;
            stats.record(&status, n);
            if status == "pending" {
                let scheduled: Option<i64> = row.try_get("scheduled").map_err(|e| backend_error("stats", e))?;
                stats.record("scheduled", scheduled.unwrap_or(0));
            }
        }
        stats.oldest_due_at = sqlx::query_scalar(OLDEST_DUE)
            .bind(self.queue_name())
            .fetch_optional(self.pool())
            .await
            .map_err(|e| backend_error("stats (oldest due task)", e))?;
        Ok(stats)
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<TaskInfo>, BackendError> {
        let filter = if query.status.is_some() { "AND status = ?" } else { "" };
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM drover_tasks WHERE queue = ? {filter} ORDER BY id DESC LIMIT ? OFFSET ?"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(self.queue_name());
        if let Some(status) = query.status {
            q = q.bind(status.as_str());
        }
        let rows = q
            .bind(query.limit.min(i64::MAX as u64))
            .bind(query.offset.min(i64::MAX as u64))
            .fetch_all(self.pool())
            .await
            .map_err(|e| backend_error("list", e))?;
        rows.iter().map(task_info).collect::<Result<_, _>>().map_err(|e| backend_error("list", e))
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskInfo>, BackendError> {
        let sql = format!("SELECT {DETAIL_COLUMNS} FROM drover_tasks WHERE id = ? AND queue = ?");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id_bytes(id))
            .bind(self.queue_name())
            .fetch_optional(self.pool())
            .await
            .map_err(|e| backend_error("get", e))?;
        row.as_ref().map(task_detail).transpose()
    }
}

impl<T, C> Cancel for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn cancel(&self, id: TaskId) -> Result<bool, BackendError> {
        let done = retry_on_lock_conflict("cancel", || {
            Box::pin(sqlx::query(CANCEL).bind(id_bytes(id)).bind(self.queue_name()).execute(self.pool()))
        })
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl<T, C> Requeue for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn requeue(&self, id: TaskId) -> Result<bool, BackendError> {
        let result = retry_on_lock_conflict("requeue", || {
            Box::pin(async move {
                match sqlx::query(REQUEUE).bind(id_bytes(id)).bind(self.queue_name()).execute(self.pool()).await {
                    Ok(done) => Ok(done.rows_affected() == 1),
                    Err(error) if is_duplicate_key(&error) => Ok(false),
                    Err(error) => Err(error),
                }
            })
        })
        .await?;
        if result {
            self.shared.wakeup.notify();
        }
        Ok(result)
    }
}

impl<T, C> drover_core::Pause for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_paused(&self, paused: bool) -> Result<(), BackendError> {
        self.check()?;
        sqlx::query(
            "INSERT INTO drover_queue_settings (queue, paused, updated_at) VALUES (?, ?, UTC_TIMESTAMP(6)) \
             ON DUPLICATE KEY UPDATE paused = VALUES(paused), updated_at = VALUES(updated_at)",
        )
        .bind(self.queue_name())
        .bind(paused)
        .execute(self.pool())
        .await
        .map_err(|e| backend_error("pause or resume the queue", e))?;
        if !paused {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    async fn is_paused(&self) -> Result<bool, BackendError> {
        let paused: Option<bool> = sqlx::query_scalar("SELECT paused FROM drover_queue_settings WHERE queue = ?")
            .bind(self.queue_name())
            .fetch_optional(self.pool())
            .await
            .map_err(|e| backend_error("read whether the queue is paused", e))?;
        Ok(paused.unwrap_or(false))
    }
}
