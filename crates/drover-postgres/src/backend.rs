//! The consume side: claim, complete, extend, release, wake-ups.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use drover_core::{
    Backend, BackendError, ClaimRequest, ClaimedTask, Codec, Completion, Lease, LeaseToken, Outcome, QueueLimits,
    TaskId, Wakeup, LEASE_EXPIRED_ON_LAST_ATTEMPT,
};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::db::{run, Db};
use crate::error::db_error;
use crate::hint::Hint;
use crate::storage::PostgresStorage;

const COMPLETE_SQL: &str = include_str!("../sql/complete.sql");
const EXTEND_SQL: &str = include_str!("../sql/extend.sql");
const RELEASE_SQL: &str = include_str!("../sql/release.sql");
const KEYED_CANDIDATES_SQL: &str = include_str!("../sql/keyed_candidates.sql");
const KEYED_CLAIM_SQL: &str = include_str!("../sql/keyed_claim.sql");

/// A duration in whole microseconds, capped at 100 years.
pub(crate) use drover_core::span::micros;

pub(crate) fn uuid_of(id: TaskId) -> Uuid {
    Uuid::from_u128(id.to_u128())
}

pub(crate) fn task_id(id: Uuid) -> TaskId {
    TaskId::from_u128(id.as_u128())
}

/// A non-negative count from the database.
pub(crate) fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Most completions one statement carries: about 55 bytes each without an error, so a
/// statement stays within one TLS record (16 KiB). sqlx 0.9.0 leaves Nagle's algorithm on
/// (sqlx issue #4335), and a message larger than a record goes out as several writes, the last
/// of which waits for the server's delayed ACK: measured here, 500 completions per statement
/// over TLS held a drain at 11,000 jobs/s; 200 per statement, 61,000 (70,000 without TLS).
const COMPLETE_CHUNK: usize = 200;

/// Most bytes of completions (estimated) one statement carries; see [`COMPLETE_CHUNK`].
const COMPLETE_BYTES: usize = 12 * 1024;

/// Most leases one extend or release statement carries (about 32 bytes each), for the reason
/// given at [`COMPLETE_CHUNK`].
const LEASE_CHUNK: usize = 400;

type ClaimRow = (Uuid, i64, i32, i32, Vec<u8>, i32, DateTime<Utc>);

type ClaimQuery<'q> = sqlx::query::QueryAs<'q, sqlx::Postgres, ClaimRow, sqlx::postgres::PgArguments>;

