//! The consume side: claim, complete, extend and release, each one statement per batch.

use std::sync::atomic::Ordering;
use std::time::Duration;

use drover_core::{
    Backend, BackendError, ClaimRequest, ClaimedTask, Codec, Completion, Lease, LeaseToken, Outcome, QueueLimits,
    Wakeup, LEASE_EXPIRED_ON_LAST_ATTEMPT,
};
use sqlx::Row;

use crate::batch::{chunks_of, values};
use crate::codec::{after, id_bytes, id_from, now_millis};
use crate::error::sql;
use crate::group::{Param, Statement};
use crate::storage::SqliteStorage;

/// SQL appending the attempt being left (number `attempt`, started `started_at`) to the task's
/// `attempts` history, ended at `$finished`, failed with `$error` (NULL: an expired lease); the
/// oldest is dropped beyond drover_core::ATTEMPT_HISTORY_LIMIT (20). Migration 6 describes the
/// stored form, which drover_core::AttemptRecord::decode_history reads.
macro_rules! push_attempt {
    ($finished:literal, $error:literal) => {
        concat!(
            "json_insert(CASE WHEN json_array_length(attempts) >= 20 THEN json_remove(attempts, '$[0]') \
             ELSE COALESCE(attempts, '[]') END, '$[#]', json_object('n', attempt, 's', started_at, 'f', ",
            $finished,
            ", 'e', ",
            $error,
            "))"
        )
    };
}

/// What every claim's UPDATE sets beside the lease (its parameter is the claim's `now`): the attempt's start,
/// and, for a task taken over from an expired lease, the lost attempt in its history (ended
/// when its lease ran out).
macro_rules! claim_sets {
    () => {
        concat!(
            "started_at = ?, attempts = CASE WHEN status = 'running' THEN ",
            push_attempt!("lease_expires_at", "NULL"),
            " ELSE attempts END"
        )
    };
}

/// How long claims that come back full skip the read-only check (which also finds leases
/// that expired on a last attempt).
pub(crate) const CHECK_EVERY_MS: i64 = 1_000;

/// Whether anything is due or any lease expired. A read: in WAL mode it never waits for a
/// writer, so an idle poll, or a claim while another connection holds a write transaction
/// open, costs no write lock.
const CLAIMABLE: &str = "\
SELECT EXISTS (SELECT 1 FROM drover_tasks
               WHERE queue = ?1 AND status = 'pending' AND run_at <= ?2 AND queue NOT IN (SELECT queue FROM drover_queue_settings WHERE paused = 1 OR max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL))
    OR EXISTS (SELECT 1 FROM drover_tasks
               WHERE queue = ?1 AND status = 'running' AND lease_expires_at <= ?2 AND queue NOT IN (SELECT queue FROM drover_queue_settings WHERE paused = 1 OR max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL))";

/// A task whose lease expired on its last attempt is dead, not claimed again: a job that
/// kills its worker must not run forever. It runs before every claim, in the same
/// transaction; usually the lease index has nothing expired and it costs one index probe.
/// Parameters: error, now, error (the history's), queue, now.
const EXPIRE_LAST_ATTEMPTS: &str = concat!(
    "UPDATE drover_tasks
SET status = 'dead', last_error = ?, lease_token = NULL, lease_expires_at = NULL, updated_at = ?, attempts = ",
    push_attempt!("lease_expires_at", "?"),
    "
WHERE queue = ? AND status = 'running' AND lease_expires_at <= ? AND attempt >= max_attempts"
);

