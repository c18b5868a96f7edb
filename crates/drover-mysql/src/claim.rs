//! Claiming a batch in one round trip: a script of statements sent together, whose central
//! `UPDATE` leases the rows a `SELECT … FOR UPDATE SKIP LOCKED` picked.
//!
//! Neither MySQL 8 nor MariaDB has `UPDATE … RETURNING`, and a transaction of separate
//! statements (begin, select, update, commit) costs four round trips. So the claim is one text
//! query of several statements (sqlx enables multi-statement queries): the candidates are
//! locked with `SKIP LOCKED` in a derived table of the `UPDATE` itself, so concurrent claims
//! skip each other's rows and never share a task; the `UPDATE` commits on its own (one
//! statement, one commit) and a final `SELECT` reads the leased rows back by their deadline
//! and token. A text query cannot take bound parameters, so every value in it is a number or
//! a hex literal (`X'…'`): nothing from the caller is ever spliced in as SQL.

use std::fmt::Write as _;
use std::time::Duration;

use drover_core::{BackendError, ClaimedTask, LeaseToken, LEASE_EXPIRED_ON_LAST_ATTEMPT};
use sqlx::{MySqlPool, Row};

use crate::columns::{micros, task_id};
use crate::error::retry_on_lock_conflict;

/// The claim script. `{queue}`, `{error}` and `{worker}` are hex literals, the rest numbers.
///
/// 1. The server's now and the new deadline, fixed once for the script.
/// 2. Expired leases on their last attempt: dead, not re-run forever.
/// 3. The claim: due pending tasks in claim order (index `drover_tasks_claim`) and running
///    tasks whose lease expired with attempts left (index `drover_tasks_lease`), locked with
///    `SKIP LOCKED`, the first `{limit}` by priority then age leased: attempt counted, new
///    token, deadline. Read committed, so the locking scan takes no gap locks that would block
///    enqueues.
/// 4. The leased rows, found by deadline and token (index `drover_tasks_lease`).
const CLAIM_SCRIPT: &str = "\
SET @drover_now = UTC_TIMESTAMP(6);
SET @drover_lease = CAST(@drover_now AS DATETIME(6)) + INTERVAL {lease_us} MICROSECOND;
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
UPDATE drover_tasks AS t JOIN (
  SELECT id FROM drover_tasks
  WHERE queue = {queue} AND status = 'running' AND lease_expires_at <= CAST(@drover_now AS DATETIME(6))
    AND attempt >= max_attempts
  ORDER BY lease_expires_at LIMIT {limit} FOR UPDATE SKIP LOCKED
) AS d ON t.id = d.id
SET t.status = 'dead', t.last_error = {error}, t.token = NULL, t.worker = NULL, t.lease_expires_at = NULL,
  t.unique_live = NULL, t.updated_at = CAST(@drover_now AS DATETIME(6));
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
UPDATE drover_tasks AS t JOIN (
  SELECT id FROM (
    (SELECT id, priority_rank, run_at FROM drover_tasks
      WHERE queue = {queue} AND status = 'pending' AND run_at <= CAST(@drover_now AS DATETIME(6))
      ORDER BY priority_rank, run_at, id LIMIT {limit} FOR UPDATE SKIP LOCKED)
    UNION ALL
    (SELECT id, priority_rank, run_at FROM drover_tasks
      WHERE queue = {queue} AND status = 'running' AND lease_expires_at <= CAST(@drover_now AS DATETIME(6))
        AND attempt < max_attempts
      ORDER BY lease_expires_at LIMIT {limit} FOR UPDATE SKIP LOCKED)
  ) AS u ORDER BY priority_rank, run_at, id LIMIT {limit}
) AS c ON t.id = c.id
SET t.status = 'running', t.attempt = t.attempt + 1, t.token = {token}, t.worker = {worker},
  t.lease_expires_at = CAST(@drover_lease AS DATETIME(6)), t.updated_at = CAST(@drover_now AS DATETIME(6));
SELECT id, attempt, max_attempts, payload FROM drover_tasks
  WHERE queue = {queue} AND status = 'running' AND lease_expires_at = CAST(@drover_lease AS DATETIME(6))
    AND token = {token}
  ORDER BY priority_rank, run_at, id";

/// The longest worker name stored (`worker` is `VARCHAR(255)`).
const MAX_WORKER_CHARS: usize = 255;

/// `_utf8mb4 X'…'`: text as a hex literal in the column character set, so it compares with
/// indexed columns like a bound string would, and can never be read as SQL.
fn text_literal(text: &str) -> String {
    let mut literal = String::with_capacity(12 + text.len() * 2);
    literal.push_str("_utf8mb4 X'");
    for byte in text.as_bytes() {
        let _ = write!(literal, "{byte:02x}");
    }
    literal.push('\'');
    literal
}

/// The claim script with its values filled in.
fn claim_script(queue: &str, worker: &str, max: usize, lease: Duration, token: LeaseToken) -> String {
    let worker: String = worker.chars().take(MAX_WORKER_CHARS).collect();
    CLAIM_SCRIPT
        .replace("{lease_us}", &micros(lease).to_string())
        .replace("{limit}", &max.to_string())
        .replace("{token}", &token.0.to_string())
        .replace("{queue}", &text_literal(queue))
        .replace("{worker}", &text_literal(&worker))
        .replace("{error}", &text_literal(LEASE_EXPIRED_ON_LAST_ATTEMPT))
}

/// Claim up to `max` tasks of `queue` for `worker`, leased for `lease`.
pub(crate) async fn claim(
    pool: &MySqlPool,
    queue: &str,
    worker: &str,
    max: usize,
    lease: Duration,
) -> Result<Vec<ClaimedTask>, BackendError> {
    let token = LeaseToken::random();
    let script = claim_script(queue, worker, max, lease, token);
    let rows = retry_on_lock_conflict("claim", || Box::pin(sqlx::raw_sql(&script).fetch_all(pool))).await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let task = (|| {
            let id: Vec<u8> = row.try_get("id")?;
            Ok::<_, sqlx::Error>(ClaimedTask::new(
                task_id(&id)?,
                token,
                row.try_get("attempt")?,
                row.try_get("max_attempts")?,
                row.try_get("payload")?,
            ))
        })();
        claimed.push(task.map_err(|e| crate::error::backend_error("claim: read the leased tasks", e))?);
    }
    Ok(claimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_holds_only_numbers_and_hex_literals() {
        let script = claim_script("q'; DROP TABLE x; --", "w", 10, Duration::from_millis(1500), LeaseToken(42));
        assert!(!script.contains("DROP TABLE"), "{script}");
        assert!(script.contains("INTERVAL 1500000 MICROSECOND"));
        assert!(script.contains("LIMIT 10"));
        assert!(script.contains("t.token = 42"));
        assert!(!script.contains('{'), "a placeholder was left: {script}");
        assert_eq!(text_literal("ab"), "_utf8mb4 X'6162'");
    }
}
