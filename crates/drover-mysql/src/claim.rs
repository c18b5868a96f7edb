//! Claiming a batch: one read-committed transaction that locks candidates with
//! `SELECT … FOR UPDATE SKIP LOCKED` and leases them with one `UPDATE`, in two round trips.
//!
//! Neither MySQL 8 nor MariaDB has `UPDATE … RETURNING`, so the candidates' payloads come from
//! the locking `SELECT` and the new attempt and token are computed here: the rows are locked,
//! so nobody else can change them before the `UPDATE` lands. The statements travel as two
//! text queries of several statements each (sqlx enables multi-statement queries): begin and
//! select, then update and commit. A text query cannot take bound parameters, so every value
//! in it is a number or a hex literal (`X'…'`): nothing from the caller is ever spliced in as
//! SQL.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_core::{BackendError, ClaimedTask, LeaseToken, LEASE_EXPIRED_ON_LAST_ATTEMPT};
use sqlx::pool::PoolConnection;
use sqlx::AssertSqlSafe;
use sqlx::{Executor, MySql, MySqlPool, Row};

use crate::columns::{micros, task_id};
use crate::error::{retry_on_lock_conflict, Attempt};

/// Begin (read committed: the locking reads take no gap locks that would block enqueues) and
/// lock the candidates: due pending tasks in claim order (index `drover_tasks_claim`), then
/// running tasks whose lease expired (index `drover_tasks_lease`). Rows another claim holds
/// are skipped, so concurrent claims never wait on each other or share a task. `{queue}` is a
/// hex literal, `{limit}` and `{scan}` numbers.
///
/// Each statement finds candidate ids in claim order with a plain read of the secondary index
/// (`{scan}` of them, many more than `{limit}`, since other claims may hold the first ones),
/// then walks them in that order (the materialized derived table keeps it, and no outer
/// `ORDER BY` forces a sort), locking each through the primary key and re-checking its state,
/// and stops after `{limit}` locked rows, so a claim holds few rows it does not lease (at most
/// `{limit}` expired leases beyond them). `SKIP LOCKED` applied to the secondary index
/// directly skipped rows nobody held on MariaDB 10.11 while other transactions ran (a claim
/// then found nothing in a queue holding due tasks); through the primary key it skips exactly
/// the rows other claims hold.
const SELECT_CANDIDATES: &str = "\
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
START TRANSACTION;
SELECT t.id, t.attempt, t.max_attempts, t.priority_rank, t.run_at, t.payload, 0 AS expired
  FROM (SELECT id FROM drover_tasks
      WHERE queue = {queue} AND status = 'pending' AND run_at <= UTC_TIMESTAMP(6)
        AND NOT EXISTS (SELECT 1 FROM drover_queue_settings WHERE queue = {queue} AND paused)
      ORDER BY priority_rank, run_at, id LIMIT {scan}) AS pick
  STRAIGHT_JOIN drover_tasks AS t ON t.id = pick.id
  WHERE t.status = 'pending' AND t.run_at <= UTC_TIMESTAMP(6)
  LIMIT {limit} FOR UPDATE SKIP LOCKED;
SELECT t.id, t.attempt, t.max_attempts, t.priority_rank, t.run_at, t.payload, 1 AS expired
  FROM (SELECT id FROM drover_tasks
      WHERE queue = {queue} AND status = 'running' AND lease_expires_at <= UTC_TIMESTAMP(6)
        AND NOT EXISTS (SELECT 1 FROM drover_queue_settings WHERE queue = {queue} AND paused)
      ORDER BY lease_expires_at LIMIT {scan}) AS pick
  STRAIGHT_JOIN drover_tasks AS t ON t.id = pick.id
  WHERE t.status = 'running' AND t.lease_expires_at <= UTC_TIMESTAMP(6)
  LIMIT {limit} FOR UPDATE SKIP LOCKED";

/// Lease the chosen tasks: attempt counted, new token, deadline by the server's clock.
const LEASE: &str = "UPDATE drover_tasks SET status = 'running', attempt = attempt + 1, token = {token},
  worker = {worker}, lease_expires_at = UTC_TIMESTAMP(6) + INTERVAL {lease_us} MICROSECOND,
  updated_at = UTC_TIMESTAMP(6) WHERE id IN ({ids})";

/// A task whose lease expired on its last attempt is dead, not re-run forever.
const DEAD: &str = "UPDATE drover_tasks SET status = 'dead', last_error = {error}, token = NULL, worker = NULL,
  lease_expires_at = NULL, unique_live = NULL, updated_at = UTC_TIMESTAMP(6) WHERE id IN ({ids})";

/// How many candidate ids a claim of `max` reads before locking: other workers' claims may
/// hold the first ones, and a short claim makes a worker wait a poll interval. The read is an
/// index-only range scan, so a few dozen extra ids cost little.
fn scan_limit(max: usize) -> usize {
    max.saturating_mul(4).saturating_add(64)
}

/// The longest worker name stored (`worker` is `VARCHAR(255)`).
const MAX_WORKER_CHARS: usize = 255;

/// Bytes as a hex literal `X'…'`.
fn hex_literal(bytes: &[u8]) -> String {
    let mut literal = String::with_capacity(3 + bytes.len() * 2);
    literal.push_str("X'");
    for byte in bytes {
        let _ = write!(literal, "{byte:02x}");
    }
    literal.push('\'');
    literal
}

