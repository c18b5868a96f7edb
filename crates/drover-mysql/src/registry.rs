//! Worker self-registration in `drover_workers` (migration 7): see
//! [`drover_core::WorkerRegistry`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_core::{BackendError, WorkerRecord, WorkerRegistry};
use futures_util::future::BoxFuture;
use sqlx::MySqlPool;

use crate::columns::micros;
use crate::error::backend_error;

/// Register or refresh: the first start stays, last seen is the server's now.
const BEAT: &str =
    "INSERT INTO drover_workers (id, name, host, pid, queues, concurrency, running, started_at, last_seen) \
     VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)) \
     ON DUPLICATE KEY UPDATE running = VALUES(running), concurrency = VALUES(concurrency), \
     queues = VALUES(queues), last_seen = UTC_TIMESTAMP(6)";
const LEAVE: &str = "DELETE FROM drover_workers WHERE id = ?";
const AGE_OUT: &str = "DELETE FROM drover_workers WHERE last_seen < UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND";
const LIST: &str = "SELECT id, name, host, pid, queues, concurrency, running, started_at, last_seen \
     FROM drover_workers WHERE last_seen >= UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND ORDER BY started_at, id";

type Row = (String, String, String, i64, String, i64, i64, DateTime<Utc>, DateTime<Utc>);

/// The longest name or host stored (`VARCHAR(255)`).
const MAX_CHARS: usize = 255;

/// The workers of a MySQL database: what `MysqlStorage` and `MysqlAdmin` hand out.
#[derive(Clone, Debug)]
pub(crate) struct MysqlRegistry {
    pool: MySqlPool,
}

impl MysqlRegistry {
    pub(crate) fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

fn small(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn cut(s: &str) -> String {
    s.chars().take(MAX_CHARS).collect()
}

impl WorkerRegistry for MysqlRegistry {
    fn beat<'a>(&'a self, worker: &'a WorkerRecord) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            sqlx::query(BEAT)
                .bind(&worker.id)
                .bind(cut(&worker.name))
                .bind(cut(&worker.host))
                .bind(i64::from(worker.pid))
                .bind(worker.queues_json())
                .bind(i64::from(worker.concurrency))
                .bind(i64::from(worker.running))
                .execute(&self.pool)
                .await
                .map_err(|e| backend_error("register worker", e))?;
            Ok(())
        })
    }

    fn leave<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            sqlx::query(LEAVE).bind(id).execute(&self.pool).await.map_err(|e| backend_error("deregister worker", e))?;
            Ok(())
        })
    }

    fn workers(&self, age_out: Duration) -> BoxFuture<'_, Result<Vec<WorkerRecord>, BackendError>> {
        Box::pin(async move {
            let age = micros(age_out);
            sqlx::query(AGE_OUT)
                .bind(age)
                .execute(&self.pool)
                .await
                .map_err(|e| backend_error("age out workers", e))?;
            let rows: Vec<Row> = sqlx::query_as(LIST)
                .bind(age)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend_error("list workers", e))?;
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
                        started_at,
                        last_seen,
                    ))
                })
                .collect()
        })
    }
}