/// The claim: one statement picks the best due tasks (pending and due, or running with an
/// expired lease and attempts left), highest priority then oldest run time, and leases them,
/// each with its own random token. Each branch reads its partial index in order and stops at
/// the limit. Parameters: deadline, worker, now, now (the start), queue, now, limit, queue, now, limit, limit.
const CLAIM: &str = concat!(
    "UPDATE drover_tasks
SET status = 'running', attempt = attempt + 1, lease_token = random(), lease_expires_at = ?,
    claimed_by = ?, updated_at = ?, ",
    claim_sets!(),
    "
WHERE id IN (
    SELECT id FROM (
        SELECT * FROM (SELECT id, priority, run_at FROM drover_tasks
                       WHERE queue = ? AND status = 'pending' AND run_at <= ? AND queue NOT IN (SELECT queue FROM drover_queue_settings WHERE paused = 1 OR max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL)
                       ORDER BY priority DESC, run_at, id LIMIT ?)
        UNION ALL
        SELECT * FROM (SELECT id, priority, run_at FROM drover_tasks
                       WHERE queue = ? AND status = 'running' AND lease_expires_at <= ?
                             AND attempt < max_attempts AND queue NOT IN (SELECT queue FROM drover_queue_settings WHERE paused = 1 OR max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL)
                       ORDER BY priority DESC, run_at, id LIMIT ?)
    )
    ORDER BY priority DESC, run_at, id LIMIT ?
)
RETURNING id, lease_token, attempt, max_attempts, payload, priority, run_at"
);

/// The claim while claims come back full: due pending tasks only. Expired leases are left to
/// the checked claims that follow a short claim and come at least every [`CHECK_EVERY_MS`].
/// Parameters: deadline, worker, now, now (the start), queue, now, limit.
const CLAIM_DUE: &str = "\
UPDATE drover_tasks
SET status = 'running', attempt = attempt + 1, lease_token = random(), lease_expires_at = ?,
    claimed_by = ?, updated_at = ?, started_at = ?
WHERE id IN (SELECT id FROM drover_tasks
             WHERE queue = ? AND status = 'pending' AND run_at <= ? AND queue NOT IN (SELECT queue FROM drover_queue_settings WHERE paused = 1 OR max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL)
             ORDER BY priority DESC, run_at, id LIMIT ?)
RETURNING id, lease_token, attempt, max_attempts, payload, priority, run_at";