/// `_utf8mb4 X'…'`: text as a hex literal in the column character set, so it compares with
/// indexed columns like a bound string would, and can never be read as SQL.
fn text_literal(text: &str) -> String {
    format!("_utf8mb4 {}", hex_literal(text.as_bytes()))
}

fn id_list<'a>(ids: impl Iterator<Item = &'a [u8]>) -> String {
    ids.map(hex_literal).collect::<Vec<_>>().join(", ")
}

struct Candidate {
    id: Vec<u8>,
    attempt: u32,
    max_attempts: u32,
    rank: i64,
    run_at: DateTime<Utc>,
    payload: Vec<u8>,
    expired: bool,
}

/// A pooled connection inside the claim's transaction. Dropped before the transaction ended
/// (a cancelled claim, a failed rollback), it is closed instead of going back to the pool,
/// so the server rolls the transaction back and no pooled connection is left inside one.
struct InTransaction(Option<PoolConnection<MySql>>);

impl InTransaction {
    /// The transaction ended: the connection may go back to the pool.
    fn ended(mut self) {
        self.0.take();
    }

    /// Roll back after a failed script; a connection that cannot even do that is closed.
    async fn rollback(mut self) {
        if let Some(conn) = self.0.as_mut() {
            if conn.execute("ROLLBACK").await.is_ok() {
                self.ended();
            }
        }
    }
}

impl Drop for InTransaction {
    fn drop(&mut self) {
        if let Some(conn) = self.0.as_mut() {
            conn.close_on_drop();
        }
    }
}

/// What a claim needs besides the pool.
#[derive(Clone, Copy)]
struct ClaimParams<'a> {
    queue: &'a str,
    worker: &'a str,
    max: usize,
    lease: Duration,
}

/// One try of the claim on its own connection.
fn try_claim<'a>(pool: &'a MySqlPool, params: ClaimParams<'a>) -> Attempt<'a, Vec<ClaimedTask>> {
    Box::pin(async move {
        let mut tx = InTransaction(Some(pool.acquire().await?));
        let result = match tx.0.as_mut() {
            Some(conn) => claim_in(conn, params).await,
            None => return Err(sqlx::Error::PoolClosed),
        };
        match result {
            Ok(claimed) => {
                tx.ended();
                Ok(claimed)
            }
            Err(error) => {
                tx.rollback().await;
                Err(error)
            }
        }
    })
}

/// The two queries, the second ending with `COMMIT`.
fn claim_in<'a>(conn: &'a mut PoolConnection<MySql>, params: ClaimParams<'a>) -> Attempt<'a, Vec<ClaimedTask>> {
    Box::pin(async move {
        let select = SELECT_CANDIDATES
            .replace("{queue}", &text_literal(params.queue))
            .replace("{limit}", &params.max.to_string())
            .replace("{scan}", &scan_limit(params.max).to_string());
        // A `&str` without arguments goes as a text query, so its statements run in order.
        let rows = conn.fetch_all(AssertSqlSafe(select)).await?;
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
        // Expired claims compete with pending tasks by priority and age, as if never claimed.
        live.sort_by(|a, b| (a.rank, a.run_at, &a.id).cmp(&(b.rank, b.run_at, &b.id)));
        live.truncate(params.max);
        let token = LeaseToken::random();
        let mut write = String::new();
        if !dead.is_empty() {
            write.push_str(
                &DEAD
                    .replace("{error}", &text_literal(LEASE_EXPIRED_ON_LAST_ATTEMPT))
                    .replace("{ids}", &id_list(dead.iter().map(|c| c.id.as_slice()))),
            );
            write.push_str(";\n");
        }
        if !live.is_empty() {
            let worker: String = params.worker.chars().take(MAX_WORKER_CHARS).collect();
            write.push_str(
                &LEASE
                    .replace("{token}", &token.0.to_string())
                    .replace("{lease_us}", &micros(params.lease).to_string())
                    .replace("{worker}", &text_literal(&worker))
                    .replace("{ids}", &id_list(live.iter().map(|c| c.id.as_slice()))),
            );
            write.push_str(";\n");
        }
        write.push_str("COMMIT");
        conn.execute(AssertSqlSafe(write)).await?;
        let claimed = live
            .into_iter()
            .map(|c| {
                let id = task_id(&c.id)?;
                Ok(ClaimedTask::new(id, token, c.attempt.saturating_add(1), c.max_attempts, c.payload)
                    .with_run_at(c.run_at))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(claimed)
    })
}

/// Claim up to `max` tasks of `queue` for `worker`, leased for `lease`.
pub(crate) async fn claim(
    pool: &MySqlPool,
    queue: &str,
    worker: &str,
    max: usize,
    lease: Duration,
) -> Result<Vec<ClaimedTask>, BackendError> {
    let params = ClaimParams { queue, worker, max, lease };
    retry_on_lock_conflict("claim", || try_claim(pool, params)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_numbers_and_hex_literals() {
        let queue = text_literal("q'; DROP TABLE x; --");
        assert!(!queue.contains("DROP TABLE"), "{queue}");
        assert_eq!(text_literal("ab"), "_utf8mb4 X'6162'");
        assert_eq!(id_list([&[1u8, 255][..], &[0u8][..]].into_iter()), "X'01ff', X'00'");
        assert!(!SELECT_CANDIDATES
            .replace("{queue}", &queue)
            .replace("{limit}", "3")
            .replace("{scan}", "28")
            .contains('{'));
    }
}