/// `query` with the hint's three parameters bound after its own, if there is a hint.
fn with_hint(query: ClaimQuery<'_>, hint: Option<Hint>) -> ClaimQuery<'_> {
    match hint {
        Some(hint) => query.bind(hint.priority).bind(hint.run_at).bind(hint.id),
        None => query,
    }
}

fn lease_arrays(leases: &[Lease]) -> (Vec<Uuid>, Vec<i64>) {
    leases.iter().map(|l| (uuid_of(l.id), l.token.0)).unzip()
}

/// Hand claims back: pending, due, the attempt not counted.
pub(crate) async fn release_on(db: &Db, queue: &str, leases: Vec<Lease>) -> Result<(), BackendError> {
    for chunk in leases.chunks(LEASE_CHUNK) {
        let (ids, tokens) = lease_arrays(chunk);
        run!(db, execute, sqlx::query(RELEASE_SQL).bind(ids).bind(tokens).bind(queue))
            .map_err(|e| db_error("release", e))?;
    }
    Ok(())
}

impl<T, C> PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// Claim up to `max` tasks from the database, in claim order.
    async fn fetch(&self, max: usize, request: &ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let capped = self.inner.capped.load(Ordering::Relaxed);
        let keyed = self.inner.keyed.load(Ordering::Relaxed);
        let mut rows = if capped {
            Vec::new()
        } else if keyed > 0 {
            self.claim_keyed_rows(keyed, max, request).await?
        } else {
            self.claim_on_pool(max, request).await?
        };
        if !rows.is_empty() {
            return Ok(Self::claimed(rows));
        }
        // A limited queue's plain claim takes nothing: an empty claim looks whether the queue
        // is limited. With only a per-key limit it claims with the keyed statement (as
        // concurrent as the plain one); with a cap or a rate, under the settings row's lock.
        let look = if capped { Some(None) } else { self.limits_on_pool().await?.map(|l| keyed_only(&l)) };
        match look {
            None => {
                self.inner.keyed.store(0, Ordering::Relaxed);
                if keyed > 0 {
                    rows = self.claim_on_pool(max, request).await?;
                }
            }
            Some(Some(k)) => {
                self.inner.keyed.store(k, Ordering::Relaxed);
                if k != keyed {
                    rows = self.claim_keyed_rows(k, max, request).await?;
                }
            }
            Some(None) => {
                self.inner.keyed.store(0, Ordering::Relaxed);
                rows = match self.fetch_limited(max, request).await? {
                    Ok(rows) => rows,
                    // The rate allows no start now: wait for the next one (up to a second), once.
                    Err(wait) => {
                        tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
                        self.fetch_limited(max, request).await?.unwrap_or_default()
                    }
                };
            }
        }
        Ok(Self::claimed(rows))
    }

    /// The claim of a queue with only a per-key limit of `k` (nothing if the limit changed),
    /// with a hint during a long drain.
    async fn claim_keyed_rows(
        &self,
        k: u32,
        max: usize,
        request: &ClaimRequest,
    ) -> Result<Vec<ClaimRow>, BackendError> {
        let inner = &self.inner;
        self.claim_hinted(&inner.keyed_claim_sql, &inner.hinted_keyed_claim_sql, Some(k), max, request).await
    }

    /// The plain claim on the pool, with a hint during a long drain.
    async fn claim_on_pool(&self, max: usize, request: &ClaimRequest) -> Result<Vec<ClaimRow>, BackendError> {
        self.claim_hinted(&self.inner.claim_sql, &self.inner.hinted_claim_sql, None, max, request).await
    }

    /// A concurrent claim on the pool: the statement `full`, or its `hinted` form during a
    /// long drain (see `hint.rs`); `k` is the per-key limit the keyed statements bind after
    /// the claim's own five parameters.
    async fn claim_hinted(
        &self,
        full: &std::sync::Arc<str>,
        hinted: &std::sync::Arc<str>,
        k: Option<u32>,
        max: usize,
        request: &ClaimRequest,
    ) -> Result<Vec<ClaimRow>, BackendError> {
        let started = Instant::now();
        let hint = self.inner.hints.next(started);
        let query = self.claim_query(if hint.is_some() { hinted } else { full }, max, request);
        let query = with_hint(
            match k {
                Some(k) => query.bind(i64::from(k)),
                None => query,
            },
            hint,
        );
        let what = if k.is_some() { "claim (per-key limit)" } else { "claim" };
        let rows: Vec<ClaimRow> = run!(&self.inner.db, fetch_all, query).map_err(|e| db_error(what, e))?;
        self.inner.hints.record(started, hint, max, rows.iter().map(|r| (r.5, r.6, r.0)));
        Ok(rows)
    }

    /// The queue's limits (without the lock), on the pool.
    async fn limits_on_pool(&self) -> Result<Option<Limits>, BackendError> {
        let db = &self.inner.db;
        if !db.pooled {
            return self.limits(&db.pool, false).await;
        }
        let mut tx = db.pool.begin().await.map_err(|e| db_error("claim (begin)", e))?;
        let limits = self.limits(&mut *tx, false).await?;
        tx.commit().await.map_err(|e| db_error("claim (commit)", e))?;
        Ok(limits)
    }

    /// The claim statement `sql` with its five parameters bound.
    fn claim_query<'q>(&'q self, sql: &std::sync::Arc<str>, max: usize, request: &'q ClaimRequest) -> ClaimQuery<'q> {
        sqlx::query_as(AssertSqlSafe(sql.clone()))
            .bind(self.queue_name())
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .bind(micros(request.lease))
            .bind(&*request.worker)
            .bind(LEASE_EXPIRED_ON_LAST_ATTEMPT)
            .persistent(self.inner.db.persistent())
    }

    /// The claim statement, plain (without a hint) or capped, on `conn`.
    async fn claim_rows<'c, E>(
        &self,
        conn: E,
        capped: bool,
        max: usize,
        request: &ClaimRequest,
    ) -> Result<Vec<ClaimRow>, BackendError>
    where
        E: sqlx::Executor<'c, Database = sqlx::Postgres>,
    {
        let sql = if capped { &self.inner.capped_claim_sql } else { &self.inner.claim_sql };
        self.claim_query(sql, max, request).fetch_all(conn).await.map_err(|e| db_error("claim", e))
    }

    /// The queue's limits, if it has any and is not paused; `lock` takes the settings row's lock.
    async fn limits<'c, E>(&self, conn: E, lock: bool) -> Result<Option<Limits>, BackendError>
    where
        E: sqlx::Executor<'c, Database = sqlx::Postgres>,
    {
        let sql = if lock { LIMITS_LOCK_SQL } else { LIMITS_SQL };
        sqlx::query_as(sql)
            .bind(self.queue_name())
            .persistent(self.inner.db.persistent())
            .fetch_optional(conn)
            .await
            .map_err(|e| db_error("claim (limits)", e))
    }

    /// The claim of a limited queue: lock its settings row (claims of the queue queue up
    /// here), count the live leases in a statement of its own (so it sees every claim
    /// committed before the lock was granted), take the rate's grant, claim at most the free
    /// slots and granted starts, record the starts, commit. `Err`: the rate allows no start
    /// for this long.
    async fn fetch_limited(
        &self,
        max: usize,
        request: &ClaimRequest,
    ) -> Result<Result<Vec<ClaimRow>, Duration>, BackendError> {
        let mut tx = self.inner.db.pool.begin().await.map_err(|e| db_error("claim (begin)", e))?;
        let Some((cap, rate_starts, rate_per_ms, tat, per_key, now_ms)) = self.limits(&mut *tx, true).await? else {
            self.inner.capped.store(false, Ordering::Relaxed);
            drop(tx);
            return Ok(Ok(self.claim_on_pool(max, request).await?));
        };
        self.inner.capped.store(true, Ordering::Relaxed);
        let limits = QueueLimits::from_stored(cap.map(i64::from), rate_starts.map(i64::from), rate_per_ms, tat)
            .with_max_per_key(per_key.map(i64::from));
        let running: i64 = if limits.max_running.is_some() {
            sqlx::query_scalar(RUNNING_SQL)
                .bind(self.queue_name())
                .persistent(self.inner.db.persistent())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| db_error("claim (running tasks)", e))?
        } else {
            0
        };
        let allowed = match limits.allowed(max, u64::try_from(running).unwrap_or(0), now_ms) {
            Ok(allowed) => allowed,
            Err(wait) => return Ok(Err(wait)),
        };
        let rows = if allowed == 0 {
            Vec::new()
        } else if limits.max_per_key.is_some() {
            self.claim_keyed(&mut tx, &limits, allowed, request).await?
        } else {
            self.claim_rows(&mut *tx, true, allowed, request).await?
        };
        if limits.rate.is_some() {
            sqlx::query(ADVANCE_RATE_SQL)
                .bind(self.queue_name())
                .bind(limits.tat_after(now_ms, rows.len()))
                .persistent(self.inner.db.persistent())
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error("claim (rate)", e))?;
        }
        tx.commit().await.map_err(|e| db_error("claim (commit)", e))?;
        Ok(Ok(rows))
    }

    /// The claim of a queue with a per-key limit, in the limited claim's transaction: read
    /// the candidates (each key's first tasks, locked), keep what the limit lets start given
    /// the keys' live leases, claim those and bury expired ones on their last attempt.
    async fn claim_keyed(
        &self,
        tx: &mut sqlx::PgConnection,
        limits: &QueueLimits,
        max: usize,
        request: &ClaimRequest,
    ) -> Result<Vec<ClaimRow>, BackendError> {
        let k = limits.max_per_key.map_or(i64::MAX, i64::from);
        let rows: Vec<(Option<Uuid>, Option<String>, bool, i64)> = sqlx::query_as(KEYED_CANDIDATES_SQL)
            .bind(self.queue_name())
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .bind(k)
            .persistent(self.inner.db.persistent())
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| db_error("claim (keyed candidates)", e))?;
        // Candidates (with an id and their place in claim order), and each key's live leases
        // (without an id).
        let mut running = std::collections::HashMap::new();
        let (mut buried, mut live) = (Vec::new(), Vec::new());
        for (id, key, bury, n) in rows {
            match (id, key) {
                (Some(id), key) if bury => buried.push((id, key)),
                (Some(id), key) => live.push((n, id, key)),
                (None, Some(key)) => {
                    running.insert(key, u64::try_from(n).unwrap_or(0));
                }
                (None, None) => {}
            }
        }
        live.sort_unstable_by_key(|c| c.0);
        let picks =
            limits.keyed_pick(live.iter().map(|c| c.2.as_deref()), |key| running.get(key).copied().unwrap_or(0));
        let ids: Vec<Uuid> = live.iter().zip(picks).filter(|(_, pick)| *pick).map(|(c, _)| c.1).collect();
        let buried: Vec<Uuid> = buried.into_iter().map(|c| c.0).collect();
        if ids.is_empty() && buried.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_as(KEYED_CLAIM_SQL)
            .bind(ids)
            .bind(micros(request.lease))
            .bind(&*request.worker)
            .bind(buried)
            .bind(LEASE_EXPIRED_ON_LAST_ATTEMPT)
            .persistent(self.inner.db.persistent())
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| db_error("claim (keyed)", e))
    }

    /// Claimed rows as tasks, in claim order (RETURNING has no order).
    fn claimed(mut rows: Vec<ClaimRow>) -> Vec<ClaimedTask> {
        rows.sort_unstable_by(|a, b| b.5.cmp(&a.5).then(a.6.cmp(&b.6)).then(a.0.cmp(&b.0)));
        rows.into_iter()
            .map(|(id, token, attempt, max_attempts, payload, _, run_at)| {
                ClaimedTask::new(task_id(id), LeaseToken(token), count(attempt), count(max_attempts), payload)
                    .with_run_at(run_at)
            })
            .collect()
    }

    /// One completion statement.
    async fn complete_chunk(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len();
        let (mut ids, mut tokens) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut kinds, mut delays, mut errors) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for Completion { lease, outcome } in batch {
            ids.push(uuid_of(lease.id));
            tokens.push(lease.token.0);
            let (kind, delay, error): (i16, i64, Option<String>) = match outcome {
                Outcome::Done => (0, 0, None),
                Outcome::Retry { delay, error } => (1, micros(delay), Some(error)),
                Outcome::Dead { error } => (2, 0, Some(error)),
            };
            kinds.push(kind);
            delays.push(delay);
            errors.push(error);
        }
        let query = sqlx::query(COMPLETE_SQL)
            .bind(ids)
            .bind(tokens)
            .bind(kinds)
            .bind(delays)
            .bind(errors)
            .bind(self.queue_name());
        run!(&self.inner.db, execute, query).map_err(|e| db_error("complete", e))?;
        Ok(())
    }
}

