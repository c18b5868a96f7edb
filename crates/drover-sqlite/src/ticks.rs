//! Recurring schedules' ticks (`PushTicks`): a row per schedule in `drover_cron_ticks`,
//! compared and advanced in the immediate transaction that inserts the tick's task (SQLite has
//! one writer at a time, so the comparison and the insert cannot interleave with another's).

use drover_core::{BackendError, Codec, Overlap, PushTicks, TickPush, TickPushed, TickRecord};

use crate::codec::{id_bytes, id_from, millis, now_millis};
use crate::enqueue::insert;
use crate::error::sql;
use crate::storage::SqliteStorage;

const LAST_SQL: &str = "SELECT c.last_tick, c.last_task, t.status FROM drover_cron_ticks c \
     LEFT JOIN drover_tasks t ON t.id = c.last_task WHERE c.queue = ?1 AND c.schedule = ?2";
const ADVANCE_SQL: &str = "INSERT INTO drover_cron_ticks (queue, schedule, last_tick, last_task, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (queue, schedule) DO UPDATE SET last_tick = excluded.last_tick, \
     last_task = COALESCE(excluded.last_task, last_task), updated_at = excluded.updated_at";
const RECORDS_SQL: &str = "SELECT schedule, last_tick, last_task FROM drover_cron_ticks \
     WHERE queue = ?1 AND (?2 IS NULL OR schedule = ?2) ORDER BY schedule";

type Row = (String, i64, Option<Vec<u8>>);

fn record((schedule, last_tick, last_task): Row) -> Result<TickRecord, BackendError> {
    let last_tick = chrono::DateTime::from_timestamp_millis(last_tick).ok_or_else(|| {
        BackendError::Corrupt(format!("schedule `{schedule}` has last tick {last_tick} ms, out of range"))
    })?;
    let last_task = last_task.as_deref().map(id_from).transpose()?;
    Ok(TickRecord::new(schedule, last_tick, last_task))
}

impl<T, C> PushTicks for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn push_tick(&self, push: TickPush) -> Result<TickPushed, BackendError> {
        const OP: &str = "pushing a schedule's tick";
        let queue = self.inner.queue.as_str();
        let tick = millis(push.tick);
        let mut tx = self.inner.pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| sql(OP, e))?;
        let last: Option<(i64, Option<Vec<u8>>, Option<String>)> = sqlx::query_as(LAST_SQL)
            .bind(queue)
            .bind(&push.schedule)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| sql(OP, e))?;
        let mut task = None;
        match last {
            Some((last_tick, _, _)) if last_tick >= tick => return Ok(TickPushed::Taken),
            Some((_, Some(previous), Some(status)))
                if push.overlap == Overlap::Skip && matches!(status.as_str(), "pending" | "running") =>
            {
                task = Some(id_from(&previous)?);
            }
            _ => {}
        }
        let pushed = match task {
            Some(previous) => TickPushed::Overlapped(previous),
            None => {
                let ids = insert(&mut tx, queue, std::slice::from_ref(&push.task)).await?;
                TickPushed::Pushed(ids.first().copied().unwrap_or(push.task.id))
            }
        };
        let new_task = match pushed {
            TickPushed::Pushed(id) => Some(id_bytes(id).to_vec()),
            _ => None,
        };
        sqlx::query(ADVANCE_SQL)
            .bind(queue)
            .bind(&push.schedule)
            .bind(tick)
            .bind(new_task)
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| sql(OP, e))?;
        tx.commit().await.map_err(|e| sql(OP, e))?;
        if matches!(pushed, TickPushed::Pushed(_)) {
            self.notify();
        }
        Ok(pushed)
    }

    async fn tick_record(&self, schedule: &str) -> Result<Option<TickRecord>, BackendError> {
        let row: Option<Row> = sqlx::query_as(RECORDS_SQL)
            .bind(self.inner.queue.as_str())
            .bind(schedule)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| sql("reading a schedule's last tick", e))?;
        row.map(record).transpose()
    }

    async fn tick_records(&self) -> Result<Vec<TickRecord>, BackendError> {
        let rows: Vec<Row> = sqlx::query_as(RECORDS_SQL)
            .bind(self.inner.queue.as_str())
            .bind(None::<String>)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| sql("listing the schedules' last ticks", e))?;
        rows.into_iter().map(record).collect()
    }
}
