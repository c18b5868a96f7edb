//! The rest of the consume side: batched completions, lease extensions and hand-backs. Each is
//! one statement per chunk, fenced by `(id, token)` and `status = 'running'`, so a stale ack
//! (an old token) matches no row and is ignored.

use std::time::Duration;

use drover_core::{BackendError, Completion, Lease, Outcome};
use sqlx::AssertSqlSafe;
use sqlx::MySqlPool;

use crate::columns::{error_text, id_bytes, micros, push_attempt};
use crate::error::retry_on_lock_conflict;

/// Most completions or leases per statement.
const CHUNK: usize = 500;

/// Every outcome of a batch in one statement: the batch is a derived table joined to the tasks
/// by `(id, token)`. Outcome 1 is done, 2 retry (pending again after `delay_us`, by the
/// server's clock), 3 dead. A retried task keeps its unique key; a final one frees it. A retry
/// or a death appends the attempt to the task's history; a success writes nothing more.
const COMPLETE_PREFIX: &str = "UPDATE drover_tasks AS t JOIN (";
const COMPLETE_SUFFIX: &str = concat!(
    ") AS c ON t.id = c.id AND t.token = c.token
SET t.attempts = IF(c.outcome = 1, t.attempts, ",
    push_attempt!("t.", "UTC_TIMESTAMP(6)", "c.error"),
    "),
    t.status = ELT(c.outcome, 'done', 'pending', 'dead'),
    t.run_at = IF(c.outcome = 2, UTC_TIMESTAMP(6) + INTERVAL c.delay_us MICROSECOND, t.run_at),
    t.last_error = IF(c.outcome = 1, t.last_error, c.error),
    t.unique_live = IF(c.outcome = 2, t.unique_live, NULL),
    t.token = NULL, t.worker = NULL, t.lease_expires_at = NULL, t.updated_at = UTC_TIMESTAMP(6)
WHERE t.status = 'running'"
);

/// Push the deadline of matching claims (the `(id, token)` list follows).
const EXTEND_PREFIX: &str = "UPDATE drover_tasks SET lease_expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND
  WHERE status = 'running' AND (id, token) IN (";

/// Hand back unstarted claims: pending, due as before (so now), the attempt not counted.
const RELEASE_PREFIX: &str = "UPDATE drover_tasks SET status = 'pending', attempt = IF(attempt > 0, attempt - 1, 0),
  token = NULL, worker = NULL, lease_expires_at = NULL, updated_at = UTC_TIMESTAMP(6)
  WHERE status = 'running' AND (id, token) IN (";

fn complete_sql(n: usize) -> String {
    let mut sql = String::with_capacity(COMPLETE_PREFIX.len() + COMPLETE_SUFFIX.len() + n * 40);
    sql.push_str(COMPLETE_PREFIX);
    for i in 0..n {
        sql.push_str(if i == 0 {
            "SELECT ? AS id, ? AS token, ? AS outcome, ? AS delay_us, ? AS error"
        } else {
            " UNION ALL SELECT ?, ?, ?, ?, ?"
        });
    }
    sql.push_str(COMPLETE_SUFFIX);
    sql
}

fn pairs_sql(prefix: &str, n: usize) -> String {
    let mut sql = String::with_capacity(prefix.len() + n * 8);
    sql.push_str(prefix);
    for i in 0..n {
        sql.push_str(if i == 0 { "(?, ?)" } else { ", (?, ?)" });
    }
    sql.push(')');
    sql
}

/// Record a batch of outcomes.
pub(crate) async fn complete(pool: &MySqlPool, batch: &[Completion]) -> Result<(), BackendError> {
    for chunk in batch.chunks(CHUNK) {
        let sql = complete_sql(chunk.len());
        retry_on_lock_conflict("complete", || {
            let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
            for Completion { lease, outcome } in chunk {
                let (kind, delay, error) = match outcome {
                    Outcome::Done => (1i8, 0, None),
                    Outcome::Retry { delay, error } => (2, micros(*delay), Some(error_text(error))),
                    Outcome::Dead { error } => (3, 0, Some(error_text(error))),
                };
                query = query.bind(id_bytes(lease.id)).bind(lease.token.0).bind(kind).bind(delay).bind(error);
            }
            Box::pin(query.execute(pool))
        })
        .await?;
    }
    Ok(())
}

/// Extend the matching leases to now + `lease`.
pub(crate) async fn extend(pool: &MySqlPool, leases: &[Lease], lease: Duration) -> Result<(), BackendError> {
    for chunk in leases.chunks(CHUNK) {
        let sql = pairs_sql(EXTEND_PREFIX, chunk.len());
        retry_on_lock_conflict("extend leases", || {
            let mut query = sqlx::query(AssertSqlSafe(sql.as_str())).bind(micros(lease));
            for l in chunk {
                query = query.bind(id_bytes(l.id)).bind(l.token.0);
            }
            Box::pin(query.execute(pool))
        })
        .await?;
    }
    Ok(())
}

/// Hand back the matching claims. Returns whether any task became pending.
pub(crate) async fn release(pool: &MySqlPool, leases: &[Lease]) -> Result<bool, BackendError> {
    let mut any = false;
    for chunk in leases.chunks(CHUNK) {
        let sql = pairs_sql(RELEASE_PREFIX, chunk.len());
        let done = retry_on_lock_conflict("release", || {
            let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
            for l in chunk {
                query = query.bind(id_bytes(l.id)).bind(l.token.0);
            }
            Box::pin(query.execute(pool))
        })
        .await?;
        any |= done.rows_affected() > 0;
    }
    Ok(any)
}
