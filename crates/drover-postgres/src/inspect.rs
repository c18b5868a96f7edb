//! Inspection for the board and CLI (counts, pages, one task, queues, workers), cancel and
//! requeue. Every query is served by an index; see `sql/*.sql`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use drover_core::{
    AttemptRecord, BackendError, Cancel, Codec, Inspect, ListQuery, NewTask, PushOptions, QueueStats, Requeue, Status,
    TaskId, TaskInfo,
};
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

use crate::backend::{count, task_id, uuid_of};
use crate::db::run;
use crate::error::{db_error, is_unique_violation};
use crate::storage::PostgresStorage;

/// The due time of the task a claim takes next, read off the claim index.
const OLDEST_DUE_SQL: &str = "SELECT run_at FROM drover.tasks WHERE queue = $1 AND status = 'pending' \
     AND run_at <= now() ORDER BY priority DESC, run_at LIMIT 1";
const STATS_SQL: &str = include_str!("../sql/stats.sql");
const LIST_STATUS_SQL: &str = include_str!("../sql/list_status.sql");
const LIST_ALL_SQL: &str = include_str!("../sql/list_all.sql");
const GET_SQL: &str = include_str!("../sql/get.sql");
const CANCEL_SQL: &str = include_str!("../sql/cancel.sql");
const REQUEUE_SQL: &str = include_str!("../sql/requeue.sql");
const QUEUES_SQL: &str = include_str!("../sql/queues.sql");
const WORKERS_SQL: &str = include_str!("../sql/workers.sql");

/// A worker holding claims on a queue, as [`PostgresStorage::workers`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// The worker's name.
    pub name: String,
    /// Tasks it is running now.
    pub running: u64,
    /// When it last claimed a task.
    pub last_claim: DateTime<Utc>,
    /// The latest lease deadline it holds.
    pub lease_until: Option<DateTime<Utc>>,
}

/// A row of `sql/workers.sql`: name, running tasks, last claim, latest lease deadline.
type WorkerRow = (Option<String>, i64, DateTime<Utc>, Option<DateTime<Utc>>);

fn decode(op: &'static str, row: &PgRow) -> Result<TaskInfo, BackendError> {
    let get = |e: sqlx::Error| db_error(op, e);
    let status: String = row.try_get("status").map_err(get)?;
    let status = Status::from_str(&status).map_err(|e| BackendError::server(op, e))?;
    let payload: Vec<u8> = row.try_get("payload").map_err(get)?;
    let mut new = NewTask::new(payload, PushOptions::new());
    new.id = task_id(row.try_get::<Uuid, _>("id").map_err(get)?);
    let queue: String = row.try_get("queue").map_err(get)?;
    let created_at: DateTime<Utc> = row.try_get("created_at").map_err(get)?;
    let mut info = TaskInfo::from_new(&queue, &new, created_at);
    info.status = status;
    info.attempt = count(row.try_get("attempt").map_err(get)?);
    info.max_attempts = count(row.try_get("max_attempts").map_err(get)?);
    info.run_at = row.try_get("run_at").map_err(get)?;
    info.priority = row.try_get("priority").map_err(get)?;
    info.unique_key = row.try_get("unique_key").map_err(get)?;
    info.concurrency_key = row.try_get("concurrency_key").map_err(get)?;
    info.last_error = row.try_get("last_error").map_err(get)?;
    info.updated_at = row.try_get("updated_at").map_err(get)?;
    info.lease_expires_at = row.try_get("lease_expires_at").map_err(get)?;
    info.started_at = row.try_get("started_at").map_err(get)?;
    Ok(info)
}