/// Completions joined against a `VALUES` list of (id, token, status, run_at, error): one
/// statement for a whole batch, applied only where the token still holds. A task has a token
/// exactly while it is running (every other transition clears it), so a matching token is
/// the "still running under this claim" check; leaving `status` out of the join also keeps
/// the planner on primary-key lookups instead of scanning the running tasks' index.
const COMPLETE_HEAD: &str = concat!(
    "UPDATE drover_tasks
SET status = c.column3,
    run_at = COALESCE(c.column4, drover_tasks.run_at),
    last_error = COALESCE(c.column5, drover_tasks.last_error),
    lease_token = NULL, lease_expires_at = NULL, updated_at = ?,
    attempts = CASE WHEN c.column5 IS NULL THEN attempts ELSE ",
    push_attempt!("?", "c.column5"),
    " END
FROM ("
);
const COMPLETE_TAIL: &str = ") AS c
WHERE drover_tasks.id = c.column1 AND drover_tasks.lease_token = c.column2";

const EXTEND_HEAD: &str = "UPDATE drover_tasks SET lease_expires_at = ? FROM (";
const RELEASE_HEAD: &str = "\
UPDATE drover_tasks
SET status = 'pending', attempt = MAX(attempt - 1, 0), lease_token = NULL, lease_expires_at = NULL,
    updated_at = ?
FROM (";
const LEASES_TAIL: &str = ") AS c
WHERE drover_tasks.id = c.column1 AND drover_tasks.lease_token = c.column2";

impl<T, C> SqliteStorage<T, C> {
    /// Run `head VALUES (id, token), … tail` over `leases`, with `first` bound to the head's
    /// parameter.
    async fn update_leases(
        &self,
        operation: &'static str,
        head: &str,
        leases: &[Lease],
        first: i64,
    ) -> Result<(), BackendError> {
        let statements = leases
            .chunks(chunks_of(2))
            .map(|chunk| {
                let mut params = Vec::with_capacity(1 + chunk.len() * 2);
                params.push(Param::Int(first));
                for lease in chunk {
                    params.push(Param::Blob(id_bytes(lease.id).to_vec()));
                    params.push(Param::Int(lease.token.0));
                }
                Statement::new(format!("{head}{}{LEASES_TAIL}", values(chunk.len(), 2)), params)
            })
            .collect();
        self.inner.hub.group.write(&self.inner.pool, operation, statements).await.map(|_| ())
    }

    /// One claim: after the read-only check (`check`), leases that expired on a last attempt
    /// are settled and expired leases claimed too; without it, due pending tasks only.
    async fn claim_once(
        &self,
        request: &ClaimRequest,
        now: i64,
        check: bool,
    ) -> Result<Vec<ClaimedTask>, BackendError> {
        const OP: &str = "claiming tasks";
        let queue = self.inner.queue.as_str();
        if check && !self.claimable(now).await? {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(request.max).unwrap_or(i64::MAX);
        let deadline = after(now, request.lease);
        let statements = if check {
            vec![
                Statement::new(
                    EXPIRE_LAST_ATTEMPTS,
                    vec![
                        Param::Text(LEASE_EXPIRED_ON_LAST_ATTEMPT.to_owned()),
                        Param::Int(now),
                        Param::Text(LEASE_EXPIRED_ON_LAST_ATTEMPT.to_owned()),
                        Param::Text(queue.to_owned()),
                        Param::Int(now),
                    ],
                ),
                Statement::new(
                    CLAIM,
                    vec![
                        Param::Int(deadline),
                        Param::Text(request.worker.to_string()),
                        Param::Int(now),
                        Param::Int(now),
                        Param::Text(queue.to_owned()),
                        Param::Int(now),
                        Param::Int(limit),
                        Param::Text(queue.to_owned()),
                        Param::Int(now),
                        Param::Int(limit),
                        Param::Int(limit),
                    ],
                ),
            ]
        } else {
            vec![Statement::new(
                CLAIM_DUE,
                vec![
                    Param::Int(deadline),
                    Param::Text(request.worker.to_string()),
                    Param::Int(now),
                    Param::Int(now),
                    Param::Text(queue.to_owned()),
                    Param::Int(now),
                    Param::Int(limit),
                ],
            )]
        };
        let done = self.inner.hub.group.write(&self.inner.pool, OP, statements).await?;
        decode_claims(done.into_iter().last().map(|d| d.rows).unwrap_or_default())
    }

    /// The claim of a limited queue (a cap or a rate): in an immediate transaction, read the
    /// limits, count the live leases, claim at most what they allow, record the rate's
    /// arrival time. `Err`: the rate allows no start for this long.
    async fn claim_limited(&self, request: &ClaimRequest) -> Result<Result<Vec<ClaimedTask>, Duration>, BackendError> {
        const OP: &str = "claiming tasks (limited queue)";
        let queue = self.inner.queue.as_str();
        let mut tx = self.inner.pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| sql(OP, e))?;
        let row: Option<LimitsRow> =
            sqlx::query_as(LIMITS).bind(queue.to_owned()).fetch_optional(&mut *tx).await.map_err(|e| sql(OP, e))?;
        let Some((cap, starts, per_ms, tat, per_key)) = row else { return Ok(Ok(Vec::new())) };
        let now = now_millis();
        let limits = QueueLimits::from_stored(cap, starts, per_ms, tat).with_max_per_key(per_key);
        let running: i64 = sqlx::query_scalar(RUNNING)
            .bind(queue.to_owned())
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| sql(OP, e))?;
        let allowed = match limits.allowed(request.max, u64::try_from(running).unwrap_or(0), now as f64) {
            Ok(allowed) => allowed,
            Err(wait) => return Ok(Err(wait)),
        };
        let rows = if allowed == 0 {
            Vec::new()
        } else {
            sqlx::query(EXPIRE_LAST_ATTEMPTS)
                .bind(LEASE_EXPIRED_ON_LAST_ATTEMPT)
                .bind(now)
                .bind(LEASE_EXPIRED_ON_LAST_ATTEMPT)
                .bind(queue.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| sql(OP, e))?;
            let limit = i64::try_from(allowed).unwrap_or(i64::MAX);
            if limits.max_per_key.is_some() {
                let rows = claim_keyed(&mut tx, queue, &limits, limit, now, request).await?;
                return finish_limited(tx, queue, &limits, now, rows).await.map(Ok);
            }
            sqlx::query(sqlx::AssertSqlSafe(LIMITED_CLAIM.as_str()))
                .bind(after(now, request.lease))
                .bind(request.worker.to_string())
                .bind(now)
                .bind(now)
                .bind(queue.to_owned())
                .bind(now)
                .bind(limit)
                .bind(queue.to_owned())
                .bind(now)
                .bind(limit)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| sql(OP, e))?
        };
        finish_limited(tx, queue, &limits, now, rows).await.map(Ok)
    }

    /// Whether the queue has a cap or a rate (and is not paused): its claims take the limited
    /// path.
    async fn limited(&self) -> Result<bool, BackendError> {
        let row: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM drover_queue_settings WHERE queue = ?1 AND paused = 0 \
             AND (max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL)",
        )
        .bind(self.inner.queue.clone())
        .fetch_optional(&self.inner.pool)
        .await
        .map_err(|e| sql("claiming tasks", e))?;
        Ok(row.is_some())
    }

    /// The read-only check before a claim: anything due, or any lease expired.
    async fn claimable(&self, now: i64) -> Result<bool, BackendError> {
        sqlx::query_scalar(CLAIMABLE)
            .bind(self.inner.queue.as_str())
            .bind(now)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(|e| sql("claiming tasks", e))
    }
}

