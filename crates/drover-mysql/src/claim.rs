//! Claiming a batch: one read-committed transaction that locks candidates with
//! `SELECT … FOR UPDATE SKIP LOCKED` and leases them with one `UPDATE`, in two round trips.
//!
//! A queue with limits (a cap on running tasks, a rate of starts: `drover_queue_settings`)
//! yields nothing to that plain claim; its claims take the limited form ([`Mode::Limited`]),
//! the same two round trips with more in them. The first begins, locks the queue's settings
//! row with `SELECT … FOR UPDATE` (the queue's limited claims take turns here), counts the live
//! leases in a statement of its own, and locks candidates as above. Read committed gives each
//! statement a fresh snapshot, so the count, run once the lock is granted, sees every claim
//! committed before (tests/limits.rs checks it with a claim committed while one waited for
//! the lock). [`QueueLimits`] then says how many of the candidates may start; the second query
//! leases that many, advances the rate's arrival time, reads the leased tasks' payloads (the
//! candidates' are not read, most of them may stay unclaimed) and commits. A rate that allows
//! no start rolls back and reports how long to wait.
//!
//! Under a per-key limit of K ([`drover_core::KeyConcurrency`]) the limited form also reads each
//! key's live leases, and a keyed task is a candidate only while fewer than K tasks of its key
//! pushed before it are unfinished (index `drover_tasks_key_live`, K entries at most), checked
//! before the candidate window is cut so a key behind a long run of another's is still seen;
//! [`QueueLimits::keyed_pick`] then lets each key take at most K minus its live leases. K is
//! written into the query (a `LIMIT` cannot come from a column): the storage remembers the last
//! K seen, and a claim that finds another one rolls back and claims again with it.
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
use drover_core::{BackendError, ClaimedTask, LeaseToken, QueueLimits, LEASE_EXPIRED_ON_LAST_ATTEMPT};
use sqlx::mysql::MySqlRow;
use sqlx::pool::PoolConnection;
use sqlx::AssertSqlSafe;
use sqlx::{Column, Executor, MySql, MySqlPool, Row};

use crate::columns::{micros, push_attempt, task_id};
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
/// `{lock}` is empty in the plain form; the limited form puts [`LOCK_LIMITS`] there (and
/// [`KEY_LEASES`] for a per-key limit). `{skip}` makes the plain form skip limited queues
/// (paused queues are skipped by both), `{keyed}` is [`KEYED`] under a per-key limit, and
/// `{payload}` is `NULL` in the limited form, which reads the payloads of the tasks it leases
/// only.
const SELECT_CANDIDATES: &str = "\
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
START TRANSACTION;
{lock}SELECT t.id, t.attempt, t.max_attempts, t.priority_rank, t.run_at, t.concurrency_key,
    {payload} AS payload, 0 AS expired
  FROM (SELECT c.id FROM drover_tasks AS c
      WHERE c.queue = {queue} AND c.status = 'pending' AND c.run_at <= UTC_TIMESTAMP(6)
        AND NOT EXISTS (SELECT 1 FROM drover_queue_settings WHERE queue = {queue} AND (paused{skip})){keyed}
      ORDER BY c.priority_rank, c.run_at, c.id LIMIT {scan}) AS pick
  STRAIGHT_JOIN drover_tasks AS t ON t.id = pick.id
  WHERE t.status = 'pending' AND t.run_at <= UTC_TIMESTAMP(6)
  LIMIT {limit} FOR UPDATE SKIP LOCKED;
SELECT t.id, t.attempt, t.max_attempts, t.priority_rank, t.run_at, t.concurrency_key,
    {payload} AS payload, 1 AS expired
  FROM (SELECT c.id FROM drover_tasks AS c
      WHERE c.queue = {queue} AND c.status = 'running' AND c.lease_expires_at <= UTC_TIMESTAMP(6)
        AND NOT EXISTS (SELECT 1 FROM drover_queue_settings WHERE queue = {queue} AND (paused{skip})){keyed}
      ORDER BY c.lease_expires_at LIMIT {scan}) AS pick
  STRAIGHT_JOIN drover_tasks AS t ON t.id = pick.id
  WHERE t.status = 'running' AND t.lease_expires_at <= UTC_TIMESTAMP(6)
  LIMIT {limit} FOR UPDATE SKIP LOCKED";

