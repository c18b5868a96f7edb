//! Recurring schedules' ticks (`PushTicks`): a row per schedule in `drover_cron_ticks`,
//! compared and advanced under its row lock in the transaction that inserts the tick's task.

use chrono::{DateTime, Utc};
use drover_core::{BackendError, Codec, Overlap, PushTicks, TickPush, TickPushed, TickRecord};
use sqlx::MySqlPool;

use crate::columns::{id_bytes, task_id};
use crate::enqueue::insert;
use crate::error::{backend_error, retry_on_lock_conflict, Attempt};
use crate::storage::MysqlStorage;

/// The row a schedule's pushes lock, created once (its `last_tick` far before any tick).
const ENSURE_SQL: &str = "INSERT IGNORE INTO drover_cron_ticks (queue, schedule, last_tick, last_task, updated_at) \
     VALUES (?, ?, '1000-01-01 00:00:00', NULL, UTC_TIMESTAMP(6))";
const LOCK_SQL: &str = "SELECT c.last_tick, c.last_task, CAST(t.status AS CHAR) FROM drover_cron_ticks c \
     LEFT JOIN drover_tasks t ON t.id = c.last_task WHERE c.queue = ? AND c.schedule = ? FOR UPDATE";
const ADVANCE_SQL: &str = "UPDATE drover_cron_ticks SET last_tick = ?, last_task = COALESCE(?, last_task), \
     updated_at = UTC_TIMESTAMP(6) WHERE queue = ? AND schedule = ?";
const RECORDS_SQL: &str = "SELECT schedule, last_tick, last_task FROM drover_cron_ticks \
     WHERE queue = ? AND (? IS NULL OR schedule = ?) AND last_tick > '1000-01-01 00:00:00' ORDER BY schedule";

type Row = (String, DateTime<Utc>, Option<Vec<u8>>);

fn record((schedule, last_tick, last_task): Row) -> Result<TickRecord, BackendError> {
    let last_task =
        last_task.as_deref().map(task_id).transpose().map_err(|e| backend_error("read a schedule's last tick", e))?;
    Ok(TickRecord::new(schedule, last_tick, last_task))
}

/// One try of a tick's push, as a whole transaction (retried on deadlocks).
fn push_once<'a>(pool: &'a MySqlPool, queue: &'a str, push: &'a TickPush) -> Attempt<'a, TickPushed> {
    Box::pin(async move {
        let mut tx = pool.begin().await?;
        let (last_tick, last_task, status): (DateTime<Utc>, Option<Vec<u8>>, Option<String>) =
            sqlx::query_as(LOCK_SQL).bind(queue).bind(&push.schedule).fetch_one(&mut *tx).await?;
        if last_tick >= push.tick {
            return Ok(TickPushed::Taken);
        }
        let unfinished = matches!(status.as_deref(), Some("pending" | "running"));
        let pushed = match last_task {
            Some(previous) if unfinished && push.overlap == Overlap::Skip => {
                TickPushed::Overlapped(task_id(&previous)?)
            }
            _ => {
                let ids = insert(&mut tx, queue, std::slice::from_ref(&push.task), 1).await?;
                TickPushed::Pushed(ids.first().copied().unwrap_or(push.task.id))
            }
        };
        let new_task = match pushed {
            TickPushed::Pushed(id) => Some(id_bytes(id)),
            _ => None,
        };
        sqlx::query(ADVANCE_SQL)
            .bind(push.tick)
            .bind(new_task)
            .bind(queue)
            .bind(&push.schedule)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(pushed)
    })
}

impl<T, C> PushTicks for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn push_tick(&self, push: TickPush) -> Result<TickPushed, BackendError> {
        const OP: &str = "push a schedule's tick";
        self.check()?;
        let queue = self.queue_name();
        sqlx::query(ENSURE_SQL)
            .bind(queue)
            .bind(&push.schedule)
            .execute(self.pool())
            .await
            .map_err(|e| backend_error(OP, e))?;
        let pushed = retry_on_lock_conflict(OP, || push_once(self.pool(), queue, &push)).await?;
        if matches!(pushed, TickPushed::Pushed(_)) {
            self.shared.wakeup.notify();
        }
        Ok(pushed)
    }

    async fn tick_record(&self, schedule: &str) -> Result<Option<TickRecord>, BackendError> {
        let row: Option<Row> = sqlx::query_as(RECORDS_SQL)
            .bind(self.queue_name())
            .bind(schedule)
            .bind(schedule)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| backend_error("read a schedule's last tick", e))?;
        row.map(record).transpose()
    }

    async fn tick_records(&self) -> Result<Vec<TickRecord>, BackendError> {
        let rows: Vec<Row> = sqlx::query_as(RECORDS_SQL)
            .bind(self.queue_name())
            .bind(None::<String>)
            .bind(None::<String>)
            .fetch_all(self.pool())
            .await
            .map_err(|e| backend_error("list the schedules' last ticks", e))?;
        rows.into_iter().map(record).collect()
    }
}
