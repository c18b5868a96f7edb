//! The contracts between the worker runtime and a storage: a small required trait for the
//! consume side, one for the produce side, and separate traits for optional abilities.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::codec::Codec;
use crate::error::BackendError;
use crate::task::{ClaimedTask, Completion, Lease, NewTask, PushOptions, Status, TaskId, TaskInfo};

/// What a worker asks for when it claims tasks.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClaimRequest {
    /// The claiming worker's name, recorded for inspection.
    pub worker: Arc<str>,
    /// At most this many tasks (the worker's free capacity).
    pub max: usize,
    /// How long the claim holds before the task may be claimed again.
    pub lease: Duration,
}

impl ClaimRequest {
    /// A request for up to `max` tasks leased for `lease` by `worker`.
    pub fn new(worker: impl Into<Arc<str>>, max: usize, lease: Duration) -> Self {
        Self { worker: worker.into(), max, lease }
    }
}

/// The consume side of a storage: claim tasks under a lease, complete them, extend or hand back
/// leases. Every backend implements this; it is all a worker needs.
///
/// Contract (checked by `drover-conformance`):
/// - `claim` returns due, pending tasks (or running tasks whose lease expired), highest priority
///   first then oldest `run_at`, at most `max`, each with a fresh token, its attempt counted,
///   status running and the lease deadline set — atomically, so no two claims share a task.
///   A task whose lease expired on its last attempt (`attempt >= max_attempts`) is not claimed
///   but made dead with [`LEASE_EXPIRED_ON_LAST_ATTEMPT`](crate::LEASE_EXPIRED_ON_LAST_ATTEMPT)
///   as its error, so a job that kills its worker cannot run forever. During a long drain a
///   backend may narrow its claims to where the backlog is being drained from, as long as a
///   task that sorts before it (a higher priority, an earlier `run_at`) or an expired lease is
///   still claimed within a few seconds (conformance `long_drain`: 3 s).
/// - `complete` applies each outcome only where the token still matches; others are ignored.
///   A retry outcome sets the task pending with `run_at = now + delay` and records the error in
///   the same step; dead records the error.
/// - `extend_leases` pushes the deadline of every matching claim to now + `lease`.
/// - `release` hands unstarted claims back: pending, due now, the attempt not counted.
pub trait Backend: Clone + Send + Sync + 'static {
    /// The job type this storage holds.
    type Job: Send + 'static;
    /// How jobs are turned into bytes.
    type Codec: Codec<Self::Job>;

    /// The queue this storage reads and writes.
    fn queue(&self) -> &str;

    /// Claim up to `request.max` due tasks.
    fn claim(&self, request: ClaimRequest) -> impl Future<Output = Result<Vec<ClaimedTask>, BackendError>> + Send;

    /// Record a batch of outcomes, each fenced by its lease token.
    fn complete(&self, batch: Vec<Completion>) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Extend these leases to now + `lease`.
    fn extend_leases(
        &self,
        leases: Vec<Lease>,
        lease: Duration,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Hand back claims that never started (on shutdown).
    fn release(&self, leases: Vec<Lease>) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The most tasks one `claim` returns, whatever it is asked for (default: no limit). The
    /// worker never asks for more, so that a claim returning fewer tasks than asked reliably
    /// means the queue ran short (and the worker idles until a wake-up or its poll interval).
    fn claim_limit(&self) -> usize {
        usize::MAX
    }

    /// A wake-up the server pushes when work may be available. `None` (the default) means the
    /// worker polls at its poll interval.
    fn wakeup(&self) -> Option<Wakeup> {
        None
    }

    /// Where this storage's workers register themselves ([`WorkerRegistry`](crate::WorkerRegistry)):
    /// a worker running on it refreshes its record every
    /// [`REGISTRY_HEARTBEAT`](crate::REGISTRY_HEARTBEAT) and removes it when it stops. `None`
    /// (the default) means the storage keeps no records and workers do nothing more.
    fn worker_registry(&self) -> Option<std::sync::Arc<dyn crate::WorkerRegistry>> {
        None
    }
}

