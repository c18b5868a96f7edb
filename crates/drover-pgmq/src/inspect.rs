//! Inspection (counts, pages, one task, pgmq's metrics), cancel, requeue and pruning.

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_core::span::micros;
use drover_core::{
    BackendError, Cancel, Codec, Inspect, ListQuery, Prune, QueueStats, Requeue, Status, TaskId, TaskInfo,
};
use sqlx::AssertSqlSafe;

use crate::envelope::Headers;
use crate::error::db_error;
use crate::storage::{msg_id, task_id, PgmqStorage};

/// id, status, attempt, vt, enqueued_at, updated_at, body, headers.
type TaskRow = (i64, String, i32, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, String, Option<String>);

const COLUMNS: &str = "SELECT id, status, attempt, vt, enqueued_at, updated_at, body, headers FROM tasks";

/// What `pgmq.metrics(queue)` reports, for dashboards.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgmqMetrics {
    /// Messages in the queue (pending and running).
    pub queue_length: i64,
    /// Messages visible now (claimable).
    pub queue_visible_length: i64,
    /// Age of the newest message, in seconds.
    pub newest_msg_age_sec: Option<i32>,
    /// Age of the oldest message, in seconds: how far behind the workers are.
    pub oldest_msg_age_sec: Option<i32>,
    /// Messages ever sent to the queue.
    pub total_messages: i64,
    /// When pgmq took the figures.
    pub scrape_time: DateTime<Utc>,
}

fn info(queue: &str, row: TaskRow) -> Result<TaskInfo, BackendError> {
    let (id, status, attempt, vt, enqueued_at, updated_at, body, headers) = row;
    let status: Status = status.parse().map_err(|e| BackendError::Corrupt(format!("{e}")))?;
    let headers = Headers::parse(headers.as_deref());
    let mut info = TaskInfo::from_new(
        queue,
        &drover_core::NewTask::new(headers.payload(body), drover_core::PushOptions::new()),
        enqueued_at,
    );
    info.id = task_id(id);
    info.status = status;
    info.attempt = u32::try_from(attempt).unwrap_or(0);
    info.max_attempts = headers.max_attempts();
    info.run_at = vt;
    info.last_error = headers.error();
    info.created_at = headers.enqueued_at().unwrap_or(enqueued_at);
    info.updated_at = updated_at;
    info.lease_expires_at = (status == Status::Running).then_some(vt);
    Ok(info)
}

impl<T, C> PgmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// pgmq's own figures for the queue (`pgmq.metrics`): lengths and the oldest message's
    /// age, which `QueueStats` has no field for.
    pub async fn metrics(&self) -> Result<PgmqMetrics, BackendError> {
        let queue = &self.tables()?.queue;
        let row: (i64, i64, Option<i32>, Option<i32>, i64, DateTime<Utc>) = sqlx::query_as(
            "SELECT queue_length, queue_visible_length, newest_msg_age_sec, oldest_msg_age_sec, total_messages, \
             scrape_time FROM pgmq.metrics($1)",
        )
        .bind(queue)
        .fetch_one(&self.inner.pool)
        .await
        .map_err(|e| db_error("metrics (pgmq.metrics)", queue, e))?;
        Ok(PgmqMetrics {
            queue_length: row.0,
            queue_visible_length: row.1,
            newest_msg_age_sec: row.2,
            oldest_msg_age_sec: row.3,
            total_messages: row.4,
            scrape_time: row.5,
        })
    }

    async fn tasks(
        &self,
        operation: &'static str,
        tail: &str,
        query: TasksQuery,
    ) -> Result<Vec<TaskInfo>, BackendError> {
        let statements = self.statements()?;
        let sql = format!("{}{COLUMNS} {tail}", statements.tasks);
        let q = sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql));
        let q = match query {
            TasksQuery::Page { status, offset, limit } => q.bind(status).bind(offset).bind(limit),
            TasksQuery::One(id) => q.bind(id),
        };
        let rows = q.fetch_all(&self.inner.pool).await.map_err(|e| db_error(operation, self.queue_name(), e))?;
        rows.into_iter().map(|row| info(self.queue_name(), row)).collect()
    }

    async fn requeue_from(&self, statement: &std::sync::Arc<str>, id: i64) -> Result<bool, BackendError> {
        let moved: Option<i64> = sqlx::query_scalar(AssertSqlSafe(statement.clone()))
            .bind(id)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| db_error("requeue", self.queue_name(), e))?;
        Ok(moved.is_some())
    }
}