/// A task with its attempt history (`sql/get.sql`; pages leave the history out).
fn decode_detail(op: &'static str, row: &PgRow) -> Result<TaskInfo, BackendError> {
    let mut info = decode(op, row)?;
    let attempts: Option<String> = row.try_get("attempts").map_err(|e| db_error(op, e))?;
    if let Some(attempts) = attempts {
        info.attempts = AttemptRecord::decode_history(attempts.as_bytes())?;
    }
    Ok(info)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<T, C> Inspect for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn stats(&self) -> Result<QueueStats, BackendError> {
        let rows: Vec<(String, i64)> =
            run!(&self.inner.db, fetch_all, sqlx::query_as(STATS_SQL).bind(self.queue_name()))
                .map_err(|e| db_error("stats", e))?;
        let mut stats = QueueStats::default();
        for (status, n) in rows {
            stats.record(&status, n);
        }
        stats.oldest_due_at =
            run!(&self.inner.db, fetch_optional, sqlx::query_scalar(OLDEST_DUE_SQL).bind(self.queue_name()))
                .map_err(|e| db_error("stats (oldest due task)", e))?;
        Ok(stats)
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<TaskInfo>, BackendError> {
        let rows = match query.status {
            Some(status) => {
                run!(
                    &self.inner.db,
                    fetch_all,
                    sqlx::query(LIST_STATUS_SQL)
                        .bind(self.queue_name())
                        .bind(status.as_str())
                        .bind(to_i64(query.limit))
                        .bind(to_i64(query.offset))
                )
            }
            None => {
                run!(
                    &self.inner.db,
                    fetch_all,
                    sqlx::query(LIST_ALL_SQL)
                        .bind(self.queue_name())
                        .bind(to_i64(query.limit))
                        .bind(to_i64(query.offset.saturating_add(query.limit)))
                        .bind(to_i64(query.offset))
                )
            }
        }
        .map_err(|e| db_error("list", e))?;
        rows.iter().map(|row| decode("list", row)).collect()
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskInfo>, BackendError> {
        let row = run!(&self.inner.db, fetch_optional, sqlx::query(GET_SQL).bind(uuid_of(id)).bind(self.queue_name()))
            .map_err(|e| db_error("get", e))?;
        row.as_ref().map(|row| decode_detail("get", row)).transpose()
    }
}

impl<T, C> Cancel for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn cancel(&self, id: TaskId) -> Result<bool, BackendError> {
        let done = run!(&self.inner.db, execute, sqlx::query(CANCEL_SQL).bind(uuid_of(id)).bind(self.queue_name()))
            .map_err(|e| db_error("cancel", e))?;
        Ok(done.rows_affected() > 0)
    }
}

impl<T, C> Requeue for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn requeue(&self, id: TaskId) -> Result<bool, BackendError> {
        let result: Result<(i64, Option<String>), _> =
            run!(&self.inner.db, fetch_one, sqlx::query_as(REQUEUE_SQL).bind(uuid_of(id)).bind(self.queue_name()));
        match result {
            Ok((n, _)) => {
                if n > 0 {
                    self.inner.hub.notify_local(self.queue_name());
                }
                Ok(n > 0)
            }
            // Another task took the unique key between the check and the update.
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(db_error("requeue", e)),
        }
    }
}

impl<T, C> PostgresStorage<T, C> {
    /// Every queue with tasks in the database (one index probe per queue).
    pub async fn queues(&self) -> Result<Vec<String>, BackendError> {
        let rows: Vec<(String,)> =
            run!(&self.inner.db, fetch_all, sqlx::query_as(QUEUES_SQL)).map_err(|e| db_error("list queues", e))?;
        Ok(rows.into_iter().map(|(q,)| q).collect())
    }

    /// The workers holding claims on this queue now, with how many tasks each runs.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>, BackendError> {
        let rows: Vec<WorkerRow> = run!(&self.inner.db, fetch_all, sqlx::query_as(WORKERS_SQL).bind(self.queue_name()))
            .map_err(|e| db_error("list workers", e))?;
        Ok(rows
            .into_iter()
            .map(|(name, running, last_claim, lease_until)| WorkerInfo {
                name: name.unwrap_or_default(),
                running: u64::try_from(running).unwrap_or(0),
                last_claim,
                lease_until,
            })
            .collect())
    }
}

impl<T, C> drover_core::Pause for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_paused(&self, paused: bool) -> Result<(), BackendError> {
        run!(
            &self.inner.db,
            execute,
            sqlx::query(
                "INSERT INTO drover.queue_settings (queue, paused) VALUES ($1, $2) \
             ON CONFLICT (queue) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()",
            )
            .bind(self.queue_name())
            .bind(paused)
        )
        .map_err(|e| db_error("pause or resume the queue", e))?;
        if !paused {
            // Idle workers of other processes hear the NOTIFY, ours the local hub.
            run!(
                &self.inner.db,
                execute,
                sqlx::query("SELECT pg_notify('drover_tasks', $1)::text").bind(self.queue_name())
            )
            .map_err(|e| db_error("resume the queue (notify)", e))?;
            self.inner.hub.notify_local(self.queue_name());
        }
        Ok(())
    }

    async fn is_paused(&self) -> Result<bool, BackendError> {
        let paused: Option<bool> = run!(
            &self.inner.db,
            fetch_optional,
            sqlx::query_scalar("SELECT paused FROM drover.queue_settings WHERE queue = $1").bind(self.queue_name())
        )
        .map_err(|e| db_error("read whether the queue is paused", e))?;
        Ok(paused.unwrap_or(false))
    }
}