/// A queue has limits when its settings row has a cap, a rate or a per-key limit; the plain
/// claim skips it.
const SKIP_LIMITED: &str = " OR max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL";

/// Under a per-key limit of `{k}`, a keyed task is a candidate only while fewer than `{k}`
/// tasks of its key pushed before it are unfinished: the `{k}`-th of them (`OFFSET {k1}`,
/// one less) does not exist. Index `drover_tasks_key_live`, at most `{k}` entries read (named,
/// which spares the optimizer weighing the table's other indexes for each claim).
const KEYED: &str = "
        AND (c.concurrency_key IS NULL OR (SELECT u.id FROM drover_tasks AS u FORCE INDEX (drover_tasks_key_live)
            WHERE u.queue = {queue} AND u.key_live = c.concurrency_key AND u.id < c.id
            ORDER BY u.id LIMIT 1 OFFSET {k1}) IS NULL)";

/// The limited form's first statements: lock the queue's settings row (no row: the queue has
/// no limits now, or is paused), then, in a statement of its own and so with a snapshot taken
/// after the lock was granted, count the tasks holding live leases (index
/// `drover_tasks_lease`) and read the server's clock in epoch microseconds (independent of
/// the session's time zone).
const LOCK_LIMITS: &str = "\
SELECT max_running, rate_starts, rate_per_ms, rate_tat, max_per_key FROM drover_queue_settings
  WHERE queue = {queue} AND NOT paused
    AND (max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL) FOR UPDATE;
SELECT COUNT(*) AS live_leases, TIMESTAMPDIFF(MICROSECOND, '1970-01-01', UTC_TIMESTAMP(6)) AS now_us
  FROM drover_tasks
  WHERE queue = {queue} AND status = 'running' AND lease_expires_at > UTC_TIMESTAMP(6);
";

/// Under a per-key limit, after [`LOCK_LIMITS`]: the live leases of each key (the queue's
/// running tasks, index `drover_tasks_lease`), so a key takes at most the limit minus them.
const KEY_LEASES: &str = "\
SELECT concurrency_key AS leases_of_key, COUNT(*) AS n FROM drover_tasks FORCE INDEX (drover_tasks_lease)
  WHERE queue = {queue} AND status = 'running' AND lease_expires_at > UTC_TIMESTAMP(6)
    AND concurrency_key IS NOT NULL
  GROUP BY concurrency_key;
";

/// Whether a queue has limits and is not paused: an empty plain claim asks, to know whether
/// the queue's claims must take the limited form.
const IS_LIMITED: &str = "SELECT 1 FROM drover_queue_settings \
     WHERE queue = ? AND NOT paused AND (max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL)";

/// The rate's arrival time after a limited claim's starts, under the row's lock.
const ADVANCE_RATE: &str = "UPDATE drover_queue_settings SET rate_tat = {tat} WHERE queue = {queue}";

/// The payloads of the tasks a limited claim leased.
const PAYLOADS: &str = "SELECT id, payload FROM drover_tasks WHERE id IN ({ids})";

/// Lease the chosen tasks: attempt counted, new token, deadline by the server's clock, the
/// attempt's start; a task taken over from an expired lease first adds its lost attempt to its
/// history, ended when its lease ran out (assigned first: MySQL assigns left to right).
const LEASE: &str = concat!(
    "UPDATE drover_tasks SET attempts = IF(status = 'running', ",
    push_attempt!("", "lease_expires_at", "NULL"),
    ", attempts),
  status = 'running', attempt = attempt + 1, token = {token},
  worker = {worker}, lease_expires_at = UTC_TIMESTAMP(6) + INTERVAL {lease_us} MICROSECOND,
  updated_at = UTC_TIMESTAMP(6), started_at = UTC_TIMESTAMP(6) WHERE id IN ({ids})"
);

