//! Worker self-registration in `drover_workers` (migration 7): see
//! [`drover_core::WorkerRegistry`].

use std::time::Duration;

use drover_core::{BackendError, WorkerRecord, WorkerRegistry};
use futures_util::future::BoxFuture;
use sqlx::SqlitePool;

use crate::codec::{now_millis, time_from};
use crate::error::sql;

/// Register or refresh: the first start stays.
const BEAT: &str =
    "INSERT INTO drover_workers (id, name, host, pid, queues, concurrency, running, started_at, last_seen) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) \
     ON CONFLICT (id) DO UPDATE SET running = excluded.running, concurrency = excluded.concurrency, \
     queues = excluded.queues, last_seen = excluded.last_seen";
const LEAVE: &str = "DELETE FROM drover_workers WHERE id = ?1";
const AGE_OUT: &str = "DELETE FROM drover_workers WHERE last_seen < ?1";
const LIST: &str = "SELECT id, name, host, pid, queues, concurrency, running, started_at, last_seen \
     FROM drover_workers WHERE last_seen >= ?1 ORDER BY started_at, id";

type Row = (String, String, String, i64, String, i64, i64, i64, i64);

/// The workers of a SQLite database: what `SqliteStorage` and `SqliteAdmin` hand out.
#[derive(Clone, Debug)]
pub(crate) struct SqliteRegistry {
    pool: SqlitePool,
}

impl SqliteRegistry {
    pub(crate) fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

fn small(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl WorkerRegistry for SqliteRegistry {
    fn beat<'a>(&'a self, worker: &'a WorkerRecord) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            sqlx::query(BEAT)
                .bind(&worker.id)
                .bind(&worker.name)
                .bind(&worker.host)
                .bind(i64::from(worker.pid))
                .bind(worker.queues_json())
                .bind(i64::from(worker.concurrency))
                .bind(i64::from(worker.running))
                .bind(now_millis())
                .execute(&self.pool)
                .await
                .map_err(|e| sql("registering a worker", e))?;
            Ok(())
        })
    }

    fn leave<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            sqlx::query(LEAVE).bind(id).execute(&self.pool).await.map_err(|e| sql("deregistering a worker", e))?;
            Ok(())
        })
    }

    fn workers(&self, age_out: Duration) -> BoxFuture<'_, Result<Vec<WorkerRecord>, BackendError>> {
        Box::pin(async move {
            let since = now_millis().saturating_sub(i64::try_from(age_out.as_millis()).unwrap_or(i64::MAX));
            sqlx::query(AGE_OUT).bind(since).execute(&self.pool).await.map_err(|e| sql("ageing out workers", e))?;
            let rows: Vec<Row> =
                sqlx::query_as(LIST).bind(since).fetch_all(&self.pool).await.map_err(|e| sql("listing workers", e))?;
            rows.into_iter()
                .map(|(id, name, host, pid, queues, concurrency, running, started_at, last_seen)| {
                    Ok(WorkerRecord::from_stored(
                        id,
                        name,
                        host,
                        small(pid),
                        WorkerRecord::queues_from_json(&queues)?,
                        small(concurrency),
                        small(running),
                        time_from(started_at),
                        time_from(last_seen),
                    ))
                })
                .collect()
        })
    }
}
