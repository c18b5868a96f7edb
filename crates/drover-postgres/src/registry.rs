//! Worker self-registration in `drover.workers` (migration 11): see
//! [`drover_core::WorkerRegistry`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_core::{BackendError, WorkerRecord, WorkerRegistry};
use futures_util::future::BoxFuture;

use crate::db::{run, Db};
use crate::error::db_error;

/// Register or refresh: the first start stays, last seen is the server's now.
const BEAT_SQL: &str = "INSERT INTO drover.workers (id, name, host, pid, queues, concurrency, running) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (id) DO UPDATE SET running = EXCLUDED.running, concurrency = EXCLUDED.concurrency, \
     queues = EXCLUDED.queues, last_seen = now()";
const LEAVE_SQL: &str = "DELETE FROM drover.workers WHERE id = $1";
/// Dead workers' rows (not seen within the age-out, $1 microseconds) go first.
const AGE_OUT_SQL: &str = "DELETE FROM drover.workers WHERE last_seen < now() - $1 * interval '1 microsecond'";
const LIST_SQL: &str = "SELECT id, name, host, pid, queues, concurrency, running, started_at, last_seen \
     FROM drover.workers WHERE last_seen >= now() - $1 * interval '1 microsecond' ORDER BY started_at, id";

type Row = (String, String, String, i64, Vec<String>, i64, i64, DateTime<Utc>, DateTime<Utc>);

/// The workers of a PostgreSQL database: what `PostgresStorage` and `PostgresAdmin` hand out.
#[derive(Clone, Debug)]
pub(crate) struct PostgresRegistry {
    db: Db,
}

impl PostgresRegistry {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn small(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl WorkerRegistry for PostgresRegistry {
    fn beat<'a>(&'a self, worker: &'a WorkerRecord) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            run!(
                &self.db,
                execute,
                sqlx::query(BEAT_SQL)
                    .bind(&worker.id)
                    .bind(&worker.name)
                    .bind(&worker.host)
                    .bind(i64::from(worker.pid))
                    .bind(&worker.queues)
                    .bind(i64::from(worker.concurrency))
                    .bind(i64::from(worker.running))
            )
            .map_err(|e| db_error("register worker", e))?;
            Ok(())
        })
    }

    fn leave<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            run!(&self.db, execute, sqlx::query(LEAVE_SQL).bind(id)).map_err(|e| db_error("deregister worker", e))?;
            Ok(())
        })
    }

    fn workers(&self, age_out: Duration) -> BoxFuture<'_, Result<Vec<WorkerRecord>, BackendError>> {
        Box::pin(async move {
            let age = micros(age_out);
            run!(&self.db, execute, sqlx::query(AGE_OUT_SQL).bind(age)).map_err(|e| db_error("age out workers", e))?;
            let rows: Vec<Row> = run!(&self.db, fetch_all, sqlx::query_as(LIST_SQL).bind(age))
                .map_err(|e| db_error("list workers", e))?;
            Ok(rows
                .into_iter()
                .map(|(id, name, host, pid, queues, concurrency, running, started_at, last_seen)| {
                    WorkerRecord::from_stored(
                        id,
                        name,
                        host,
                        small(pid),
                        queues,
                        small(concurrency),
                        small(running),
                        started_at,
                        last_seen,
                    )
                })
                .collect())
        })
    }
}