enum TasksQuery {
    Page { status: Option<&'static str>, offset: i64, limit: i64 },
    One(i64),
}

impl<T, C> Inspect for PgmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn stats(&self) -> Result<QueueStats, BackendError> {
        let statements = self.statements()?;
        let sql = format!(
            "{}SELECT status, count(*), count(*) FILTER (WHERE later AND status = 'pending'), \
             min(vt) FILTER (WHERE NOT later AND status = 'pending') FROM tasks GROUP BY status",
            statements.tasks
        );
        let rows: Vec<(String, i64, i64, Option<DateTime<Utc>>)> = sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| db_error("stats", self.queue_name(), e))?;
        let mut stats = QueueStats::default();
        for (status, n, later, oldest_due) in rows {
            stats.record(&status, n);
            if status == "pending" {
                stats.record("scheduled", later);
                // With no priorities, the oldest due message is the head of the queue.
                stats.oldest_due_at = oldest_due;
            }
        }
        Ok(stats)
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<TaskInfo>, BackendError> {
        let page = TasksQuery::Page {
            status: query.status.map(Status::as_str),
            offset: i64::try_from(query.offset).unwrap_or(i64::MAX),
            limit: i64::try_from(query.limit).unwrap_or(i64::MAX),
        };
        self.tasks("list", "WHERE ($1::text IS NULL OR status = $1) ORDER BY id DESC OFFSET $2 LIMIT $3", page).await
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskInfo>, BackendError> {
        let Some(id) = msg_id(id) else { return Ok(None) };
        Ok(self.tasks("get", "WHERE id = $1 LIMIT 1", TasksQuery::One(id)).await?.into_iter().next())
    }
}

impl<T, C> Cancel for PgmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn cancel(&self, id: TaskId) -> Result<bool, BackendError> {
        let statements = self.statements()?;
        let Some(id) = msg_id(id) else { return Ok(false) };
        let moved: Option<i64> = sqlx::query_scalar(AssertSqlSafe(statements.cancel.clone()))
            .bind(id)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| db_error("cancel", self.queue_name(), e))?;
        Ok(moved.is_some())
    }
}

impl<T, C> Requeue for PgmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn requeue(&self, id: TaskId) -> Result<bool, BackendError> {
        let statements = self.statements()?;
        let Some(id) = msg_id(id) else { return Ok(false) };
        let moved = self.requeue_from(&statements.requeue_dead, id).await?
            || self.requeue_from(&statements.requeue_cancelled, id).await?;
        if moved {
            self.inner.wakeup.notify();
        }
        Ok(moved)
    }
}

impl<T, C> Prune for PgmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn delete_finished(&self, status: Status, older_than: Duration, limit: usize) -> Result<u64, BackendError> {
        let statements = self.statements()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let query = match status {
            Status::Dead => {
                sqlx::query(AssertSqlSafe(statements.prune_dead.clone())).bind(micros(older_than)).bind(limit)
            }
            _ => sqlx::query(AssertSqlSafe(statements.prune_archive.clone()))
                .bind(micros(older_than))
                .bind(status == Status::Done)
                .bind(limit),
        };
        let done = query.execute(&self.inner.pool).await.map_err(|e| db_error("prune", self.queue_name(), e))?;
        Ok(done.rows_affected())
    }
}