impl<T, C> Backend for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Job = T;
    type Codec = C;

    fn queue(&self) -> &str {
        self.inner.queue.as_str()
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        if request.max == 0 {
            return Ok(Vec::new());
        }
        let now = now_millis();
        // While claims come back full there is surely more work: go straight to the write.
        let checked_at = self.inner.checked_at.load(Ordering::Relaxed);
        let mut check = checked_at == 0 || now.saturating_sub(checked_at) >= CHECK_EVERY_MS;
        let mut claimed = self.claim_once(&request, now, check).await?;
        if claimed.is_empty() && !check {
            // A claim that skipped the check and found nothing checks at once: the due work is
            // gone, but a lease may have expired meanwhile.
            check = true;
            claimed = self.claim_once(&request, now, true).await?;
        }
        if claimed.is_empty() && self.limited().await? {
            claimed = match self.claim_limited(&request).await? {
                Ok(claimed) => claimed,
                // The rate allows no start now: wait for the next one (up to a second), once.
                Err(wait) => {
                    tokio::time::sleep(wait).await;
                    self.claim_limited(&request).await?.unwrap_or_default()
                }
            };
        }
        let checked_at = match (claimed.len() >= request.max, check) {
            (false, _) => 0,
            (true, true) => now,
            (true, false) => checked_at,
        };
        self.inner.checked_at.store(checked_at, Ordering::Relaxed);
        Ok(claimed)
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        let mut wake = false;
        let statements = batch
            .chunks(chunks_of(5))
            .map(|chunk| {
                let mut params = Vec::with_capacity(2 + chunk.len() * 5);
                params.push(Param::Int(now));
                params.push(Param::Int(now));
                for Completion { lease, outcome } in chunk {
                    params.push(Param::Blob(id_bytes(lease.id).to_vec()));
                    params.push(Param::Int(lease.token.0));
                    let (status, run_at, error) = match outcome {
                        Outcome::Done => ("done", None, None),
                        Outcome::Dead { error } => ("dead", None, Some(error.clone())),
                        Outcome::Retry { delay, error } => {
                            wake |= delay.is_zero();
                            ("pending", Some(after(now, *delay)), Some(error.clone()))
                        }
                    };
                    params.push(Param::Text(status.to_owned()));
                    params.push(Param::OptInt(run_at));
                    params.push(Param::OptText(error));
                }
                Statement::new(format!("{COMPLETE_HEAD}{}{COMPLETE_TAIL}", values(chunk.len(), 5)), params)
            })
            .collect();
        self.inner.hub.group.write(&self.inner.pool, "recording completions", statements).await?;
        if wake {
            self.notify();
        }
        Ok(())
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        if leases.is_empty() {
            return Ok(());
        }
        self.update_leases("extending leases", EXTEND_HEAD, &leases, after(now_millis(), lease)).await
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        if leases.is_empty() {
            return Ok(());
        }
        self.update_leases("handing back unstarted tasks", RELEASE_HEAD, &leases, now_millis()).await?;
        self.notify();
        Ok(())
    }

    fn wakeup(&self) -> Option<Wakeup> {
        Some(self.inner.wakeup.subscribe())
    }

    fn worker_registry(&self) -> Option<std::sync::Arc<dyn drover_core::WorkerRegistry>> {
        Some(std::sync::Arc::new(crate::registry::SqliteRegistry::new(self.inner.pool.clone())))
    }
}

