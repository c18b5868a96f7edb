//! Claiming a batch: one transaction that locks candidates with `SELECT … FOR UPDATE SKIP
//! LOCKED`, then leases them with one `UPDATE`.
//!
//! Neither MySQL 8 nor MariaDB has `UPDATE … RETURNING`, so the candidates' payloads come from
//! the locking `SELECT` and the new attempt and token are computed here: the rows are locked,
//! so nobody else can change them before the `UPDATE` lands. Round trips: begin, select,
//! update, commit (plus one `UPDATE` when an expired lease was on its last attempt).

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_core::{BackendError, ClaimedTask, LeaseToken, LEASE_EXPIRED_ON_LAST_ATTEMPT};
use sqlx::{MySqlConnection, MySqlPool, Row};

use crate::columns::{micros, task_id};
use crate::error::{retry_on_lock_conflict, Attempt};

/// Read committed: the locking scan takes no gap locks, so claims never block enqueues, and
/// rows it skips are unlocked at once.
pub(crate) const BEGIN_READ_COMMITTED: &str = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION";

/// Due pending tasks in claim order (index `drover_tasks_claim`), and running tasks whose lease
/// expired (index `drover_tasks_lease`), each part stopping at the limit. Rows another claim
/// holds are skipped, so concurrent claims never wait on each other or share a task.
const SELECT_CANDIDATES: &str = "\
(SELECT id, attempt, max_attempts, priority_rank, run_at, payload, 0 AS expired FROM drover_tasks
  WHERE queue = ? AND status = 'pending' AND run_at <= UTC_TIMESTAMP(6)
  ORDER BY priority_rank, run_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
UNION ALL
(SELECT id, attempt, max_attempts, priority_rank, run_at, payload, 1 AS expired FROM drover_tasks
  WHERE queue = ? AND status = 'running' AND lease_expires_at <= UTC_TIMESTAMP(6)
  ORDER BY lease_expires_at LIMIT ? FOR UPDATE SKIP LOCKED)";

/// Lease the chosen tasks (the `IN` list follows).
const LEASE_PREFIX: &str = "UPDATE drover_tasks SET status = 'running', attempt = attempt + 1, token = ?, worker = ?,
  lease_expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND, updated_at = UTC_TIMESTAMP(6)
  WHERE id IN (";

/// A task whose lease expired on its last attempt is dead, not re-run forever (the `IN` list
/// follows).
const DEAD_PREFIX: &str = "UPDATE drover_tasks SET status = 'dead', last_error = ?, token = NULL, worker = NULL,
  lease_expires_at = NULL, unique_live = NULL, updated_at = UTC_TIMESTAMP(6)
  WHERE id IN (";

struct Candidate {
    id: Vec<u8>,
    attempt: u32,
    max_attempts: u32,
    rank: i64,
    run_at: DateTime<Utc>,
    payload: Vec<u8>,
    expired: bool,
}

/// `prefix` followed by `n` placeholders and `)`.
pub(crate) fn in_list(prefix: &str, n: usize) -> String {
    let mut sql = String::with_capacity(prefix.len() + n * 3);
    sql.push_str(prefix);
    for i in 0..n {
        sql.push_str(if i == 0 { "?" } else { ", ?" });
    }
    sql.push(')');
    sql
}

/// Claim up to `max` tasks of `queue` for `worker`, leased for `lease`.
pub(crate) async fn claim(
    pool: &MySqlPool,
    queue: &str,
    worker: &str,
    max: usize,
    lease: Duration,
) -> Result<Vec<ClaimedTask>, BackendError> {
    retry_on_lock_conflict("claim", || {
        Box::pin(async move {
            let mut tx = pool.begin_with(BEGIN_READ_COMMITTED).await?;
            let claimed = claim_in(&mut tx, queue, worker, max, lease).await?;
            tx.commit().await?;
            Ok(claimed)
        })
    })
    .await
}

fn claim_in<'a>(
    conn: &'a mut MySqlConnection,
    queue: &'a str,
    worker: &'a str,
    max: usize,
    lease: Duration,
) -> Attempt<'a, Vec<ClaimedTask>> {
    Box::pin(async move {
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let rows = sqlx::query(SELECT_CANDIDATES)
            .bind(queue)
            .bind(limit)
            .bind(queue)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
        let mut candidates = Vec::with_capacity(rows.len());
        for row in rows {
            candidates.push(Candidate {
                id: row.try_get("id")?,
                attempt: row.try_get("attempt")?,
                max_attempts: row.try_get("max_attempts")?,
                rank: row.try_get("priority_rank")?,
                run_at: row.try_get("run_at")?,
                payload: row.try_get("payload")?,
                expired: row.try_get::<i64, _>("expired")? == 1,
            });
        }
        let (dead, mut live): (Vec<Candidate>, Vec<Candidate>) =
            candidates.into_iter().partition(|c| c.expired && c.attempt >= c.max_attempts);
        if !dead.is_empty() {
            let sql = in_list(DEAD_PREFIX, dead.len());
            let mut query = sqlx::query(&sql).bind(LEASE_EXPIRED_ON_LAST_ATTEMPT);
            for c in &dead {
                query = query.bind(&c.id);
            }
            query.execute(&mut *conn).await?;
        }
        // Expired claims compete with pending tasks by priority and age, as if never claimed.
        live.sort_by(|a, b| (a.rank, a.run_at, &a.id).cmp(&(b.rank, b.run_at, &b.id)));
        live.truncate(max);
        if live.is_empty() {
            return Ok(Vec::new());
        }
        let token = LeaseToken::random();
        let sql = in_list(LEASE_PREFIX, live.len());
        let mut query = sqlx::query(&sql).bind(token.0).bind(worker).bind(micros(lease));
        for c in &live {
            query = query.bind(&c.id);
        }
        query.execute(&mut *conn).await?;
        live.into_iter()
            .map(|c| {
                let id = task_id(&c.id)?;
                Ok(ClaimedTask::new(id, token, c.attempt.saturating_add(1), c.max_attempts, c.payload))
            })
            .collect()
    })
}
