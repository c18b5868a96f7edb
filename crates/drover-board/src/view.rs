//! What the JSON API answers: the admin contract's values in a stable, documented shape
//! (`assets/openapi.json`).

use base64::Engine;
use chrono::{DateTime, Utc};
use drover_core::{AttemptRecord, QueueStats, QueueSummary, Rate, TaskInfo, WorkerSummary};
use serde::Serialize;

/// Counts of a queue's tasks by status.
#[derive(Serialize)]
pub(crate) struct CountsView {
    pub(crate) pending: u64,
    pub(crate) scheduled: u64,
    pub(crate) running: u64,
    pub(crate) done: u64,
    pub(crate) dead: u64,
    pub(crate) cancelled: u64,
}

impl From<&QueueStats> for CountsView {
    fn from(s: &QueueStats) -> Self {
        Self {
            pending: s.pending,
            scheduled: s.scheduled,
            running: s.running,
            done: s.done,
            dead: s.dead,
            cancelled: s.cancelled,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct QueueView {
    pub(crate) store: String,
    pub(crate) backend: &'static str,
    pub(crate) queue: String,
    pub(crate) paused: bool,
    pub(crate) counts: CountsView,
    pub(crate) oldest_due_at: Option<DateTime<Utc>>,
    pub(crate) limits: LimitsView,
}

/// A queue's limits across every worker and node, as its storage keeps them.
#[derive(Serialize)]
pub(crate) struct LimitsView {
    /// The cap on running tasks, if any.
    pub(crate) max_running: Option<u32>,
    /// The rate of starts (`{"starts": 200, "per_ms": 1000}`), if any.
    pub(crate) rate: Option<Rate>,
    /// The cap on running tasks per concurrency key, if any.
    pub(crate) max_per_key: Option<u32>,
}

impl From<&QueueSummary> for LimitsView {
    fn from(s: &QueueSummary) -> Self {
        Self { max_running: s.max_running, rate: s.rate, max_per_key: s.max_per_key }
    }
}

impl QueueView {
    pub(crate) fn new(store: &str, backend: &'static str, summary: &QueueSummary) -> Self {
        Self {
            store: store.to_owned(),
            backend,
            queue: summary.queue.clone(),
            paused: summary.paused,
            counts: CountsView::from(&summary.stats),
            oldest_due_at: summary.stats.oldest_due_at,
            limits: LimitsView::from(summary),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct TaskView {
    pub(crate) id: String,
    pub(crate) store: String,
    pub(crate) queue: String,
    pub(crate) status: &'static str,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) priority: i32,
    pub(crate) run_at: DateTime<Utc>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) lease_expires_at: Option<DateTime<Utc>>,
    pub(crate) unique_key: Option<String>,
    pub(crate) last_error: Option<String>,
    /// When the current (or last) attempt started.
    pub(crate) started_at: Option<DateTime<Utc>>,
    /// The failed attempts, oldest first (the storage keeps the last 20).
    pub(crate) attempts: Vec<AttemptView>,
    /// The payload when it is JSON (the default codec), else null.
    pub(crate) payload: Option<serde_json::Value>,
    /// The payload's bytes, always.
    pub(crate) payload_base64: String,
}

impl TaskView {
    pub(crate) fn new(store: &str, task: &TaskInfo) -> Self {
        Self {
            id: task.id.to_string(),
            store: store.to_owned(),
            queue: task.queue.clone(),
            status: task.status.as_str(),
            attempt: task.attempt,
            max_attempts: task.max_attempts,
            priority: task.priority,
            run_at: task.run_at,
            created_at: task.created_at,
            updated_at: task.updated_at,
            lease_expires_at: task.lease_expires_at,
            unique_key: task.unique_key.clone(),
            last_error: task.last_error.clone(),
            started_at: task.started_at,
            attempts: task.attempts.iter().map(AttemptView::from).collect(),
            payload: serde_json::from_slice(&task.payload).ok(),
            payload_base64: base64::engine::general_purpose::STANDARD.encode(&task.payload),
        }
    }
}

/// One failed attempt of a task.
#[derive(Serialize)]
pub(crate) struct AttemptView {
    pub(crate) attempt: u32,
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) finished_at: DateTime<Utc>,
    /// How long it ran, when its start is known.
    pub(crate) duration_ms: Option<i64>,
    pub(crate) error: String,
}

impl From<&AttemptRecord> for AttemptView {
    fn from(a: &AttemptRecord) -> Self {
        Self {
            attempt: a.attempt,
            started_at: a.started_at,
            finished_at: a.finished_at,
            duration_ms: a.started_at.map(|s| (a.finished_at - s).num_milliseconds().max(0)),
            error: a.error.clone(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct WorkerView {
    pub(crate) name: String,
    pub(crate) queue: String,
    pub(crate) running: Option<u64>,
    pub(crate) last_claim: DateTime<Utc>,
    /// The registered run's id; null for a worker seen only through its leases.
    pub(crate) id: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) pid: Option<u32>,
    pub(crate) queues: Vec<String>,
    pub(crate) concurrency: Option<u32>,
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) last_seen: Option<DateTime<Utc>>,
}

impl From<&WorkerSummary> for WorkerView {
    fn from(w: &WorkerSummary) -> Self {
        Self {
            name: w.name.clone(),
            queue: w.queue.clone(),
            running: w.running,
            last_claim: w.last_claim,
            id: w.id.clone(),
            host: w.host.clone(),
            pid: w.pid,
            queues: w.queues.clone(),
            concurrency: w.concurrency,
            started_at: w.started_at,
            last_seen: w.last_seen,
        }
    }
}
