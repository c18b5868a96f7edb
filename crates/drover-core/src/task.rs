//! The task envelope: identifiers, status, and the records that cross the backend boundary.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The identifier of a task: a ULID, so ids sort by creation time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(ulid::Ulid);

impl TaskId {
    /// A new id, made from the current time and randomness.
    pub fn new() -> Self {
        Self(next_ulid())
    }

    /// The id as a 128-bit number (the ULID's bytes), for storages with a native UUID column.
    pub fn to_u128(self) -> u128 {
        self.0 .0
    }

    /// The id from a 128-bit number written by [`TaskId::to_u128`].
    pub fn from_u128(value: u128) -> Self {
        Self(ulid::Ulid(value))
    }

    /// The id as 16 big-endian bytes, for storages with a binary column: byte order is
    /// creation order.
    pub fn to_bytes(self) -> [u8; 16] {
        self.to_u128().to_be_bytes()
    }

    /// The id from bytes written by [`TaskId::to_bytes`]; `None` unless there are 16 of them.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: [u8; 16] = bytes.try_into().ok()?;
        Some(Self::from_u128(u128::from_be_bytes(bytes)))
    }

    /// When the id was made.
    pub fn created_at(self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.0.datetime())
    }
}

impl Default for TaskId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0)
    }
}

/// The text given to [`TaskId::from_str`] was not a ULID.
#[derive(Debug, thiserror::Error)]
#[error("`{input}` is not a task id: expected a 26-character ULID such as 01HZX3J5R8Q2M4N6P7S9T0V1W2")]
pub struct ParseTaskIdError {
    input: String,
}

impl FromStr for TaskId {
    type Err = ParseTaskIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ulid::Ulid::from_string(s).map(Self).map_err(|_| ParseTaskIdError { input: s.to_owned() })
    }
}

/// A claim's fencing token. A completion or lease extension whose token no longer matches the
/// task's current claim is ignored, so a worker whose lease ran out cannot overwrite the work of
/// the worker that took the task over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseToken(pub i64);

impl LeaseToken {
    /// A random token; backends without a sequence of their own use this.
    pub fn random() -> Self {
        Self(fastrand::i64(1..i64::MAX))
    }
}

impl fmt::Display for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// Where a task is in its life. See `docs/state-machine.md` for the diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting to run at or after its `run_at` (new, or failed and waiting for its retry).
    Pending,
    /// Claimed by a worker under a lease.
    Running,
    /// Finished successfully.
    Done,
    /// Failed for the last time (attempts exhausted, or aborted); kept for inspection and retry.
    Dead,
    /// Cancelled by request before it finished.
    Cancelled,
}

impl Status {
    /// Every status, in life order.
    pub const ALL: [Status; 5] = [Status::Pending, Status::Running, Status::Done, Status::Dead, Status::Cancelled];

    /// Whether the task will never run again unless someone requeues it.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Done | Status::Dead | Status::Cancelled)
    }

    /// The lowercase name used in storage and in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Dead => "dead",
            Status::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text given to [`Status::from_str`] named no status.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a task status: expected pending, running, done, dead or cancelled")]
pub struct ParseStatusError(String);

impl FromStr for Status {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL.into_iter().find(|status| status.as_str() == s).ok_or_else(|| ParseStatusError(s.to_owned()))
    }
}

/// The error recorded when a task's lease expires on its last attempt: the worker running it
/// crashed, was killed or stopped heartbeating, and the task is dead instead of re-run forever.
pub const LEASE_EXPIRED_ON_LAST_ATTEMPT: &str =
    "lease expired on the final attempt: the worker running it crashed, was killed or stopped heartbeating";

/// The default number of attempts a task gets before it is dead.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 25;

/// How a job should be enqueued: when, how urgently, how many attempts, and deduplication.
///
/// ```
/// use drover_core::PushOptions;
/// use std::time::Duration;
///
/// let options = PushOptions::new()
///     .delay(Duration::from_secs(60))
///     .priority(10)
///     .max_attempts(5)
///     .unique_key("welcome-email:42")
///     .concurrency_key("customer:42");
/// assert_eq!(options.priority, 10);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushOptions {
    /// Earliest time the task may run; `None` means now.
    pub run_at: Option<DateTime<Utc>>,
    /// Higher runs first among due tasks. A backend without priorities (RSMQ, AMQP) refuses a
    /// non-zero one with [`BackendError::Unsupported`](crate::BackendError::Unsupported).
    pub priority: i32,
    /// Attempts before the task is dead; `None` means [`DEFAULT_MAX_ATTEMPTS`].
    pub max_attempts: Option<u32>,
    /// While a task with this key is pending or running, pushing another returns the first
    /// one's id. A backend without unique keys (RSMQ, AMQP) refuses one with
    /// [`BackendError::Unsupported`](crate::BackendError::Unsupported).
    pub unique_key: Option<String>,
    /// The task's key for per-key concurrency ([`KeyConcurrency`](crate::KeyConcurrency)), for
    /// example a customer id: while the queue has a per-key limit of K, at most K tasks of one
    /// key run at once, and they start in push order. A backend without per-key concurrency
    /// refuses one with [`BackendError::Unsupported`](crate::BackendError::Unsupported).
    pub concurrency_key: Option<String>,
}