/// A task whose lease expired on its last attempt is dead, not re-run forever; the attempt
/// joins its history.
const DEAD: &str = concat!(
    "UPDATE drover_tasks SET attempts = ",
    push_attempt!("", "lease_expires_at", "{error}"),
    ", status = 'dead', last_error = {error}, token = NULL, worker = NULL,
  lease_expires_at = NULL, unique_live = NULL, updated_at = UTC_TIMESTAMP(6) WHERE id IN ({ids})"
);

/// How many candidate ids a claim of `max` reads before locking: other workers' claims may
/// hold the first ones, and a short claim makes a worker wait a poll interval. The read is an
/// index-only range scan, so a few dozen extra ids cost little. The limited form's claims of a
/// queue take turns under the settings row's lock, so nobody else's claim holds its
/// candidates (a cancel or requeue may, for an instant): a few spare ids do, and under a
/// per-key limit, where each id read costs a probe of the key's index, they are fewer probes.
fn scan_limit(max: usize, mode: Mode) -> usize {
    match mode {
        Mode::Plain => max.saturating_mul(4).saturating_add(64),
        Mode::Limited => max.saturating_add(8),
    }
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
    /// The per-key concurrency key, if any.
    key: Option<String>,
    /// `None` in the limited form, which reads the payloads of the leased tasks only.
    payload: Option<Vec<u8>>,
    expired: bool,
}

/// A text column that binary collations send flagged as binary.
fn text(row: &MySqlRow, column: &str) -> Result<Option<String>, sqlx::Error> {
    let bytes: Option<Vec<u8>> = row.try_get(column)?;
    bytes
        .map(|b| String::from_utf8(b).map_err(|e| sqlx::Error::Decode(format!("{column} is not UTF-8: {e}").into())))
        .transpose()
}

impl Candidate {
    fn from_row(row: &MySqlRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            attempt: row.try_get("attempt")?,
            max_attempts: row.try_get("max_attempts")?,
            rank: row.try_get("priority_rank")?,
            run_at: row.try_get("run_at")?,
            key: text(row, "concurrency_key")?,
            payload: row.try_get("payload")?,
            expired: row.try_get::<i64, _>("expired")? == 1,
        })
    }
}

/// Whether a claim minds the queue's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// No lock; a queue with limits (or paused) yields nothing.
    Plain,
    /// Under the settings row's lock, at most what the queue's limits allow.
    Limited,
}

/// What a claim came back with.
#[derive(Debug)]
pub(crate) enum Claimed {
    /// The tasks claimed, in claim order, and, when the queue had limits, the most any claim
    /// may take under them ([`most_allowed`]; a plain claim does not look, and says `None`).
    Tasks(Vec<ClaimedTask>, Option<usize>),
    /// The queue's rate allows no start for this long (at most a second); nothing was claimed.
    /// With [`most_allowed`] for the queue's limits.
    Wait(Duration, usize),
    /// The queue's per-key limit is not the one the claim assumed (the storage remembers the
    /// last one seen): nothing was claimed; claim again with this one.
    KeyLimitChanged(Option<u32>),
}

/// The most tasks any claim may take under `limits`: the cap, and the rate's burst. A limited
/// claim locks no more candidates than the last claim's figure, a few rows instead of a
/// worker's free slots at a low cap or rate; a figure gone stale (limits raised since) makes
/// one claim take less than it could, never more.
pub(crate) fn most_allowed(limits: &QueueLimits) -> usize {
    let cap = limits.max_running.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let burst = limits.rate.map_or(usize::MAX, |r| usize::try_from(r.burst()).unwrap_or(usize::MAX));
    cap.min(burst).max(1)
}

/// What the limited form's first statements found.
#[derive(Default)]
struct Found {
    /// The settings row, when the queue has limits and is not paused.
    limits: Option<QueueLimits>,
    /// Tasks holding live leases.
    live_leases: u64,
    /// The server's clock, epoch milliseconds.
    now_ms: f64,
    /// Under a per-key limit: the live leases of each key that has some.
    key_leases: std::collections::HashMap<String, u64>,
}