/// The end of a limited claim: record the rate's arrival time after the claim's starts,
/// commit, decode.
async fn finish_limited(
    mut tx: sqlx::Transaction<'_, sqlx::Sqlite>,
    queue: &str,
    limits: &QueueLimits,
    now: i64,
    rows: Vec<sqlx::sqlite::SqliteRow>,
) -> Result<Vec<ClaimedTask>, BackendError> {
    const OP: &str = "claiming tasks (limited queue)";
    if limits.rate.is_some() {
        sqlx::query("UPDATE drover_queue_settings SET rate_tat = ?2 WHERE queue = ?1")
            .bind(queue.to_owned())
            .bind(limits.tat_after(now as f64, rows.len()))
            .execute(&mut *tx)
            .await
            .map_err(|e| sql(OP, e))?;
    }
    tx.commit().await.map_err(|e| sql(OP, e))?;
    decode_claims(rows)
}

/// The claim of a queue with a per-key limit, in the limited claim's immediate transaction:
/// read up to `limit` candidates (each key's first tasks in push order, bounded by the limit,
/// with the key's live leases), keep what the limit lets start, claim those.
async fn claim_keyed(
    tx: &mut sqlx::SqliteConnection,
    queue: &str,
    limits: &QueueLimits,
    limit: i64,
    now: i64,
    request: &ClaimRequest,
) -> Result<Vec<sqlx::sqlite::SqliteRow>, BackendError> {
    const OP: &str = "claiming tasks (per-key limit)";
    let k = limits.max_per_key.map_or(i64::MAX, i64::from);
    let candidates: Vec<(Vec<u8>, Option<String>, i64)> = sqlx::query_as(KEYED_CANDIDATES)
        .bind(queue.to_owned())
        .bind(now)
        .bind(k)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| sql(OP, e))?;
    let running: std::collections::HashMap<&str, u64> =
        candidates.iter().filter_map(|c| Some((c.1.as_deref()?, u64::try_from(c.2).unwrap_or(0)))).collect();
    let picks =
        limits.keyed_pick(candidates.iter().map(|c| c.1.as_deref()), |key| running.get(key).copied().unwrap_or(0));
    let ids: Vec<&Vec<u8>> = candidates.iter().zip(picks).filter(|(_, pick)| *pick).map(|(c, _)| &c.0).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement = String::from(KEYED_CLAIM_HEAD);
    for i in 0..ids.len() {
        statement.push_str(if i == 0 { "?" } else { ", ?" });
    }
    statement.push_str(KEYED_CLAIM_TAIL);
    let mut query = sqlx::query(sqlx::AssertSqlSafe(statement))
        .bind(after(now, request.lease))
        .bind(request.worker.to_string())
        .bind(now)
        .bind(now);
    for id in ids {
        query = query.bind(id.clone());
    }
    query.fetch_all(&mut *tx).await.map_err(|e| sql(OP, e))
}

/// The candidates of a keyed claim: due pending tasks and expired leases with attempts left,
/// in claim order, at most ?4; a keyed task only while fewer than ?3 tasks of its key pushed
/// before it (lower id) are unfinished, with its key's live leases (each count stops at ?3
/// rows of the `drover_tasks_concurrency_key` index). Parameters: queue, now, per-key limit,
/// limit.
const KEYED_CANDIDATES: &str = "\
SELECT t.id, t.concurrency_key,
       CASE WHEN t.concurrency_key IS NULL THEN 0 ELSE (
           SELECT COUNT(*) FROM (SELECT 1 FROM drover_tasks AS u
                                 WHERE u.queue = ?1 AND u.concurrency_key = t.concurrency_key
                                   AND u.status = 'running' AND u.lease_expires_at > ?2 LIMIT ?3)
       ) END
