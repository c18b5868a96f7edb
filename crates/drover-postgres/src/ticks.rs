//! Recurring schedules' ticks (`PushTicks`): a row per schedule in `drover.cron_ticks`,
//! compared and advanced under its row lock in the transaction that inserts the tick's task.

use chrono::{DateTime, Utc};
use drover_core::{BackendError, Codec, Overlap, PushTicks, TickPush, TickPushed, TickRecord};
use uuid::Uuid;

use crate::backend::{task_id, uuid_of};
use crate::db::run;
use crate::error::db_error;
use crate::storage::PostgresStorage;

/// A schedule's first tick: the row is new, so nothing was pushed for it before. A concurrent
/// first push waits for this transaction and then finds the row.
const FIRST_SQL: &str = "INSERT INTO drover.cron_ticks (queue, schedule, last_tick) VALUES ($1, $2, $3) \
     ON CONFLICT (queue, schedule) DO NOTHING RETURNING true";
/// The schedule's row, locked, with the status of its last task.
const LOCK_SQL: &str = "SELECT c.last_tick, c.last_task, t.status FROM drover.cron_ticks c \
     LEFT JOIN drover.tasks t ON t.id = c.last_task \
     WHERE c.queue = $1 AND c.schedule = $2 FOR UPDATE OF c";
const ADVANCE_SQL: &str = "UPDATE drover.cron_ticks SET last_tick = $3, last_task = COALESCE($4, last_task), \
     updated_at = now() WHERE queue = $1 AND schedule = $2";
const RECORD_SQL: &str = "SELECT schedule, last_tick, last_task FROM drover.cron_ticks \
     WHERE queue = $1 AND ($2::text IS NULL OR schedule = $2) ORDER BY schedule";

type Row = (String, DateTime<Utc>, Option<Uuid>);

fn record((schedule, last_tick, last_task): Row) -> TickRecord {
    TickRecord::new(schedule, last_tick, last_task.map(task_id))
}

impl<T, C> PushTicks for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn push_tick(&self, push: TickPush) -> Result<TickPushed, BackendError> {
        const OP: &str = "push a schedule's tick";
        let queue = self.queue_name();
        let persistent = self.inner.db.persistent();
        let mut tx = self.inner.db.pool.begin().await.map_err(|e| db_error(OP, e))?;
        let first: Option<bool> = sqlx::query_scalar(FIRST_SQL)
            .bind(queue)
            .bind(&push.schedule)
            .bind(push.tick)
            .persistent(persistent)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_error(OP, e))?;
        if first.is_none() {
            let (last_tick, last_task, status): (DateTime<Utc>, Option<Uuid>, Option<String>) =
                sqlx::query_as(LOCK_SQL)
                    .bind(queue)
                    .bind(&push.schedule)
                    .persistent(persistent)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| db_error(OP, e))?;
            if last_tick >= push.tick {
                return Ok(TickPushed::Taken);
            }
            let unfinished = matches!(status.as_deref(), Some("pending" | "running"));
            if let (Overlap::Skip, true, Some(previous)) = (push.overlap, unfinished, last_task) {
                advance(&mut tx, persistent, queue, &push, None).await?;
                tx.commit().await.map_err(|e| db_error(OP, e))?;
                return Ok(TickPushed::Overlapped(task_id(previous)));
            }
        }
        let ids = self.enqueue_in(&mut tx, vec![push.task.clone()]).await?;
        let id =
            ids.first().copied().ok_or_else(|| BackendError::Corrupt("a tick's push returned no task id".into()))?;
        advance(&mut tx, persistent, queue, &push, Some(uuid_of(id))).await?;
        tx.commit().await.map_err(|e| db_error(OP, e))?;
        self.inner.hub.notify_local(queue);
        Ok(TickPushed::Pushed(id))
    }

    async fn tick_record(&self, schedule: &str) -> Result<Option<TickRecord>, BackendError> {
        let row: Option<Row> =
            run!(&self.inner.db, fetch_optional, sqlx::query_as(RECORD_SQL).bind(self.queue_name()).bind(schedule))
                .map_err(|e| db_error("read a schedule's last tick", e))?;
        Ok(row.map(record))
    }

    async fn tick_records(&self) -> Result<Vec<TickRecord>, BackendError> {
        let rows: Vec<Row> =
            run!(&self.inner.db, fetch_all, sqlx::query_as(RECORD_SQL).bind(self.queue_name()).bind(None::<String>))
                .map_err(|e| db_error("list the schedules' last ticks", e))?;
        Ok(rows.into_iter().map(record).collect())
    }
}

/// Make `push.tick` the schedule's last tick (and `task` its task, when one was pushed).
async fn advance(
    tx: &mut sqlx::PgConnection,
    persistent: bool,
    queue: &str,
    push: &TickPush,
    task: Option<Uuid>,
) -> Result<(), BackendError> {
    sqlx::query(ADVANCE_SQL)
        .bind(queue)
        .bind(&push.schedule)
        .bind(push.tick)
        .bind(task)
        .persistent(persistent)
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error("push a schedule's tick", e))?;
    Ok(())
}