/// The first query's rows: the limited form's settings row and count (told apart by their
/// first column's name), then the candidates.
fn read_rows(rows: &[MySqlRow]) -> Result<(Found, Vec<Candidate>), sqlx::Error> {
    let mut found = Found::default();
    let mut candidates = Vec::with_capacity(rows.len());
    for row in rows {
        match row.columns().first().map(|c| c.name()) {
            Some("max_running") => {
                found.limits = Some(
                    QueueLimits::from_stored(
                        row.try_get("max_running")?,
                        row.try_get("rate_starts")?,
                        row.try_get("rate_per_ms")?,
                        row.try_get("rate_tat")?,
                    )
                    .with_max_per_key(row.try_get("max_per_key")?),
                );
            }
            Some("live_leases") => {
                found.live_leases = u64::try_from(row.try_get::<i64, _>("live_leases")?).unwrap_or(0);
                found.now_ms = row.try_get::<i64, _>("now_us")? as f64 / 1000.0;
            }
            Some("leases_of_key") => {
                if let Some(key) = text(row, "leases_of_key")? {
                    found.key_leases.insert(key, u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0));
                }
            }
            _ => candidates.push(Candidate::from_row(row)?),
        }
    }
    Ok((found, candidates))
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
    mode: Mode,
    /// The per-key limit the limited form assumes (the last one seen).
    per_key: Option<u32>,
}