FROM drover_tasks AS t
WHERE t.queue = ?1
  AND ((t.status = 'pending' AND t.run_at <= ?2)
       OR (t.status = 'running' AND t.lease_expires_at <= ?2 AND t.attempt < t.max_attempts))
  AND (t.concurrency_key IS NULL OR (
       SELECT COUNT(*) FROM (SELECT 1 FROM drover_tasks AS u
                             WHERE u.queue = ?1 AND u.concurrency_key = t.concurrency_key
                               AND u.status IN ('pending', 'running') AND u.id < t.id LIMIT ?3)
  ) < ?3)
ORDER BY t.priority DESC, t.run_at, t.id
LIMIT ?4";

/// Claim the picked candidates by id. Parameters: deadline, worker, now, now (the start), then the ids.
const KEYED_CLAIM_HEAD: &str = concat!(
    "UPDATE drover_tasks
SET status = 'running', attempt = attempt + 1, lease_token = random(), lease_expires_at = ?,
    claimed_by = ?, updated_at = ?, ",
    claim_sets!(),
    "
WHERE id IN ("
);
const KEYED_CLAIM_TAIL: &str = ") RETURNING id, lease_token, attempt, max_attempts, payload, priority, run_at";

/// Claimed rows as tasks, in claim order (RETURNING gives rows in no particular order).
fn decode_claims(rows: Vec<sqlx::sqlite::SqliteRow>) -> Result<Vec<ClaimedTask>, BackendError> {
    const OP: &str = "claiming tasks";
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let id = id_from(&row.try_get::<Vec<u8>, _>(0).map_err(|e| sql(OP, e))?)?;
        let token: i64 = row.try_get(1).map_err(|e| sql(OP, e))?;
        let attempt: i64 = row.try_get(2).map_err(|e| sql(OP, e))?;
        let max_attempts: i64 = row.try_get(3).map_err(|e| sql(OP, e))?;
        let payload: Vec<u8> = row.try_get(4).map_err(|e| sql(OP, e))?;
        let priority: i64 = row.try_get(5).map_err(|e| sql(OP, e))?;
        let run_at: i64 = row.try_get(6).map_err(|e| sql(OP, e))?;
        let task = ClaimedTask::new(
            id,
            LeaseToken(token),
            u32::try_from(attempt).unwrap_or(u32::MAX),
            u32::try_from(max_attempts).unwrap_or(u32::MAX),
            payload,
        );
        let task = match chrono::DateTime::from_timestamp_millis(run_at) {
            Some(at) => task.with_run_at(at),
            None => task,
        };
        claimed.push(((std::cmp::Reverse(priority), run_at, id), task));
    }
    // RETURNING gives rows in no particular order; the worker starts them in claim order.
    claimed.sort_unstable_by_key(|(key, _)| *key);
    Ok(claimed.into_iter().map(|(_, task)| task).collect())
}

/// A limited queue's settings: cap, rate's starts and period (ms), the rate's arrival time.
type LimitsRow = (Option<i64>, Option<i64>, Option<i64>, f64, Option<i64>);

/// A limited queue's settings (not paused).
const LIMITS: &str = "SELECT max_running, rate_starts, rate_per_ms, rate_tat, max_per_key FROM drover_queue_settings \
     WHERE queue = ?1 AND paused = 0 AND (max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL)";

/// Tasks holding live leases.
const RUNNING: &str =
    "SELECT COUNT(*) FROM drover_tasks WHERE queue = ?1 AND status = 'running' AND lease_expires_at > ?2";

/// The claim of a limited queue: the plain claim, skipping paused queues only.
static LIMITED_CLAIM: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    CLAIM.replace(" OR max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL", "")
});