impl PushOptions {
    /// Run now, priority 0, default attempts, no unique key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Run no earlier than `delay` from now.
    pub fn delay(mut self, delay: Duration) -> Self {
        let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        self.run_at = Some(Utc::now().checked_add_signed(delay).unwrap_or(DateTime::<Utc>::MAX_UTC));
        self
    }

    /// Run no earlier than `at`.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Set the priority (higher first).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Set the number of attempts before the task is dead (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }

    /// Deduplicate by `key` while a task with the same key is pending or running.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Run under `key`'s per-key concurrency limit (see [`PushOptions::concurrency_key`]).
    pub fn concurrency_key(mut self, key: impl Into<String>) -> Self {
        self.concurrency_key = Some(key.into());
        self
    }
}

/// A task on its way into a backend: the encoded payload and the push options.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTask {
    /// The id the task will have (a duplicate of a unique key returns the existing id instead).
    pub id: TaskId,
    /// The encoded job.
    pub payload: Vec<u8>,
    /// Earliest run time; `None` means now (by the backend's clock).
    pub run_at: Option<DateTime<Utc>>,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts before the task is dead.
    pub max_attempts: u32,
    /// Deduplication key.
    pub unique_key: Option<String>,
    /// Per-key concurrency key.
    pub concurrency_key: Option<String>,
}

impl NewTask {
    /// A task with a fresh id and the given options.
    pub fn new(payload: Vec<u8>, options: PushOptions) -> Self {
        Self {
            id: TaskId::new(),
            payload,
            run_at: options.run_at,
            priority: options.priority,
            max_attempts: options.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1),
            unique_key: options.unique_key,
            concurrency_key: options.concurrency_key,
        }
    }
}

/// Refuse tasks that ask for per-key concurrency, for a backend (named `backend`) that has
/// none: the error names the key and says what to do.
pub fn refuse_concurrency_keys(backend: &str, tasks: &[NewTask]) -> Result<(), crate::BackendError> {
    match tasks.iter().find_map(|t| t.concurrency_key.as_deref()) {
        Some(key) => Err(crate::BackendError::Unsupported(format!(
            "{backend} queues have no per-key concurrency (a push asked for the concurrency key `{key}`): \
             push without a concurrency key, or use a backend with KeyConcurrency (PostgreSQL, MySQL, SQLite, Redis)"
        ))),
        None => Ok(()),
    }
}

/// A fresh ULID, strictly increasing within this process (so ids of one producer's pushes are
/// in push order even within a millisecond); a new random one if the counter overflows.
fn next_ulid() -> ulid::Ulid {
    use std::sync::Mutex;
    static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
    let mut guard = match GENERATOR.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    guard.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

/// A task a worker has claimed: what it needs to run it and to report back.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimedTask {
    /// The task's id.
    pub id: TaskId,
    /// The claim's fencing token.
    pub token: LeaseToken,
    /// This attempt's number, starting at 1 (the claim counts it).
    pub attempt: u32,
    /// Attempts allowed before the task is dead.
    pub max_attempts: u32,
    /// The encoded job.
    pub payload: Vec<u8>,
    /// When the task became due: its scheduled time, or its retry's. `None` when the backend
    /// does not know; the task then counts as due when it was enqueued.
    pub run_at: Option<DateTime<Utc>>,
    /// When the task was enqueued, where the backend knows better than the id's timestamp
    /// (which is the enqueue time of every task pushed through Drover).
    pub enqueued_at: Option<DateTime<Utc>>,
}

impl ClaimedTask {
    /// Put together a claimed task (for backend implementations).
    pub fn new(id: TaskId, token: LeaseToken, attempt: u32, max_attempts: u32, payload: Vec<u8>) -> Self {
        Self { id, token, attempt, max_attempts, payload, run_at: None, enqueued_at: None }
    }

    /// The time the task became due (see [`ClaimedTask::run_at`]).
    pub fn with_run_at(mut self, run_at: DateTime<Utc>) -> Self {
        self.run_at = Some(run_at);
        self
    }