impl<T, C> Backend for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Job = T;
    type Codec = C;

    fn queue(&self) -> &str {
        self.queue_name()
    }

    fn claim_limit(&self) -> usize {
        self.inner.config.claim_limit()
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        self.fetch(request.max.min(self.claim_limit()), &request).await
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        // Cut where a statement would outgrow one TLS record: by count, and by error text.
        let mut chunk = Vec::with_capacity(batch.len().min(COMPLETE_CHUNK));
        let mut bytes = 0usize;
        for completion in batch {
            let size = 56
                + match &completion.outcome {
                    Outcome::Done => 0,
                    Outcome::Retry { error, .. } | Outcome::Dead { error } => error.len(),
                };
            if !chunk.is_empty() && (chunk.len() == COMPLETE_CHUNK || bytes + size > COMPLETE_BYTES) {
                self.complete_chunk(std::mem::take(&mut chunk)).await?;
                bytes = 0;
            }
            bytes += size;
            chunk.push(completion);
        }
        self.complete_chunk(chunk).await
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        if leases.is_empty() {
            return Ok(());
        }
        for chunk in leases.chunks(LEASE_CHUNK) {
            let (ids, tokens) = lease_arrays(chunk);
            run!(&self.inner.db, execute, sqlx::query(EXTEND_SQL).bind(ids).bind(tokens).bind(micros(lease)))
                .map_err(|e| db_error("extend leases", e))?;
        }
        Ok(())
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        if leases.is_empty() {
            return Ok(());
        }
        release_on(&self.inner.db, self.queue_name(), leases).await?;
        self.inner.hub.notify_local(self.queue_name());
        Ok(())
    }

    fn wakeup(&self) -> Option<Wakeup> {
        if !self.inner.config.listen() {
            return None;
        }
        self.inner.hub.subscribe(self.queue_name())
    }

    fn worker_registry(&self) -> Option<std::sync::Arc<dyn drover_core::WorkerRegistry>> {
        Some(std::sync::Arc::new(crate::registry::PostgresRegistry::new(self.inner.db.clone())))
    }
}

