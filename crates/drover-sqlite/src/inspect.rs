//! Reading and steering a queue: inspection, cancel, requeue, and retention.

use std::time::Duration;

use drover_core::{
    AttemptRecord, BackendError, Cancel, Codec, Inspect, ListQuery, NewTask, Prune, Pruned, PushOptions, QueueStats,
    Requeue, RetentionService, Status, TaskId, TaskInfo,
};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::Row;

use crate::batch::{built, execute_on};
use crate::codec::{id_bytes, id_from, now_millis, time_from};
use crate::error::sql;
use crate::storage::{add, SqliteStorage};

const COLUMNS: &str = "id, queue, payload, status, attempt, max_attempts, run_at, priority, unique_key, \
                       last_error, created_at, updated_at, lease_expires_at, concurrency_key, started_at";
/// A task's detail: [`COLUMNS`] and its attempt history (pages leave the history out).
const DETAIL_COLUMNS: &str = "id, queue, payload, status, attempt, max_attempts, run_at, priority, unique_key, \
                       last_error, created_at, updated_at, lease_expires_at, concurrency_key, started_at, attempts";

/// Each count reads the index of its status (see the migration).
const STATS: &str = "\
SELECT
    (SELECT COUNT(*) FROM drover_tasks WHERE queue = ?1 AND status = 'pending'),
    (SELECT COUNT(*) FROM drover_tasks WHERE queue = ?1 AND status = 'pending' AND run_at > ?2),
    (SELECT COUNT(*) FROM drover_tasks WHERE queue = ?1 AND status = 'running'),
    (SELECT COUNT(*) FROM drover_tasks
     WHERE queue = ?1 AND status IN ('done', 'dead', 'cancelled') AND status = 'done'),
    (SELECT COUNT(*) FROM drover_tasks
     WHERE queue = ?1 AND status IN ('done', 'dead', 'cancelled') AND status = 'dead'),
    (SELECT COUNT(*) FROM drover_tasks
     WHERE queue = ?1 AND status IN ('done', 'dead', 'cancelled') AND status = 'cancelled'),
    (SELECT run_at FROM drover_tasks WHERE queue = ?1 AND status = 'pending' AND run_at <= ?2
     ORDER BY priority DESC, run_at LIMIT 1)";

/// The `WHERE` condition selecting one status, worded so the status's index applies.
fn status_filter(status: Status) -> &'static str {
    if status.is_final() {
        "status IN ('done', 'dead', 'cancelled') AND status = ?2"
    } else {
        "status = ?2"
    }
}

const CANCEL: &str = "\
UPDATE drover_tasks
SET status = 'cancelled', lease_token = NULL, lease_expires_at = NULL, updated_at = ?3
WHERE id = ?1 AND queue = ?2 AND status IN ('pending', 'running')";

/// `OR IGNORE`: when another task now holds the requeued task's unique key, the requeue is
/// skipped (reported as not requeued) rather than breaking the key's uniqueness.
const REQUEUE: &str = "\
UPDATE OR IGNORE drover_tasks
SET status = 'pending', attempt = 0, run_at = ?3, lease_token = NULL, lease_expires_at = NULL,
    updated_at = ?3
WHERE id = ?1 AND queue = ?2 AND status IN ('dead', 'cancelled')";

/// One bounded batch of a prune: the oldest-updated first is not needed, any old ones will do.
const PRUNE: &str = "\
DELETE FROM drover_tasks WHERE id IN (
    SELECT id FROM drover_tasks
    WHERE queue = ?1 AND status IN ('done', 'dead', 'cancelled') AND status = ?2 AND updated_at < ?3
    LIMIT ?4)";

/// Arguments (id, queue, now) of cancel and requeue.
fn id_queue_now(id: TaskId, queue: &str) -> Result<SqliteArguments, BackendError> {
    const OP: &str = "binding arguments";
    let mut args = SqliteArguments::default();
    add(&mut args, id_bytes(id).to_vec(), OP)?;
    add(&mut args, queue.to_owned(), OP)?;
    add(&mut args, now_millis(), OP)?;
    Ok(args)
}

impl<T, C> SqliteStorage<T, C> {
    /// Run one statement with numbered parameters on the writer, in its own turn; returns the
    /// rows it changed.
    async fn write_alone(
        &self,
        operation: &'static str,
        statement: &'static str,
        args: SqliteArguments,
    ) -> Result<u64, BackendError> {
        let mut turn = self.inner.hub.group.turn().await;
        let conn = turn.connection(&self.inner.pool, operation).await?;
        let result = execute_on(conn, statement, args).await.map_err(|e| sql(operation, e));
        if let Err(error) = &result {
            turn.reset_after(error);
        }
        Ok(result?.rows_affected())
    }
}