    /// The time the task was enqueued (see [`ClaimedTask::enqueued_at`]).
    pub fn with_enqueued_at(mut self, enqueued_at: DateTime<Utc>) -> Self {
        self.enqueued_at = Some(enqueued_at);
        self
    }

    /// The reference used to extend, release or complete this claim.
    pub fn lease(&self) -> Lease {
        Lease { id: self.id, token: self.token }
    }
}

/// A claim on one task: the id and the token that fences it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The claimed task.
    pub id: TaskId,
    /// The claim's token.
    pub token: LeaseToken,
}

/// What became of one run of a task, as the worker reports it to the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Succeeded: the task is done.
    Done,
    /// Failed and will run again after `delay`, measured by the backend's clock. The backend
    /// stores the error, sets the task pending and moves `run_at`, all in one step.
    Retry {
        /// How long to wait before the next attempt.
        delay: Duration,
        /// Why this attempt failed.
        error: String,
    },
    /// Failed for good: the task is dead, with `error` recorded.
    Dead {
        /// Why the task died.
        error: String,
    },
}

/// One completion, fenced by the claim's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The claim being completed.
    pub lease: Lease,
    /// What happened.
    pub outcome: Outcome,
}

/// A task as inspection sees it: the whole envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id.
    pub id: TaskId,
    /// The queue it belongs to.
    pub queue: String,
    /// The encoded job.
    pub payload: Vec<u8>,
    /// Where it is in its life.
    pub status: Status,
    /// Attempts made so far (claims).
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Earliest (next) run time.
    pub run_at: DateTime<Utc>,
    /// Higher runs first.
    pub priority: i32,
    /// Deduplication key, if any.
    pub unique_key: Option<String>,
    /// Per-key concurrency key, if any.
    #[serde(default)]
    pub concurrency_key: Option<String>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was pushed.
    pub created_at: DateTime<Utc>,
    /// When its record last changed.
    pub updated_at: DateTime<Utc>,
    /// When the current lease runs out, while running.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// When the current attempt (or, once finished, the last one) started: its claim's time.
    /// `None` before the first claim, and for tasks last claimed before the backend kept it.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// The attempts that failed (retried, dead, or whose lease expired), oldest first: the
    /// last [`ATTEMPT_HISTORY_LIMIT`] of them. A successful attempt adds nothing; it is the
    /// task's `attempt`, from `started_at` to `updated_at`. A number missing between two
    /// records is an attempt the backend saw no end of (see [`AttemptRecord`]).
    #[serde(default)]
    pub attempts: Vec<AttemptRecord>,
}

/// How many failed attempts a task's history keeps (the newest ones): rows stay small however
/// often a task fails.
pub const ATTEMPT_HISTORY_LIMIT: usize = 20;

/// One failed attempt of a task, as its history ([`TaskInfo::attempts`]) keeps it.
///
/// Backends record an attempt when its outcome is a retry or death, and when its lease is
/// found expired (the error is then [`LEASE_EXPIRED`] or [`LEASE_EXPIRED_ON_LAST_ATTEMPT`]).
/// A successful attempt costs the storage nothing.
///
/// Backends store the history as a JSON array of `{"n": attempt, "s": start, "f": end, "e":
/// error}` objects, times in milliseconds since the Unix epoch (`s` null when unknown, `e`
/// null for an expired lease whose task ran again, read as [`LEASE_EXPIRED`]);
/// [`AttemptRecord::decode_history`] reads it, [`AttemptRecord::encode_history`] writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttemptRecord {
    /// The attempt's number, starting at 1.
    pub attempt: u32,
    /// When it started (its claim), where the backend knows.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended: its outcome's report, or when its lease ran out.
    pub finished_at: DateTime<Utc>,
    /// Why it failed.
    pub error: String,
}

/// The error an attempt's history records when its lease expired and the task was run again.
pub const LEASE_EXPIRED: &str =
    "lease expired: the worker running it crashed, was killed or stopped heartbeating; the task ran again";

/// One attempt as backends store it.
#[derive(Serialize, Deserialize)]
struct StoredAttempt {
    n: u32,
    #[serde(default)]
    s: Option<i64>,
    f: i64,
    #[serde(default)]
    e: Option<String>,
}

impl AttemptRecord {
    /// A record of attempt `attempt` (for backend implementations).
    pub fn new(
        attempt: u32,
        started_at: Option<DateTime<Utc>>,
        finished_at: DateTime<Utc>,
        error: impl Into<String>,
    ) -> Self {
        Self { attempt, started_at, finished_at, error: error.into() }
    }