/// The produce side: enqueue jobs. The typed calls encode with the backend's codec and call
/// [`Enqueue::enqueue`], which takes a whole batch in one round trip (or a few).
pub trait Enqueue: Backend {
    /// Store already-encoded tasks; returns their ids in order (for a duplicate unique key, the
    /// id of the task already there). Options the backend cannot honour are an
    /// [`BackendError::Unsupported`] error, never silently dropped.
    ///
    /// Priorities and unique keys: the memory, PostgreSQL, SQLite, MySQL and Redis backends
    /// honour both (their conformance runs the `priorities` and `unique_keys` checks). RSMQ and
    /// AMQP have neither: a push that asks for a non-zero priority or a unique key is refused
    /// with [`BackendError::Unsupported`], naming the option, and nothing of that call is
    /// stored (checked by `refuses_priorities` and `refuses_unique_keys`).
    fn enqueue(&self, tasks: Vec<NewTask>) -> impl Future<Output = Result<Vec<TaskId>, BackendError>> + Send;

    /// Push one job to run now.
    fn push(&self, job: Self::Job) -> impl Future<Output = Result<TaskId, BackendError>> + Send {
        self.push_with(job, PushOptions::default())
    }

    /// Push one job with options (delay or run-at time, priority, attempts, unique key).
    fn push_with(
        &self,
        job: Self::Job,
        options: PushOptions,
    ) -> impl Future<Output = Result<TaskId, BackendError>> + Send {
        let task = Self::Codec::encode(&job).map(|payload| NewTask::new(payload, options));
        async move {
            let ids = self.enqueue(vec![task?]).await?;
            ids.into_iter()
                .next()
                .ok_or_else(|| BackendError::Corrupt("the backend accepted a push but returned no task id".into()))
        }
    }

    /// Push many jobs in one round trip (or a few); returns their ids in order.
    fn push_bulk(
        &self,
        jobs: impl IntoIterator<Item = Self::Job>,
    ) -> impl Future<Output = Result<Vec<TaskId>, BackendError>> + Send {
        let tasks: Result<Vec<NewTask>, _> = jobs
            .into_iter()
            .map(|job| Self::Codec::encode(&job).map(|p| NewTask::new(p, PushOptions::default())))
            .collect();
        async move { self.enqueue(tasks?).await }
    }
}