fn task_info(row: &SqliteRow) -> Result<TaskInfo, BackendError> {
    const OP: &str = "reading a task";
    let get_i64 = |i: usize| row.try_get::<i64, _>(i).map_err(|e| sql(OP, e));
    let id = id_from(&row.try_get::<Vec<u8>, _>(0).map_err(|e| sql(OP, e))?)?;
    let queue: String = row.try_get(1).map_err(|e| sql(OP, e))?;
    let status: String = row.try_get(3).map_err(|e| sql(OP, e))?;
    let status: Status = status.parse().map_err(|e| BackendError::server(OP, e))?;
    // TaskInfo is built from a NewTask envelope, then every stored field is set.
    let mut envelope = NewTask::new(Vec::new(), PushOptions::new());
    envelope.id = id;
    let created_at = time_from(get_i64(10)?);
    let mut info = TaskInfo::from_new(&queue, &envelope, created_at);
    info.payload = row.try_get(2).map_err(|e| sql(OP, e))?;
    info.status = status;
    info.attempt = u32::try_from(get_i64(4)?).unwrap_or(u32::MAX);
    info.max_attempts = u32::try_from(get_i64(5)?).unwrap_or(u32::MAX);
    info.run_at = time_from(get_i64(6)?);
    info.priority = i32::try_from(get_i64(7)?).unwrap_or_default();
    info.unique_key = row.try_get(8).map_err(|e| sql(OP, e))?;
    info.last_error = row.try_get(9).map_err(|e| sql(OP, e))?;
    info.updated_at = time_from(get_i64(11)?);
    info.lease_expires_at = row.try_get::<Option<i64>, _>(12).map_err(|e| sql(OP, e))?.map(time_from);
    info.concurrency_key = row.try_get(13).map_err(|e| sql(OP, e))?;
    info.started_at = row.try_get::<Option<i64>, _>(14).map_err(|e| sql(OP, e))?.map(time_from);
    if row.len() > 15 {
        if let Some(attempts) = row.try_get::<Option<String>, _>(15).map_err(|e| sql(OP, e))? {
            info.attempts = AttemptRecord::decode_history(attempts.as_bytes())?;
        }
    }
    Ok(info)
}

impl<T, C> Inspect for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn stats(&self) -> Result<QueueStats, BackendError> {
        const OP: &str = "counting tasks";
        let row = sqlx::query(STATS)
            .bind(self.inner.queue.as_str())
            .bind(now_millis())
            .fetch_one(&self.inner.pool)
            .await
            .map_err(|e| sql(OP, e))?;
        let mut stats = QueueStats::default();
        for (i, name) in QueueStats::NAMES.iter().enumerate() {
            stats.record(name, row.try_get::<i64, _>(i).map_err(|e| sql(OP, e))?);
        }
        let oldest: Option<i64> = row.try_get(QueueStats::NAMES.len()).map_err(|e| sql(OP, e))?;
        stats.oldest_due_at = oldest.and_then(chrono::DateTime::from_timestamp_millis);
        Ok(stats)
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<TaskInfo>, BackendError> {
        const OP: &str = "listing tasks";
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let rows = match query.status {
            Some(status) => {
                let statement = format!(
                    "SELECT {COLUMNS} FROM drover_tasks WHERE queue = ?1 AND {} \
                     ORDER BY id DESC LIMIT ?3 OFFSET ?4",
                    status_filter(status)
                );
                sqlx::query(built(statement))
                    .bind(self.inner.queue.as_str())
                    .bind(status.as_str())
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.inner.pool)
                    .await
            }
            None => {
                let statement =
                    format!("SELECT {COLUMNS} FROM drover_tasks WHERE queue = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3");
                sqlx::query(built(statement))
                    .bind(self.inner.queue.as_str())
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.inner.pool)
                    .await
            }
        }
        .map_err(|e| sql(OP, e))?;
        rows.iter().map(task_info).collect()
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskInfo>, BackendError> {
        const OP: &str = "reading a task";
        let statement = format!("SELECT {DETAIL_COLUMNS} FROM drover_tasks WHERE id = ?1 AND queue = ?2");
        let row = sqlx::query(built(statement))
            .bind(id_bytes(id).to_vec())
            .bind(self.inner.queue.as_str())
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| sql(OP, e))?;
        row.as_ref().map(task_info).transpose()
    }
}

impl<T, C> Cancel for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn cancel(&self, id: TaskId) -> Result<bool, BackendError> {
        let args = id_queue_now(id, self.inner.queue.as_str())?;
        Ok(self.write_alone("cancelling a task", CANCEL, args).await? > 0)
    }
}

impl<T, C> Requeue for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn requeue(&self, id: TaskId) -> Result<bool, BackendError> {
        let args = id_queue_now(id, self.inner.queue.as_str())?;
        let requeued = self.write_alone("requeueing a task", REQUEUE, args).await? > 0;
        if requeued {
            self.notify();
        }
        Ok(requeued)
    }
}

impl<T, C> Prune for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn delete_finished(&self, status: Status, older_than: Duration, limit: usize) -> Result<u64, BackendError> {
        const OP: &str = "pruning finished tasks";
        let cutoff = now_millis().saturating_sub(drover_core::span::millis(older_than));
        let mut args = SqliteArguments::default();
        add(&mut args, self.inner.queue.clone(), OP)?;
        add(&mut args, status.as_str(), OP)?;
        add(&mut args, cutoff, OP)?;
        add(&mut args, i64::try_from(limit.max(1)).unwrap_or(i64::MAX), OP)?;
        self.write_alone(OP, PRUNE, args).await
    }
}

