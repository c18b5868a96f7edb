//! Worker self-registration: each running worker keeps a record of itself in its storage
//! (name, host, pid, queue, concurrency, tasks running now, when it started, when it was last
//! seen), refreshed every [`REGISTRY_HEARTBEAT`] from its loop and removed when it stops; a
//! record not refreshed for [`WORKER_AGE_OUT`] is a dead worker's and is dropped.
//!
//! A backend that can keep records implements [`WorkerRegistry`] and returns it from
//! [`Backend::worker_registry`](crate::Backend::worker_registry); every other backend keeps
//! the default `None` and its workers do nothing more.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::error::BackendError;

/// How often a running worker refreshes its record.
pub const REGISTRY_HEARTBEAT: Duration = Duration::from_secs(5);

/// How long a record lives without a refresh: six missed heartbeats. A worker killed without
/// a graceful stop disappears from listings after this.
pub const WORKER_AGE_OUT: Duration = Duration::from_secs(30);

/// What a worker says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkerRecord {
    /// This run's unique id (a ULID): two processes may run workers of one name.
    pub id: String,
    /// The worker's name.
    pub name: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// The queues it claims from.
    pub queues: Vec<String>,
    /// How many tasks it runs at once.
    pub concurrency: u32,
    /// Tasks it is running now.
    pub running: u32,
    /// When it started (the registry keeps the first registration's time).
    pub started_at: DateTime<Utc>,
    /// When it was last seen, by the storage's clock where the storage has one.
    pub last_seen: DateTime<Utc>,
}

impl WorkerRecord {
    /// A record of worker `name` in this process, started now, with a fresh id.
    pub fn new(name: impl Into<String>, queues: Vec<String>, concurrency: u32) -> Self {
        let now = Utc::now();
        Self {
            id: ulid::Ulid::new().to_string(),
            name: name.into(),
            host: host_name(),
            pid: std::process::id(),
            queues,
            concurrency,
            running: 0,
            started_at: now,
            last_seen: now,
        }
    }

    /// The same record with `running` tasks running now.
    pub fn with_running(mut self, running: u32) -> Self {
        self.running = running;
        self
    }

    /// Put a record together from what a storage kept (for backend implementations).
    #[allow(clippy::too_many_arguments)]
    pub fn from_stored(
        id: impl Into<String>,
        name: impl Into<String>,
        host: impl Into<String>,
        pid: u32,
        queues: Vec<String>,
        concurrency: u32,
        running: u32,
        started_at: DateTime<Utc>,
        last_seen: DateTime<Utc>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            host: host.into(),
            pid,
            queues,
            concurrency,
            running,
            started_at,
            last_seen,
        }
    }
}

impl WorkerRecord {
    /// The queues as a JSON array, for storages that keep them in a text column.
    pub fn queues_json(&self) -> String {
        serde_json::to_string(&self.queues).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Queues written by [`WorkerRecord::queues_json`].
    pub fn queues_from_json(json: &str) -> Result<Vec<String>, BackendError> {
        serde_json::from_str(json).map_err(|e| {
            BackendError::Corrupt(format!(
                "a worker's queues are not a JSON array of names ({e}): was the row written by something other than Drover?"
            ))
        })
    }

    /// The whole record as JSON, for storages that keep it as one value.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// A record written by [`WorkerRecord::to_json`].
    pub fn from_json(json: &[u8]) -> Result<Self, BackendError> {
        serde_json::from_slice(json).map_err(|e| {
            BackendError::Corrupt(format!(
                "a worker record is not the JSON Drover writes ({e}): was it written by something other than Drover?"
            ))
        })
    }
}

/// This machine's name: `HOSTNAME`, else the kernel's (`/proc/sys/kernel/hostname`, `/etc/hostname`),
/// else `COMPUTERNAME` (Windows), else `unknown`.
pub fn host_name() -> String {
    let from_env = |key: &str| std::env::var(key).ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty());
    let from_file =
        |path: &str| std::fs::read_to_string(path).ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty());
    from_env("HOSTNAME")
        .or_else(|| from_file("/proc/sys/kernel/hostname"))
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| from_env("COMPUTERNAME"))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Where workers keep their records: a table, a hash, a map. Object-safe, so a storage hands
/// out `Arc<dyn WorkerRegistry>` whatever its job type.
///
/// The contract (`drover_conformance::admin::admin_workers` checks it): `beat` creates the
/// record or refreshes it (running count and last seen; the first `started_at` stays); `leave`
/// removes it; `workers` lists records seen within `WORKER_AGE_OUT`, oldest start first, and
/// may delete older ones.
pub trait WorkerRegistry: Send + Sync + 'static {
    /// Register `worker`, or refresh its record: last seen now, its running count.
    fn beat<'a>(&'a self, worker: &'a WorkerRecord) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Remove worker `id`'s record (a graceful stop).
    fn leave<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Every worker seen within `age_out`, by start time; older records are dead workers'
    /// and are dropped.
    fn workers(&self, age_out: Duration) -> BoxFuture<'_, Result<Vec<WorkerRecord>, BackendError>>;
}

impl<R: WorkerRegistry + ?Sized> WorkerRegistry for Arc<R> {
    fn beat<'a>(&'a self, worker: &'a WorkerRecord) -> BoxFuture<'a, Result<(), BackendError>> {
        (**self).beat(worker)
    }

    fn leave<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        (**self).leave(id)
    }

    fn workers(&self, age_out: Duration) -> BoxFuture<'_, Result<Vec<WorkerRecord>, BackendError>> {
        (**self).workers(age_out)
    }
}

/// `age_out` as a chrono duration, for comparisons with stored times.
pub(crate) fn age_out_chrono(age_out: Duration) -> chrono::Duration {
    chrono::Duration::from_std(age_out).unwrap_or(chrono::Duration::MAX)
}

/// Worker records in this process's memory: what [`MemoryStorage`](crate::MemoryStorage) and
/// [`MemoryAdmin`](crate::MemoryAdmin) keep. Clones share the records.
#[derive(Clone, Debug, Default)]
pub struct MemoryRegistry {
    records: Arc<std::sync::Mutex<std::collections::HashMap<String, WorkerRecord>>>,
}

impl MemoryRegistry {
    /// No worker yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, WorkerRecord>> {
        // Every method leaves the map whole, so a poisoned lock is safe to keep using.
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl WorkerRegistry for MemoryRegistry {
    fn beat<'a>(&'a self, worker: &'a WorkerRecord) -> BoxFuture<'a, Result<(), BackendError>> {
        let now = Utc::now();
        let mut records = self.lock();
        let started_at = records.get(&worker.id).map_or(worker.started_at, |r| r.started_at);
        let mut record = worker.clone();
        record.started_at = started_at;
        record.last_seen = now;
        records.insert(worker.id.clone(), record);
        Box::pin(async { Ok(()) })
    }

    fn leave<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        self.lock().remove(id);
        Box::pin(async { Ok(()) })
    }

    fn workers(&self, age_out: Duration) -> BoxFuture<'_, Result<Vec<WorkerRecord>, BackendError>> {
        let since = Utc::now() - age_out_chrono(age_out);
        let mut records = self.lock();
        records.retain(|_, r| r.last_seen >= since);
        let mut workers: Vec<WorkerRecord> = records.values().cloned().collect();
        drop(records);
        workers.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        Box::pin(async move { Ok(workers) })
    }
}