/// Counts of a queue's tasks by status.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct QueueStats {
    /// Pending tasks (due now or later).
    pub pending: u64,
    /// Pending tasks whose run time is in the future.
    pub scheduled: u64,
    /// Running tasks.
    pub running: u64,
    /// Finished tasks still kept.
    pub done: u64,
    /// Dead tasks.
    pub dead: u64,
    /// Cancelled tasks.
    pub cancelled: u64,
    /// When the task a claim would take next became due: among due pending tasks, the oldest
    /// of the highest priority (with one priority, the oldest due task). `now - oldest_due_at`
    /// is how long the head of the queue has waited; `None` when nothing is due, or when the
    /// backend cannot tell.
    pub oldest_due_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl QueueStats {
    /// The stored status names, in the order the SQL backends' count queries return them.
    pub const NAMES: [&'static str; 6] = ["pending", "scheduled", "running", "done", "dead", "cancelled"];

    /// Record `n` tasks under a stored status name (one of [`QueueStats::NAMES`]), as a
    /// backend's count query returns it; unknown names are ignored and negative counts read
    /// as 0.
    pub fn record(&mut self, status: &str, n: i64) {
        let n = u64::try_from(n).unwrap_or(0);
        match status {
            "pending" => self.pending = n,
            "scheduled" => self.scheduled = n,
            "running" => self.running = n,
            "done" => self.done = n,
            "dead" => self.dead = n,
            "cancelled" => self.cancelled = n,
            _ => {}
        }
    }

    /// Every count under its name, in the order of [`QueueStats::NAMES`] (for metrics and
    /// listings).
    pub fn counts(&self) -> [(&'static str, u64); 6] {
        let values = [self.pending, self.scheduled, self.running, self.done, self.dead, self.cancelled];
        let mut i = 0;
        Self::NAMES.map(|name| {
            i += 1;
            (name, values[i - 1])
        })
    }

    /// The count for one status.
    pub fn count(&self, status: Status) -> u64 {
        match status {
            Status::Pending => self.pending,
            Status::Running => self.running,
            Status::Done => self.done,
            Status::Dead => self.dead,
            Status::Cancelled => self.cancelled,
        }
    }
}

/// A page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// Only tasks with this status; `None` lists all.
    pub status: Option<Status>,
    /// Skip this many (newest first).
    pub offset: u64,
    /// At most this many.
    pub limit: u64,
}

impl ListQuery {
    /// The first `limit` tasks with `status` (or any status), newest first.
    pub fn new(status: Option<Status>, limit: u64) -> Self {
        Self { status, offset: 0, limit }
    }

    /// Start after `offset` tasks.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }
}

/// Read a queue's state: counts, pages of tasks, one task.
pub trait Inspect: Backend {
    /// Counts by status.
    fn stats(&self) -> impl Future<Output = Result<QueueStats, BackendError>> + Send;
    /// A page of tasks, newest first.
    fn list(&self, query: ListQuery) -> impl Future<Output = Result<Vec<TaskInfo>, BackendError>> + Send;
    /// One task by id.
    fn get(&self, id: TaskId) -> impl Future<Output = Result<Option<TaskInfo>, BackendError>> + Send;
}

/// Cancel tasks that have not finished.
pub trait Cancel: Backend {
    /// Cancel a pending or running task. Returns whether it was cancelled (false when it was
    /// already final or does not exist). A running task's claim is revoked: its completion will
    /// be ignored.
    fn cancel(&self, id: TaskId) -> impl Future<Output = Result<bool, BackendError>> + Send;
}

/// Stop and restart a queue's claims. While a queue is paused, every worker's claims on it,
/// on every node, return nothing (expired leases wait too); pushes are still stored, and
/// running tasks finish. The flag is kept by the storage, so it holds across restarts.
pub trait Pause: Backend {
    /// Pause (`true`) or resume (`false`) the queue.
    fn set_paused(&self, paused: bool) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Whether the queue is paused.
    fn is_paused(&self) -> impl Future<Output = Result<bool, BackendError>> + Send;
}

/// A cap on a queue's running tasks across every worker and node, kept by the storage and
/// enforced in the claim itself: while `n` tasks of the queue hold live leases, claims return
/// nothing more. Slots are held by leases, so a killed worker's come back when its leases
/// expire. The worker's own `concurrency` still applies beside it.
pub trait GlobalConcurrency: Backend {
    /// Cap the queue's running tasks at `max` (`None` removes the cap).
    fn set_max_running(&self, max: Option<u32>) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The cap, if any.
    fn max_running(&self) -> impl Future<Output = Result<Option<u32>, BackendError>> + Send;
}

/// A limit per key across every worker and node, kept by the storage and enforced in the
/// claim: tasks pushed with a [`concurrency_key`](crate::PushOptions::concurrency_key) run at
/// most `k` at a time per key, and a key's tasks start in push order. The rule the claim
/// applies: a task of a key may start only while fewer than `k` tasks of that key pushed
/// before it are unfinished (pending, scheduled, retrying or running) and fewer than `k` of
/// the key hold live leases. So with `k = 1` a key's tasks run one at a time, each after the
/// one pushed before it finished (a task waiting for its retry holds its key's turn). Tasks
/// without a key are not limited by it. Slots are held by leases: a killed worker's task runs
/// again, first, when its lease expires. The queue's cap and rate apply beside it.
pub trait KeyConcurrency: Backend {
    /// Limit each key's running tasks to `k` (`None` removes the limit; keys are then ignored).
    fn set_max_running_per_key(&self, k: Option<u32>) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The per-key limit, if any.
    fn max_running_per_key(&self) -> impl Future<Output = Result<Option<u32>, BackendError>> + Send;
}

/// A rate of task starts: at most `starts` per `per`, spread evenly (a start every
/// `per / starts`), with a burst of at most a fortieth of `starts` (at least 1) after a quiet
/// spell, so any window of length `per` sees at most `starts` plus that burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rate {
    /// Starts allowed per period (at least 1).
    pub starts: u32,
    /// The period (at least 1 ms); in JSON, milliseconds.
    #[serde(rename = "per_ms", serialize_with = "millis")]
    pub per: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_millis())
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}ms", self.starts, self.per.as_millis())
    }
}