impl<T, C> drover_core::GlobalConcurrency for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running(&self, max: Option<u32>) -> Result<(), BackendError> {
        let max = max.map(|n| i32::try_from(n.max(1)).unwrap_or(i32::MAX));
        run!(
            &self.inner.db,
            execute,
            sqlx::query(
                "INSERT INTO drover.queue_settings (queue, max_running) VALUES ($1, $2) \
             ON CONFLICT (queue) DO UPDATE SET max_running = EXCLUDED.max_running, updated_at = now()",
            )
            .bind(self.queue_name())
            .bind(max)
        )
        .map_err(|e| db_error("set the queue's cap", e))?;
        // Claims notice the cap on their own; wake idle workers so a raised cap is used at once.
        run!(
            &self.inner.db,
            execute,
            sqlx::query("SELECT pg_notify('drover_tasks', $1)::text").bind(self.queue_name())
        )
        .map_err(|e| db_error("set the queue's cap (notify)", e))?;
        self.inner.hub.notify_local(self.queue_name());
        Ok(())
    }

    async fn max_running(&self) -> Result<Option<u32>, BackendError> {
        let max: Option<Option<i32>> = run!(
            &self.inner.db,
            fetch_optional,
            sqlx::query_scalar("SELECT max_running FROM drover.queue_settings WHERE queue = $1")
                .bind(self.queue_name())
        )
        .map_err(|e| db_error("read the queue's cap", e))?;
        Ok(max.flatten().and_then(|n| u32::try_from(n).ok()))
    }
}

impl<T, C> drover_core::GlobalRate for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_rate(&self, rate: Option<drover_core::Rate>) -> Result<(), BackendError> {
        let starts = rate.map(|r| i32::try_from(r.starts.max(1)).unwrap_or(i32::MAX));
        let per_ms = rate.map(|r| i64::try_from(r.per.as_millis()).unwrap_or(i64::MAX).max(1));
        run!(
            &self.inner.db,
            execute,
            sqlx::query(
                "INSERT INTO drover.queue_settings (queue, rate_starts, rate_per_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (queue) DO UPDATE SET rate_starts = EXCLUDED.rate_starts, \
             rate_per_ms = EXCLUDED.rate_per_ms, rate_tat = 0, updated_at = now()",
            )
            .bind(self.queue_name())
            .bind(starts)
            .bind(per_ms)
        )
        .map_err(|e| db_error("set the queue's rate", e))?;
        self.inner.hub.notify_local(self.queue_name());
        Ok(())
    }

    async fn rate(&self) -> Result<Option<drover_core::Rate>, BackendError> {
        let row: Option<(Option<i32>, Option<i64>)> = run!(
            &self.inner.db,
            fetch_optional,
            sqlx::query_as("SELECT rate_starts, rate_per_ms FROM drover.queue_settings WHERE queue = $1")
                .bind(self.queue_name())
        )
        .map_err(|e| db_error("read the queue's rate", e))?;
        Ok(row.and_then(|(n, per)| drover_core::Rate::from_stored(n.map(i64::from), per)))
    }
}

impl<T, C> drover_core::KeyConcurrency for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running_per_key(&self, k: Option<u32>) -> Result<(), BackendError> {
        let k = k.map(|n| i32::try_from(n.max(1)).unwrap_or(i32::MAX));
        run!(
            &self.inner.db,
            execute,
            sqlx::query(
                "INSERT INTO drover.queue_settings (queue, max_per_key) VALUES ($1, $2) \
             ON CONFLICT (queue) DO UPDATE SET max_per_key = EXCLUDED.max_per_key, updated_at = now()",
            )
            .bind(self.queue_name())
            .bind(k)
        )
        .map_err(|e| db_error("set the queue's per-key limit", e))?;
        // A raised or removed limit frees tasks at once: wake idle workers everywhere.
        run!(
            &self.inner.db,
            execute,
            sqlx::query("SELECT pg_notify('drover_tasks', $1)::text").bind(self.queue_name())
        )
        .map_err(|e| db_error("set the queue's per-key limit (notify)", e))?;
        self.inner.hub.notify_local(self.queue_name());
        Ok(())
    }

    async fn max_running_per_key(&self) -> Result<Option<u32>, BackendError> {
        let k: Option<Option<i32>> = run!(
            &self.inner.db,
            fetch_optional,
            sqlx::query_scalar("SELECT max_per_key FROM drover.queue_settings WHERE queue = $1")
                .bind(self.queue_name())
        )
        .map_err(|e| db_error("read the queue's per-key limit", e))?;
        Ok(k.flatten().and_then(|n| u32::try_from(n).ok()))
    }
}