impl<T: Send + 'static, C: Codec<T>> SqliteStorage<T, C> {
    /// One retention pass with the configured [`Retention`](drover_core::Retention)
    /// ([`SqliteConfig::set_retention`](crate::SqliteConfig::set_retention)): delete this
    /// queue's done, dead and cancelled tasks whose record last changed longer ago than their
    /// age, in batches of `Retention::batch` rows, each its own short write. Call it from a
    /// timer, or spawn [`RetentionService::run_forever`](drover_core::RetentionService::run_forever);
    /// SQLite reuses the freed pages for new tasks.
    pub async fn prune(&self) -> Result<Pruned, BackendError> {
        RetentionService::new(self.clone(), self.inner.config.retention().clone()).run_once().await
    }
}

impl<T, C> drover_core::Pause for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_paused(&self, paused: bool) -> Result<(), BackendError> {
        sqlx::query(
            "INSERT INTO drover_queue_settings (queue, paused, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at",
        )
        .bind(self.inner.queue.clone())
        .bind(i64::from(paused))
        .bind(crate::codec::now_millis())
        .execute(&self.inner.pool)
        .await
        .map_err(|e| sql("pausing or resuming the queue", e))?;
        if !paused {
            self.notify();
        }
        Ok(())
    }

    async fn is_paused(&self) -> Result<bool, BackendError> {
        let paused: Option<i64> = sqlx::query_scalar("SELECT paused FROM drover_queue_settings WHERE queue = ?1")
            .bind(self.inner.queue.clone())
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| sql("reading whether the queue is paused", e))?;
        Ok(paused.unwrap_or(0) != 0)
    }
}

impl<T, C> drover_core::GlobalConcurrency for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running(&self, max: Option<u32>) -> Result<(), BackendError> {
        sqlx::query(
            "INSERT INTO drover_queue_settings (queue, max_running, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (queue) DO UPDATE SET max_running = excluded.max_running, updated_at = excluded.updated_at",
        )
        .bind(self.inner.queue.clone())
        .bind(max.map(|n| i64::from(n.max(1))))
        .bind(crate::codec::now_millis())
        .execute(&self.inner.pool)
        .await
        .map_err(|e| sql("setting the queue's cap", e))?;
        self.notify();
        Ok(())
    }

    async fn max_running(&self) -> Result<Option<u32>, BackendError> {
        let max: Option<Option<i64>> =
            sqlx::query_scalar("SELECT max_running FROM drover_queue_settings WHERE queue = ?1")
                .bind(self.inner.queue.clone())
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(|e| sql("reading the queue's cap", e))?;
        Ok(max.flatten().and_then(|n| u32::try_from(n).ok()))
    }
}

impl<T, C> drover_core::GlobalRate for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_rate(&self, rate: Option<drover_core::Rate>) -> Result<(), BackendError> {
        sqlx::query(
            "INSERT INTO drover_queue_settings (queue, rate_starts, rate_per_ms, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (queue) DO UPDATE SET rate_starts = excluded.rate_starts, rate_per_ms = excluded.rate_per_ms, \
             rate_tat = 0, updated_at = excluded.updated_at",
        )
        .bind(self.inner.queue.clone())
        .bind(rate.map(|r| i64::from(r.starts.max(1))))
        .bind(rate.map(|r| i64::try_from(r.per.as_millis()).unwrap_or(i64::MAX).max(1)))
        .bind(crate::codec::now_millis())
        .execute(&self.inner.pool)
        .await
        .map_err(|e| sql("setting the queue's rate", e))?;
        self.notify();
        Ok(())
    }

    async fn rate(&self) -> Result<Option<drover_core::Rate>, BackendError> {
        let row: Option<(Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT rate_starts, rate_per_ms FROM drover_queue_settings WHERE queue = ?1")
                .bind(self.inner.queue.clone())
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(|e| sql("reading the queue's rate", e))?;
        Ok(row.and_then(|(n, per)| drover_core::Rate::from_stored(n, per)))
    }
}

impl<T, C> drover_core::KeyConcurrency for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running_per_key(&self, k: Option<u32>) -> Result<(), BackendError> {
        sqlx::query(
            "INSERT INTO drover_queue_settings (queue, max_per_key, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (queue) DO UPDATE SET max_per_key = excluded.max_per_key, updated_at = excluded.updated_at",
        )
        .bind(self.inner.queue.clone())
        .bind(k.map(|n| i64::from(n.max(1))))
        .bind(crate::codec::now_millis())
        .execute(&self.inner.pool)
        .await
        .map_err(|e| sql("setting the queue's per-key limit", e))?;
        self.notify();
        Ok(())
    }

    async fn max_running_per_key(&self) -> Result<Option<u32>, BackendError> {
        let k: Option<Option<i64>> =
            sqlx::query_scalar("SELECT max_per_key FROM drover_queue_settings WHERE queue = ?1")
                .bind(self.inner.queue.clone())
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(|e| sql("reading the queue's per-key limit", e))?;
        Ok(k.flatten().and_then(|n| u32::try_from(n).ok()))
    }
}