impl Rate {
    /// At most `starts` per `per`.
    pub fn new(starts: u32, per: Duration) -> Self {
        Self { starts: starts.max(1), per: per.max(Duration::from_millis(1)) }
    }

    /// A rate as SQL storages keep it: starts and the period in milliseconds, each `None` when
    /// no rate is set (out-of-range values are clamped to the valid range).
    pub fn from_stored(starts: Option<i64>, per_ms: Option<i64>) -> Option<Self> {
        let (starts, per_ms) = starts.zip(per_ms)?;
        let starts = u32::try_from(starts.max(1)).unwrap_or(u32::MAX);
        Some(Self::new(starts, Duration::from_millis(u64::try_from(per_ms).unwrap_or(1))))
    }

    /// The time between two starts, in milliseconds.
    pub fn interval_ms(&self) -> f64 {
        self.per.as_secs_f64() * 1000.0 / f64::from(self.starts.max(1))
    }

    /// The most starts allowed at once after a quiet spell.
    pub fn burst(&self) -> u32 {
        self.starts.div_ceil(40).max(1)
    }

    /// The grant for a claim of up to `max` tasks at `now_ms`, given the theoretical arrival
    /// time `tat_ms` kept by the storage (generic cell rate algorithm): how many may start now,
    /// and the new arrival time once `granted` of them did (call [`Rate::advance`]). `Err` is
    /// how long to wait, in milliseconds, for the next start.
    pub fn grant(&self, tat_ms: f64, now_ms: f64, max: usize) -> Result<usize, f64> {
        let t = self.interval_ms();
        let tolerance = t * f64::from(self.burst() - 1);
        let start = tat_ms.max(now_ms);
        if start - now_ms > tolerance {
            return Err(start - tolerance - now_ms);
        }
        let allowed = ((now_ms + tolerance - start) / t).floor() as usize + 1;
        Ok(allowed.min(max))
    }

    /// The arrival time after `started` starts granted at `now_ms`.
    pub fn advance(&self, tat_ms: f64, now_ms: f64, started: usize) -> f64 {
        tat_ms.max(now_ms) + self.interval_ms() * started as f64
    }
}

/// A limited queue's settings, as a storage reads them under the lock that serializes the
/// queue's claims: what a claim may take follows from them in one place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueueLimits {
    /// The cap on running tasks.
    pub max_running: Option<u32>,
    /// The rate of starts.
    pub rate: Option<Rate>,
    /// The rate's theoretical arrival time (epoch milliseconds) as stored.
    pub rate_tat_ms: f64,
    /// The limit per concurrency key ([`KeyConcurrency`]).
    pub max_per_key: Option<u32>,
}