/// One try of the claim on its own connection.
fn try_claim<'a>(pool: &'a MySqlPool, params: ClaimParams<'a>) -> Attempt<'a, Claimed> {
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

/// The two queries, the second ending with `COMMIT`; when the rate allows no start, or the
/// queue's per-key limit is not the one the candidates were chosen under, the first and a
/// `ROLLBACK`.
fn claim_in<'a>(conn: &'a mut PoolConnection<MySql>, params: ClaimParams<'a>) -> Attempt<'a, Claimed> {
    Box::pin(async move {
        let queue = text_literal(params.queue);
        let limited = params.mode == Mode::Limited;
        let per_key = params.per_key.filter(|_| limited);
        let lock = match per_key {
            Some(_) => format!("{LOCK_LIMITS}{KEY_LEASES}"),
            None if limited => LOCK_LIMITS.to_owned(),
            None => String::new(),
        };
        let keyed = match per_key {
            Some(k) => KEYED.replace("{k1}", &k.saturating_sub(1).to_string()),
            None => String::new(),
        };
        let select = SELECT_CANDIDATES
            .replace("{lock}", &lock)
            .replace("{keyed}", &keyed)
            .replace("{skip}", if limited { "" } else { SKIP_LIMITED })
            .replace("{payload}", if limited { "NULL" } else { "t.payload" })
            .replace("{queue}", &queue)
            .replace("{limit}", &params.max.to_string())
            .replace("{scan}", &scan_limit(params.max, params.mode).to_string());
        // A `&str` without arguments goes as a text query, so its statements run in order.
        let rows = conn.fetch_all(AssertSqlSafe(select)).await?;
        let (found, candidates) = read_rows(&rows)?;
        // The candidates were chosen under another per-key limit than the queue's.
        let stored_per_key = found.limits.and_then(|l| l.max_per_key);
        if limited && stored_per_key != per_key {
            conn.execute("ROLLBACK").await?;
            return Ok(Claimed::KeyLimitChanged(stored_per_key));
        }
        // No settings row in the limited form: the queue lost its limits, claim as the plain form.
        let allowed = match found.limits {
            Some(limits) => match limits.allowed(params.max, found.live_leases, found.now_ms) {
                Ok(allowed) => allowed,
                Err(wait) => {
                    conn.execute("ROLLBACK").await?;
                    return Ok(Claimed::Wait(wait, most_allowed(&limits)));
                }
            },
            None => params.max,
        };
        let (dead, mut live): (Vec<Candidate>, Vec<Candidate>) =
            candidates.into_iter().partition(|c| c.expired && c.attempt >= c.max_attempts);
        // Expired claims compete with pending tasks by priority and age, as if never claimed.
        live.sort_by(|a, b| (a.rank, a.run_at, &a.id).cmp(&(b.rank, b.run_at, &b.id)));
        // Under a per-key limit, each key takes at most the limit minus its live leases.
        if let Some(limits) = found.limits.filter(|l| l.max_per_key.is_some()) {
            let picks = limits.keyed_pick(live.iter().map(|c| c.key.as_deref()), |key| {
                found.key_leases.get(key).copied().unwrap_or(0)
            });
            let mut picks = picks.into_iter();
            live.retain(|_| picks.next().unwrap_or(false));
        }
        live.truncate(allowed);
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
        let ids = id_list(live.iter().map(|c| c.id.as_slice()));
        if !live.is_empty() {
            let worker: String = params.worker.chars().take(MAX_WORKER_CHARS).collect();
            write.push_str(
                &LEASE
                    .replace("{token}", &token.0.to_string())
                    .replace("{lease_us}", &micros(params.lease).to_string())
                    .replace("{worker}", &text_literal(&worker))
                    .replace("{ids}", &ids),
            );
            write.push_str(";\n");
        }
        if let Some(limits) = found.limits.filter(|l| l.rate.is_some() && !live.is_empty()) {
            let tat = limits.tat_after(found.now_ms, live.len());
            // Always finite (server times plus intervals); a stored value gone wrong is replaced.
            let tat = if tat.is_finite() { tat } else { found.now_ms };
            write.push_str(&ADVANCE_RATE.replace("{tat}", &tat.to_string()).replace("{queue}", &queue));
            write.push_str(";\n");
        }
        if limited && !live.is_empty() {
            write.push_str(&PAYLOADS.replace("{ids}", &ids));
            write.push_str(";\n");
        }
        write.push_str("COMMIT");
        let payload_rows = conn.fetch_all(AssertSqlSafe(write)).await?;
        if limited {
            let mut payloads = std::collections::HashMap::with_capacity(payload_rows.len());
            for row in &payload_rows {
                payloads.insert(row.try_get::<Vec<u8>, _>("id")?, row.try_get::<Vec<u8>, _>("payload")?);
            }
            for candidate in &mut live {
                candidate.payload = payloads.remove(&candidate.id);
            }
        }
        let claimed = live
            .into_iter()
            .map(|c| {
                let id = task_id(&c.id)?;
                let payload = c.payload.ok_or_else(|| {
                    sqlx::Error::Protocol(format!("claim: no payload came back for task {id}, which the claim leased"))
                })?;
                Ok(ClaimedTask::new(id, token, c.attempt.saturating_add(1), c.max_attempts, payload)
                    .with_run_at(c.run_at))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Claimed::Tasks(claimed, found.limits.as_ref().map(most_allowed)))
    })
}

/// Claim up to `max` tasks of `queue` for `worker`, leased for `lease`, in `mode`.
pub(crate) async fn claim(
    pool: &MySqlPool,
    queue: &str,
    worker: &str,
    max: usize,
    lease: Duration,
    mode: Mode,
    per_key: Option<u32>,
) -> Result<Claimed, BackendError> {
    let params = ClaimParams { queue, worker, max, lease, mode, per_key };
    retry_on_lock_conflict("claim", || try_claim(pool, params)).await
}

/// Whether `queue` has limits (and is not paused): its claims must take the limited form.
pub(crate) async fn is_limited(pool: &MySqlPool, queue: &str) -> Result<bool, BackendError> {
    let found: Option<i32> = sqlx::query_scalar(IS_LIMITED)
        .bind(queue)
        .fetch_optional(pool)
        .await
        .map_err(|e| crate::error::backend_error("claim (read the queue's limits)", e))?;
    Ok(found.is_some())
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
        for (lock, keyed) in [("", ""), (LOCK_LIMITS, KEYED)] {
            let select = SELECT_CANDIDATES
                .replace("{lock}", &format!("{lock}{KEY_LEASES}"))
                .replace("{keyed}", &keyed.replace("{k1}", "0"))
                .replace("{skip}", SKIP_LIMITED)
                .replace("{payload}", "NULL")
                .replace("{queue}", &queue)
                .replace("{limit}", "3")
                .replace("{scan}", "28");
            assert!(!select.contains('{'), "{select}");
        }
    }
}