/// A limited queue's settings: cap, rate, the rate's arrival time, the per-key limit, and the
/// server's clock (ms).
type Limits = (Option<i32>, Option<i32>, Option<i64>, f64, Option<i32>, f64);

/// The per-key limit of a queue whose only limit it is.
fn keyed_only(limits: &Limits) -> Option<u32> {
    match limits {
        (None, None, _, _, Some(k), _) => Some(u32::try_from(*k).unwrap_or(1).max(1)),
        _ => None,
    }
}

/// The queue's limits, when it has some and is not paused.
const LIMITS_SQL: &str = "SELECT max_running, rate_starts, rate_per_ms, rate_tat, max_per_key, \
     (extract(epoch FROM clock_timestamp()) * 1000)::float8 FROM drover.queue_settings \
     WHERE queue = $1 AND NOT paused \
     AND (max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL)";
/// The same, locking the row for the claim's transaction.
const LIMITS_LOCK_SQL: &str = "SELECT max_running, rate_starts, rate_per_ms, rate_tat, max_per_key, \
     (extract(epoch FROM clock_timestamp()) * 1000)::float8 FROM drover.queue_settings \
     WHERE queue = $1 AND NOT paused \
     AND (max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL) FOR UPDATE";
/// The rate's arrival time after a claim's starts.
const ADVANCE_RATE_SQL: &str = "UPDATE drover.queue_settings SET rate_tat = $2 WHERE queue = $1";
/// Tasks holding live leases (tasks_running_lease_idx).
const RUNNING_SQL: &str =
    "SELECT count(*) FROM drover.tasks WHERE queue = $1 AND status = 'running' AND lease_expires_at > now()";