impl QueueLimits {
    /// Limits as SQL storages keep them: a cap, the rate's starts and period (ms), and its
    /// arrival time.
    pub fn from_stored(max_running: Option<i64>, starts: Option<i64>, per_ms: Option<i64>, rate_tat_ms: f64) -> Self {
        let max_running = max_running.map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX));
        Self { max_running, rate: Rate::from_stored(starts, per_ms), rate_tat_ms, max_per_key: None }
    }

    /// With a per-key limit as stored (`None`: none).
    pub fn with_max_per_key(mut self, k: Option<i64>) -> Self {
        self.max_per_key = k.map(|n| u32::try_from(n.max(1)).unwrap_or(u32::MAX));
        self
    }

    /// Which of a claim's `candidates` (in claim order) a per-key limit lets start: each is
    /// its concurrency key (`None`: no key), and `running(key)` counts the key's live leases.
    /// Keyless candidates always pass; a key takes at most `k` minus its running tasks. The
    /// storage's candidate query has already kept only each key's first `k` unfinished tasks.
    pub fn keyed_pick<'a>(
        &self,
        candidates: impl IntoIterator<Item = Option<&'a str>>,
        mut running: impl FnMut(&str) -> u64,
    ) -> Vec<bool> {
        let Some(k) = self.max_per_key else {
            return candidates.into_iter().map(|_| true).collect();
        };
        let mut taken: std::collections::HashMap<&'a str, u64> = std::collections::HashMap::new();
        candidates
            .into_iter()
            .map(|key| match key {
                None => true,
                Some(key) => {
                    let slot = taken.entry(key).or_insert_with(|| running(key));
                    if *slot < u64::from(k) {
                        *slot += 1;
                        true
                    } else {
                        false
                    }
                }
            })
            .collect()
    }

    /// How many of `max` tasks a claim may take at `now_ms` with `running` live leases; `Err`
    /// is how long until the rate allows the next start (at most a second).
    pub fn allowed(&self, max: usize, running: u64, now_ms: f64) -> Result<usize, Duration> {
        let mut allowed = max;
        if let Some(cap) = self.max_running {
            allowed = allowed.min(usize::try_from(u64::from(cap).saturating_sub(running)).unwrap_or(0));
        }
        match self.rate {
            Some(rate) => rate
                .grant(self.rate_tat_ms, now_ms, allowed)
                .map_err(|wait_ms| Duration::from_secs_f64((wait_ms / 1000.0).clamp(0.0, 1.0))),
            None => Ok(allowed),
        }
    }

    /// The rate's arrival time once `started` tasks started at `now_ms` (as stored before,
    /// without a rate).
    pub fn tat_after(&self, now_ms: f64, started: usize) -> f64 {
        self.rate.map_or(self.rate_tat_ms, |rate| rate.advance(self.rate_tat_ms, now_ms, started))
    }
}

/// A queue's rate of task starts across every worker and node, kept by the storage and
/// enforced in the claim itself (see [`Rate`]). A claim that finds no start allowed waits for
/// the next one (up to a second) instead of returning at once, so workers need not poll fast.
/// The worker's own `rate_limit` still applies beside it.
pub trait GlobalRate: Backend {
    /// Limit the queue's starts to `rate` (`None` removes the limit).
    fn set_rate(&self, rate: Option<Rate>) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The limit, if any.
    fn rate(&self) -> impl Future<Output = Result<Option<Rate>, BackendError>> + Send;
}

/// Run finished tasks again.
pub trait Requeue: Backend {
    /// Make a dead or cancelled task pending again, due now, with its attempts reset. Returns
    /// whether it was requeued (false when it is not dead or cancelled, does not exist, or its
    /// unique key is held by another pending or running task).
    fn requeue(&self, id: TaskId) -> impl Future<Output = Result<bool, BackendError>> + Send;
}

/// A batch of pushes that become visible together: nothing pushed into the batch is claimable
/// before [`commit_batch`](EnqueueBatch::commit_batch), and dropping the batch discards all of
/// it. The batch is the storage's own (a buffer stored in one atomic step, a broker
/// transaction): it cannot hold other writes of yours. For a push inside your own database
/// transaction, see [`EnqueueInTransaction`].
pub trait EnqueueBatch: Enqueue {
    /// The batch type.
    type Batch: Send;

    /// Start a batch.
    fn begin_batch(&self) -> impl Future<Output = Result<Self::Batch, BackendError>> + Send;