    /// Read a history stored as JSON (see [`AttemptRecord`]); empty input is an empty history.
    pub fn decode_history(json: &[u8]) -> Result<Vec<AttemptRecord>, crate::BackendError> {
        if json.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        // Lua's cjson writes an empty array as an empty object.
        if json.iter().filter(|b| !b.is_ascii_whitespace()).eq(b"{}".iter()) {
            return Ok(Vec::new());
        }
        let stored: Vec<StoredAttempt> = serde_json::from_slice(json).map_err(|e| {
            crate::BackendError::Corrupt(format!(
                "a task's attempt history is not a JSON array of {{n, s, f, e}} objects ({e}): \
                 was the column written by something other than Drover?"
            ))
        })?;
        let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        Ok(stored
            .into_iter()
            .map(|a| AttemptRecord {
                attempt: a.n,
                started_at: a.s.map(at),
                finished_at: at(a.f),
                error: a.e.unwrap_or_else(|| LEASE_EXPIRED.to_owned()),
            })
            .collect())
    }

    /// Write a history in the stored form (see [`AttemptRecord`]).
    pub fn encode_history(history: &[AttemptRecord]) -> String {
        let stored: Vec<StoredAttempt> = history
            .iter()
            .map(|a| StoredAttempt {
                n: a.attempt,
                s: a.started_at.map(|t| t.timestamp_millis()),
                f: a.finished_at.timestamp_millis(),
                e: Some(a.error.clone()),
            })
            .collect();
        serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Append `record` to `history`, dropping the oldest beyond [`ATTEMPT_HISTORY_LIMIT`].
    pub fn push_bounded(history: &mut Vec<AttemptRecord>, record: AttemptRecord) {
        history.push(record);
        if history.len() > ATTEMPT_HISTORY_LIMIT {
            let excess = history.len() - ATTEMPT_HISTORY_LIMIT;
            history.drain(..excess);
        }
    }
}

impl TaskInfo {
    /// A pending task's envelope made from a [`NewTask`] (for backend implementations).
    pub fn from_new(queue: &str, task: &NewTask, now: DateTime<Utc>) -> Self {
        Self {
            id: task.id,
            queue: queue.to_owned(),
            payload: task.payload.clone(),
            status: Status::Pending,
            attempt: 0,
            max_attempts: task.max_attempts,
            run_at: task.run_at.unwrap_or(now),
            priority: task.priority,
            unique_key: task.unique_key.clone(),
            concurrency_key: task.concurrency_key.clone(),
            last_error: None,
            created_at: now,
            updated_at: now,
            lease_expires_at: None,
            started_at: None,
            attempts: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_round_trips_through_bytes() {
        let id = TaskId::new();
        assert_eq!(TaskId::from_bytes(&id.to_bytes()), Some(id));
        assert_eq!(TaskId::from_bytes(&[0; 15]), None);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = TaskId::new();
        assert!(id.to_bytes() < later.to_bytes(), "byte order is creation order (by millisecond)");
    }

    #[test]
    fn task_id_round_trips_through_text_and_u128() {
        let id = TaskId::new();
        assert_eq!(id.to_string().parse::<TaskId>().unwrap(), id);
        assert_eq!(TaskId::from_u128(id.to_u128()), id);
        let err = "nope".parse::<TaskId>().unwrap_err().to_string();
        assert!(err.contains("ULID"), "{err}");
    }

    #[test]
    fn attempt_history_round_trips_and_is_bounded() {
        let t = |ms| DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
        let mut history = Vec::new();
        for n in 1..=25 {
            AttemptRecord::push_bounded(
                &mut history,
                AttemptRecord::new(n, Some(t(1_000 * i64::from(n))), t(1_500), "boom"),
            );
        }
        assert_eq!(history.len(), ATTEMPT_HISTORY_LIMIT);
        assert_eq!(history[0].attempt, 6);
        let json = AttemptRecord::encode_history(&history);
        assert_eq!(AttemptRecord::decode_history(json.as_bytes()).unwrap(), history);
        assert!(AttemptRecord::decode_history(b"").unwrap().is_empty());
        assert!(AttemptRecord::decode_history(b"{}").unwrap().is_empty());
        let from_sql = br#"[{"n": 1, "s": null, "f": 1500, "e": "x"}, {"n": 2, "s": 1600, "f": 2500, "e": null}]"#;
        assert_eq!(
            AttemptRecord::decode_history(from_sql).unwrap(),
            vec![
                AttemptRecord::new(1, None, t(1_500), "x"),
                AttemptRecord::new(2, Some(t(1_600)), t(2_500), LEASE_EXPIRED)
            ]
        );
        let err = AttemptRecord::decode_history(b"[1]").unwrap_err().to_string();
        assert!(err.contains("attempt history"), "{err}");
    }

    #[test]
    fn status_round_trips() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), status);
        }
        assert!("bogus".parse::<Status>().is_err());
    }
}