    /// Push one job into `batch`; returns the id it will have.
    fn push_to<'a>(
        &'a self,
        batch: &'a mut Self::Batch,
        job: Self::Job,
        options: PushOptions,
    ) -> impl Future<Output = Result<TaskId, BackendError>> + Send + 'a;

    /// Store the whole batch, atomically.
    fn commit_batch(&self, batch: Self::Batch) -> impl Future<Output = Result<(), BackendError>> + Send;
}

/// Push inside the caller's own database transaction, beside the caller's other writes: the
/// task becomes visible to workers only when that transaction commits, and vanishes if it rolls
/// back (dropping the transaction rolls it back). The SQL backends implement it, with
/// `Transaction = sqlx::Transaction<'static, DB>`.
pub trait EnqueueInTransaction: Enqueue {
    /// The transaction type (for example `sqlx::Transaction<'static, Postgres>`).
    type Transaction: Send;

    /// Begin a transaction on the storage's own connection pool.
    fn begin(&self) -> impl Future<Output = Result<Self::Transaction, BackendError>> + Send;

    /// Push one job within `tx`.
    fn push_in<'a>(
        &'a self,
        tx: &'a mut Self::Transaction,
        job: Self::Job,
        options: PushOptions,
    ) -> impl Future<Output = Result<TaskId, BackendError>> + Send + 'a;

    /// Commit `tx`, making its pushes visible.
    fn commit(&self, tx: Self::Transaction) -> impl Future<Output = Result<(), BackendError>> + Send;
}

/// The sending half of a wake-up: a backend calls [`WakeupSender::notify`] when work may have
/// arrived (a push in this process, a NOTIFY from the server, a message from the broker).
#[derive(Clone, Debug)]
pub struct WakeupSender(Arc<watch::Sender<u64>>);

impl Default for WakeupSender {
    fn default() -> Self {
        Self(Arc::new(watch::channel(0).0))
    }
}

impl WakeupSender {
    /// A new wake-up channel.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wake every subscribed worker.
    pub fn notify(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiving half for one worker.
    pub fn subscribe(&self) -> Wakeup {
        Wakeup(self.0.subscribe())
    }
}

/// The receiving half of a wake-up. The worker marks it seen before it claims, so a push that
/// lands between an empty claim and the wait is never missed.
#[derive(Debug)]
pub struct Wakeup(watch::Receiver<u64>);

impl Wakeup {
    /// Forget wake-ups so far.
    pub fn mark_seen(&mut self) {
        self.0.borrow_and_update();
    }

    /// Wait for a wake-up after the last [`Wakeup::mark_seen`]. Returns false if the sender is
    /// gone (then the worker falls back to polling).
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

#[cfg(test)]
mod rate_tests {
    use super::Rate;
    use std::time::Duration;

    #[test]
    fn a_rate_spreads_starts_and_allows_a_small_burst() {
        let rate = Rate::new(200, Duration::from_secs(1));
        assert_eq!((rate.interval_ms(), rate.burst()), (5.0, 5));
        // Quiet: a burst of 5, then one every 5 ms.
        assert_eq!(rate.grant(0.0, 1000.0, 100), Ok(5));
        let tat = rate.advance(0.0, 1000.0, 5);
        assert_eq!(tat, 1025.0);
        assert_eq!(rate.grant(tat, 1000.0, 100), Err(5.0), "the next start is due in 5 ms");
        assert_eq!(rate.grant(tat, 1010.0, 100), Ok(2), "two intervals later, two more");
        assert_eq!(rate.grant(0.0, 1000.0, 4), Ok(4), "never more than asked");
        let one = Rate::new(1, Duration::from_secs(60));
        assert_eq!(one.burst(), 1);
        assert_eq!(one.grant(0.0, 0.0, 5), Ok(1));
        assert_eq!(one.grant(one.advance(0.0, 0.0, 1), 0.0, 5), Err(60_000.0));
    }
}
