//! Operating every queue of a storage by name, payloads as bytes: the contract the `drover`
//! command-line tool and the board share.
//!
//! A backend crate implements [`AdminBackend`] (how to open a queue's storage, how to list
//! queues, and what it has beyond the common capabilities); every [`Admin`] operation follows
//! from it, in one place.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use crate::backend::{Cancel, Enqueue, Inspect, ListQuery, Pause, QueueStats, Requeue};
use crate::error::BackendError;
use crate::registry::{WorkerRecord, WorkerRegistry, WORKER_AGE_OUT};
use crate::task::{NewTask, PushOptions, Status, TaskId, TaskInfo};

/// A queue and its counts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct QueueSummary {
    /// The queue's name.
    pub queue: String,
    /// Its counts by status, and its oldest due task.
    pub stats: QueueStats,
    /// Whether its claims are paused.
    pub paused: bool,
    /// Its cap on running tasks across every worker, if any.
    pub max_running: Option<u32>,
    /// Its rate of starts across every worker, if any.
    pub rate: Option<crate::backend::Rate>,
    /// Its cap on running tasks per concurrency key across every worker
    /// ([`KeyConcurrency`](crate::KeyConcurrency)), if any.
    pub max_per_key: Option<u32>,
}

/// A worker as a storage saw it: from its own registration ([`WorkerRegistry`]) where the
/// backend keeps them, else inferred from the leases it holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct WorkerSummary {
    /// The worker's name.
    pub name: String,
    /// The queue it claims from.
    pub queue: String,
    /// Tasks it is running, where the storage knows.
    pub running: Option<u64>,
    /// When it last claimed; for a registered worker, when it was last seen.
    pub last_claim: DateTime<Utc>,
    /// The registered run's id; `None` for a worker inferred from leases.
    pub id: Option<String>,
    /// The host it runs on, where registered.
    pub host: Option<String>,
    /// Its process id, where registered.
    pub pid: Option<u32>,
    /// Every queue it claims from, where registered (else just `queue`).
    pub queues: Vec<String>,
    /// How many tasks it runs at once, where registered.
    pub concurrency: Option<u32>,
    /// When it started, where registered.
    pub started_at: Option<DateTime<Utc>>,
    /// When it last refreshed its registration, where registered.
    pub last_seen: Option<DateTime<Utc>>,
}

impl WorkerSummary {
    /// A worker's summary inferred from its leases (for backend implementations).
    pub fn new(
        name: impl Into<String>,
        queue: impl Into<String>,
        running: Option<u64>,
        last_claim: DateTime<Utc>,
    ) -> Self {
        let queue = queue.into();
        Self {
            name: name.into(),
            queues: vec![queue.clone()],
            queue,
            running,
            last_claim,
            id: None,
            host: None,
            pid: None,
            concurrency: None,
            started_at: None,
            last_seen: None,
        }
    }

    /// A registered worker's summary, on `queue` (one of its queues).
    pub fn registered(record: &WorkerRecord, queue: &str) -> Self {
        Self {
            name: record.name.clone(),
            queue: queue.to_owned(),
            running: Some(u64::from(record.running)),
            last_claim: record.last_seen,
            id: Some(record.id.clone()),
            host: Some(record.host.clone()),
            pid: Some(record.pid),
            queues: record.queues.clone(),
            concurrency: Some(record.concurrency),
            started_at: Some(record.started_at),
            last_seen: Some(record.last_seen),
        }
    }
}

/// Which tasks of a queue a search or a bulk action takes: every condition given must hold.
///
/// ```
/// use drover_core::{Status, TaskFilter};
///
/// let failing = TaskFilter::new().status(Status::Dead).error_contains("SMTP 550");
/// # let _ = failing;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskFilter {
    /// Only tasks with this status.
    pub status: Option<Status>,
    /// Only the task with this id.
    pub id: Option<TaskId>,
    /// Only tasks whose last error contains this text, ASCII letters compared without case.
    pub error_contains: Option<String>,
}

/// The ids a search or a bulk action takes: a filter naming one id reads that task by its
/// key; any other goes to the backend's [`AdminBackend::find_ids`].
async fn matching_ids<A: AdminBackend + ?Sized>(
    admin: &A,
    queue: &str,
    filter: &TaskFilter,
    before: Option<TaskId>,
    limit: usize,
) -> Result<Vec<TaskId>, BackendError> {
    match filter.id {
        Some(id) => find_one_id(&admin.storage(queue), id, filter, before, limit).await,
        None => admin.find_ids(queue, filter, before, limit).await,
    }
}

/// A search for one id, by the task itself (read by its key): the id when the task exists,
/// passes `filter`, comes before `before` and `limit` allows one; otherwise nothing.
async fn find_one_id<S: Inspect>(
    storage: &S,
    id: TaskId,
    filter: &TaskFilter,
    before: Option<TaskId>,
    limit: usize,
) -> Result<Vec<TaskId>, BackendError> {
    let task = storage.get(id).await?;
    let passes = task.is_some_and(|t| filter.matches(&t)) && before.is_none_or(|b| id < b);
    Ok(if passes && limit > 0 { vec![id] } else { Vec::new() })
}

impl TaskFilter {
    /// Every task of the queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only tasks with `status`.
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    /// Only the task `id`.
    pub fn id(mut self, id: TaskId) -> Self {
        self.id = Some(id);
        self
    }

    /// Only tasks whose last error contains `text` (ASCII letters compared without case; an
    /// empty text is no condition).
    pub fn error_contains(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.error_contains = (!text.is_empty()).then_some(text);
        self
    }

    /// Whether `task` passes (what backends that filter in the store must agree with).
    pub fn matches(&self, task: &TaskInfo) -> bool {
        self.status.is_none_or(|s| s == task.status)
            && self.id.is_none_or(|id| id == task.id)
            && self.error_contains.as_deref().is_none_or(|text| {
                task.last_error
                    .as_deref()
                    .is_some_and(|error| error.to_ascii_lowercase().contains(&text.to_ascii_lowercase()))
            })
    }
}

/// A page of a search: tasks newest first (by id, which is creation order), and where the next
/// page starts. Pages are stable: tasks pushed after the first page do not shift later ones.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskPage {
    /// The page's tasks, newest first.
    pub tasks: Vec<TaskInfo>,
    /// Pass as `before` for the next page; `None` when this was the last.
    pub next: Option<TaskId>,
}

/// What a bulk action does to each task its filter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BulkAction {
    /// Run dead and cancelled tasks again ([`Admin::requeue`]).
    Retry,
    /// Cancel pending and running tasks ([`Admin::cancel`]).
    Cancel,
    /// Delete tasks that are not running ([`Admin::delete`]).
    Delete,
    /// Make pending tasks due now ([`Admin::run_now`]).
    RunNow,
}

impl BulkAction {
    /// The action's name (`retry`, `cancel`, `delete`, `run_now`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Cancel => "cancel",
            Self::Delete => "delete",
            Self::RunNow => "run_now",
        }
    }
}

impl std::fmt::Display for BulkAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tasks finished per minute over the last minutes, oldest minute first: what a board draws
/// as throughput.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Throughput {
    /// The start of the first minute.
    pub since: DateTime<Utc>,
    /// Tasks done in each minute.
    pub done: Vec<u64>,
    /// Tasks dead in each minute.
    pub dead: Vec<u64>,
    /// False when the count stopped at its bound ([`THROUGHPUT_SCAN_LIMIT`] finished tasks of a
    /// status) before reaching the first minute: the older minutes may then be short.
    pub complete: bool,
}

impl Throughput {
    /// Count finished tasks by the minute of their last change (`updated_at`), over the
    /// `minutes` whole minutes up to and including the one of `now` (for backends that read
    /// finish times themselves).
    pub fn count(
        now: DateTime<Utc>,
        minutes: u32,
        finished: impl IntoIterator<Item = (Status, DateTime<Utc>)>,
        complete: bool,
    ) -> Self {
        let minutes = minutes.max(1);
        let this_minute = now.timestamp().div_euclid(60);
        let first = this_minute - i64::from(minutes) + 1;
        let since = DateTime::from_timestamp(first * 60, 0).unwrap_or(now);
        let mut done = vec![0; minutes as usize];
        let mut dead = vec![0; minutes as usize];
        for (status, at) in finished {
            let Ok(bucket) = usize::try_from(at.timestamp().div_euclid(60) - first) else { continue };
            let counts = match status {
                Status::Done => &mut done,
                Status::Dead => &mut dead,
                _ => continue,
            };
            if let Some(n) = counts.get_mut(bucket) {
                *n += 1;
            }
        }
        Self { since, done, dead, complete }
    }
}

/// How many finished tasks of each status the default [`AdminBackend::throughput`] reads.
pub const THROUGHPUT_SCAN_LIMIT: u64 = 1_000;

/// How many tasks the default [`AdminBackend::find_ids`] reads to answer one search: backends
/// that filter in their store have no such bound.
pub const SEARCH_SCAN_LIMIT: u64 = 10_000;

/// How many tasks one step of a bulk action takes.
const BULK_BATCH: usize = 500;

/// What a backend gives [`Admin`]: a storage for any queue name, the names of its queues, and
/// the operations beyond the common traits. Implemented by each backend crate's admin type
/// (`PostgresAdmin`, `RedisAdmin`, ...).
pub trait AdminBackend: Send + Sync + 'static {
    /// A storage of one queue; its job type is irrelevant (payloads stay bytes).
    type Storage: Inspect + Cancel + Requeue + Enqueue + Pause;

    /// The backend's name, for messages (`postgres`, `redis`, ...).
    fn name(&self) -> &'static str;

    /// The storage of `queue`.
    fn storage(&self, queue: &str) -> Self::Storage;

    /// Every queue the storage holds tasks of, by name.
    fn queue_names(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>>;

    /// Create or upgrade the schema (a no-op where there is none).
    fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>>;

    /// Delete up to `limit` finished tasks of `status` older than `older_than`. Backends
    /// without [`Prune`](crate::Prune) keep the default, which says how they bound finished
    /// tasks instead.
    fn prune(
        &self,
        queue: &str,
        status: Status,
        older_than: Duration,
        limit: usize,
    ) -> BoxFuture<'_, Result<u64, BackendError>> {
        let _ = (queue, status, older_than, limit);
        let name = self.name();
        Box::pin(async move {
            Err(BackendError::Unsupported(format!("the {name} backend does not delete finished tasks on demand")))
        })
    }

    /// The queue's cap on running tasks ([`GlobalConcurrency`](crate::GlobalConcurrency)); the
    /// default, for backends without caps, is none.
    fn max_running(&self, queue: &str) -> BoxFuture<'_, Result<Option<u32>, BackendError>> {
        let _ = queue;
        Box::pin(async { Ok(None) })
    }

    /// Set or remove the queue's cap; the default says the backend has no caps.
    fn set_max_running(&self, queue: &str, max: Option<u32>) -> BoxFuture<'_, Result<(), BackendError>> {
        let _ = (queue, max);
        let name = self.name();
        Box::pin(async move {
            Err(BackendError::Unsupported(format!(
                "the {name} backend has no cap on a queue's running tasks (PostgreSQL, SQLite, Redis and memory have)"
            )))
        })
    }

    /// The queue's rate of starts ([`GlobalRate`](crate::GlobalRate)); the default, for
    /// backends without rates, is none.
    fn rate(&self, queue: &str) -> BoxFuture<'_, Result<Option<crate::backend::Rate>, BackendError>> {
        let _ = queue;
        Box::pin(async { Ok(None) })
    }

    /// Set or remove the queue's rate; the default says the backend has no rates.
    fn set_rate(&self, queue: &str, rate: Option<crate::backend::Rate>) -> BoxFuture<'_, Result<(), BackendError>> {
        let _ = (queue, rate);
        let name = self.name();
        Box::pin(async move {
            Err(BackendError::Unsupported(format!(
                "the {name} backend has no rate of starts per queue (PostgreSQL, SQLite, Redis and memory have)"
            )))
        })
    }

    /// The queue's cap on running tasks per concurrency key
    /// ([`KeyConcurrency`](crate::KeyConcurrency)); the default, for backends without it, is
    /// none.
    fn max_running_per_key(&self, queue: &str) -> BoxFuture<'_, Result<Option<u32>, BackendError>> {
        let _ = queue;
        Box::pin(async { Ok(None) })
    }

    /// Set or remove the queue's cap per concurrency key; the default says the backend has
    /// none.
    fn set_max_running_per_key(&self, queue: &str, k: Option<u32>) -> BoxFuture<'_, Result<(), BackendError>> {
        let _ = (queue, k);
        let name = self.name();
        Box::pin(async move {
            Err(BackendError::Unsupported(format!(
                "the {name} backend has no limit per concurrency key (a storage implementing drover_core::KeyConcurrency has)"
            )))
        })
    }

    /// Up to `limit` ids of `queue`'s tasks that pass `filter`, newest first, older than
    /// `before` when given. A filter naming one id never comes here (the task is read by its
    /// key instead). The default reads the newest [`SEARCH_SCAN_LIMIT`] tasks of the
    /// filter's status through [`Inspect::list`] and filters them here; backends override it
    /// with a query of their store.
    fn find_ids<'a>(
        &'a self,
        queue: &'a str,
        filter: &'a TaskFilter,
        before: Option<TaskId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<TaskId>, BackendError>> {
        Box::pin(async move {
            let storage = self.storage(queue);
            let mut found = Vec::new();
            let mut offset = 0;
            while offset < SEARCH_SCAN_LIMIT && found.len() < limit {
                let page = storage.list(ListQuery::new(filter.status, 500).offset(offset)).await?;
                let read = page.len() as u64;
                found.extend(
                    page.into_iter().filter(|t| before.is_none_or(|b| t.id < b) && filter.matches(t)).map(|t| t.id),
                );
                if read < 500 {
                    break;
                }
                offset += read;
            }
            found.sort_unstable_by(|a, b| b.cmp(a));
            found.truncate(limit);
            Ok(found)
        })
    }

    /// Tasks of `queue` done and dead in each of the last `minutes` minutes. The default reads
    /// the newest [`THROUGHPUT_SCAN_LIMIT`] done and dead tasks through [`Inspect::list`] and
    /// counts them by the minute of their last change.
    fn throughput<'a>(&'a self, queue: &'a str, minutes: u32) -> BoxFuture<'a, Result<Throughput, BackendError>> {
        Box::pin(async move {
            let storage = self.storage(queue);
            let now = chrono::Utc::now();
            let since = now - chrono::Duration::minutes(i64::from(minutes.max(1)));
            let mut finished = Vec::new();
            let mut complete = true;
            for status in [Status::Done, Status::Dead] {
                let mut offset = 0;
                loop {
                    let page = storage.list(ListQuery::new(Some(status), 500).offset(offset)).await?;
                    let read = page.len() as u64;
                    let reached_older = page.iter().any(|t| t.updated_at < since);
                    finished.extend(page.into_iter().map(|t| (t.status, t.updated_at)));
                    offset += read;
                    if read < 500 || reached_older {
                        break;
                    }
                    if offset >= THROUGHPUT_SCAN_LIMIT {
                        complete = false;
                        break;
                    }
                }
            }
            Ok(Throughput::count(now, minutes, finished, complete))
        })
    }

    /// Delete task `id` of `queue` unless it is running; whether it was deleted. The default
    /// says the backend cannot.
    fn delete_task(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let _ = (queue, id);
        let name = self.name();
        Box::pin(async move {
            Err(BackendError::Unsupported(format!("the {name} backend cannot delete a task from the admin")))
        })
    }

    /// Make pending task `id` of `queue` due now (a scheduled task, or one waiting for its
    /// retry); whether it is pending and due. The default says the backend cannot.
    fn run_now(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let _ = (queue, id);
        let name = self.name();
        Box::pin(async move {
            Err(BackendError::Unsupported(format!("the {name} backend cannot make a scheduled task due now")))
        })
    }

    /// Do `action` to every task of `queue` that passes `filter`; how many it changed. The
    /// default walks [`find_ids`](Self::find_ids) in pages of 500 and hands each page to
    /// [`act_on`](Self::act_on), so a task that changes state meanwhile is skipped, not forced.
    fn bulk<'a>(
        &'a self,
        queue: &'a str,
        action: BulkAction,
        filter: &'a TaskFilter,
    ) -> BoxFuture<'a, Result<u64, BackendError>> {
        Box::pin(async move {
            let mut changed = 0;
            let mut before = None;
            loop {
                let ids = matching_ids(self, queue, filter, before, BULK_BATCH).await?;
                changed += self.act_on(queue, action, &ids).await?;
                match ids.last() {
                    Some(&last) if ids.len() == BULK_BATCH => before = Some(last),
                    _ => return Ok(changed),
                }
            }
        })
    }

    /// Do `action` to the tasks `ids` of `queue` that are in a state it takes; how many it
    /// changed. The default acts on each task in turn (requeue, cancel, [`delete_task`](Self::delete_task),
    /// [`run_now`](Self::run_now)); backends override it with one statement per page.
    fn act_on<'a>(
        &'a self,
        queue: &'a str,
        action: BulkAction,
        ids: &'a [TaskId],
    ) -> BoxFuture<'a, Result<u64, BackendError>> {
        Box::pin(async move {
            let storage = self.storage(queue);
            let mut changed = 0;
            for &id in ids {
                let done = match action {
                    BulkAction::Retry => storage.requeue(id).await?,
                    BulkAction::Cancel => storage.cancel(id).await?,
                    BulkAction::Delete => self.delete_task(queue, id).await?,
                    BulkAction::RunNow => self.run_now(queue, id).await?,
                };
                changed += u64::from(done);
            }
            Ok(changed)
        })
    }

    /// Where the backend's workers register themselves, if it keeps records
    /// ([`WorkerRegistry`]); [`Admin::workers`] then lists them (within [`WORKER_AGE_OUT`]),
    /// beside the lease holders of [`AdminBackend::queue_workers`] they do not account for.
    /// The default is none.
    fn registry(&self) -> Option<std::sync::Arc<dyn WorkerRegistry>> {
        None
    }

    /// The workers seen on `queue`, inferred from their leases, for backends without a
    /// registry. The default says the backend does not record them.
    fn queue_workers(&self, queue: &str) -> BoxFuture<'_, Result<Vec<WorkerSummary>, BackendError>> {
        let _ = queue;
        let name = self.name();
        Box::pin(async move { Err(BackendError::Unsupported(format!("the {name} backend does not record workers"))) })
    }
}

/// Queue operations by queue name: what the command-line tool and the board do. Every
/// [`AdminBackend`] is one; object-safe, so tools hold a `Box<dyn Admin>` for whichever URL
/// they were given.
pub trait Admin: Send + Sync {
    /// The backend's name.
    fn backend(&self) -> &'static str;
    /// Create or upgrade the schema.
    fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>>;
    /// Every queue with its counts, by name.
    fn queues(&self) -> BoxFuture<'_, Result<Vec<QueueSummary>, BackendError>>;
    /// One queue's summary: counts, paused state and limits, whether or not it holds tasks yet
    /// (a queue can be paused or limited before its first push).
    fn queue<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueSummary, BackendError>>;
    /// One queue's counts.
    fn stats<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueStats, BackendError>>;
    /// A page of a queue's tasks, newest first.
    fn list<'a>(&'a self, queue: &'a str, query: ListQuery) -> BoxFuture<'a, Result<Vec<TaskInfo>, BackendError>>;
    /// One task of a queue.
    fn get<'a>(&'a self, queue: &'a str, id: TaskId) -> BoxFuture<'a, Result<Option<TaskInfo>, BackendError>>;
    /// A task by id, in whichever queue holds it.
    fn find(&self, id: TaskId) -> BoxFuture<'_, Result<Option<TaskInfo>, BackendError>>;
    /// Run a dead or cancelled task again (see [`Requeue`]).
    fn requeue<'a>(&'a self, queue: &'a str, id: TaskId) -> BoxFuture<'a, Result<bool, BackendError>>;
    /// Cancel a pending or running task (see [`Cancel`]).
    fn cancel<'a>(&'a self, queue: &'a str, id: TaskId) -> BoxFuture<'a, Result<bool, BackendError>>;
    /// Delete finished tasks of `status` older than `older_than`, in batches; returns how many.
    fn purge<'a>(
        &'a self,
        queue: &'a str,
        status: Status,
        older_than: Duration,
    ) -> BoxFuture<'a, Result<u64, BackendError>>;
    /// Push an encoded job (JSON for the default codec) with options.
    fn push<'a>(
        &'a self,
        queue: &'a str,
        payload: Vec<u8>,
        options: PushOptions,
    ) -> BoxFuture<'a, Result<TaskId, BackendError>>;
    /// The workers seen on `queue`, or on every queue: registered ones (seen within
    /// [`WORKER_AGE_OUT`]) where the backend keeps a registry, and those holding leases where
    /// the backend sees them (PostgreSQL, Redis) that no registered worker accounts for.
    fn workers<'a>(&'a self, queue: Option<&'a str>) -> BoxFuture<'a, Result<Vec<WorkerSummary>, BackendError>>;
    /// Pause (`true`) or resume (`false`) a queue's claims on every worker (see [`Pause`]).
    fn set_paused<'a>(&'a self, queue: &'a str, paused: bool) -> BoxFuture<'a, Result<(), BackendError>>;
    /// Cap a queue's running tasks across every worker, or remove the cap (`None`).
    fn set_max_running<'a>(&'a self, queue: &'a str, max: Option<u32>) -> BoxFuture<'a, Result<(), BackendError>>;
    /// Limit a queue's starts across every worker, or remove the limit (`None`).
    fn set_rate<'a>(
        &'a self,
        queue: &'a str,
        rate: Option<crate::backend::Rate>,
    ) -> BoxFuture<'a, Result<(), BackendError>>;
    /// A page of `queue`'s tasks that pass `filter`, newest first, older than `before` (the
    /// previous page's [`TaskPage::next`]) when given; at most `limit`.
    fn search<'a>(
        &'a self,
        queue: &'a str,
        filter: &'a TaskFilter,
        before: Option<TaskId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<TaskPage, BackendError>>;
    /// Tasks of `queue` done and dead in each of the last `minutes` minutes.
    fn throughput<'a>(&'a self, queue: &'a str, minutes: u32) -> BoxFuture<'a, Result<Throughput, BackendError>>;
    /// Delete a task that is not running; whether it was deleted (false when it is running or
    /// does not exist).
    fn delete<'a>(&'a self, queue: &'a str, id: TaskId) -> BoxFuture<'a, Result<bool, BackendError>>;
    /// Make a pending task due now; whether it is pending (false when it is running, finished
    /// or does not exist).
    fn run_now<'a>(&'a self, queue: &'a str, id: TaskId) -> BoxFuture<'a, Result<bool, BackendError>>;
    /// Do `action` to every task of `queue` that passes `filter`; how many it changed.
    fn bulk<'a>(
        &'a self,
        queue: &'a str,
        action: BulkAction,
        filter: &'a TaskFilter,
    ) -> BoxFuture<'a, Result<u64, BackendError>>;
    /// Cap a queue's running tasks per concurrency key across every worker, or remove the cap
    /// (`None`); see [`KeyConcurrency`](crate::KeyConcurrency).
    fn set_max_running_per_key<'a>(&'a self, queue: &'a str, k: Option<u32>)
        -> BoxFuture<'a, Result<(), BackendError>>;
}

/// How many tasks one purge statement deletes.
const PURGE_BATCH: usize = 1_000;

impl<A: AdminBackend> Admin for A {
    fn backend(&self) -> &'static str {
        self.name()
    }

    fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        AdminBackend::migrate(self)
    }

    fn queues(&self) -> BoxFuture<'_, Result<Vec<QueueSummary>, BackendError>> {
        Box::pin(async move {
            let mut names = self.queue_names().await?;
            names.sort();
            names.dedup();
            let mut queues = Vec::with_capacity(names.len());
            for queue in names {
                queues.push(Admin::queue(self, &queue).await?);
            }
            Ok(queues)
        })
    }

    fn queue<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueSummary, BackendError>> {
        Box::pin(async move {
            let storage = self.storage(queue);
            let stats = storage.stats().await?;
            let paused = storage.is_paused().await?;
            let max_running = self.max_running(queue).await?;
            let rate = self.rate(queue).await?;
            let max_per_key = self.max_running_per_key(queue).await?;
            Ok(QueueSummary { queue: queue.to_owned(), stats, paused, max_running, rate, max_per_key })
        })
    }

    fn stats<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueStats, BackendError>> {
        Box::pin(async move { self.storage(queue).stats().await })
    }

    fn list<'a>(&'a self, queue: &'a str, query: ListQuery) -> BoxFuture<'a, Result<Vec<TaskInfo>, BackendError>> {
        Box::pin(async move { self.storage(queue).list(query).await })
    }

    fn get<'a>(&'a self, queue: &'a str, id: TaskId) -> BoxFuture<'a, Result<Option<TaskInfo>, BackendError>> {
        Box::pin(async move { self.storage(queue).get(id).await })
    }

    fn find(&self, id: TaskId) -> BoxFuture<'_, Result<Option<TaskInfo>, BackendError>> {
        Box::pin(async move {
            for queue in self.queue_names().await? {
                if let Some(task) = self.storage(&queue).get(id).await? {
                    return Ok(Some(task));
                }
            }
            Ok(None)
        })
    }

    fn requeue<'a>(&'a self, queue: &'a str, id: TaskId) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move { self.storage(queue).requeue(id).await })
    }

    fn cancel<'a>(&'a self, queue: &'a str, id: TaskId) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move { self.storage(queue).cancel(id).await })
    }

    fn purge<'a>(
        &'a self,
        queue: &'a str,
        status: Status,
        older_than: Duration,
    ) -> BoxFuture<'a, Result<u64, BackendError>> {
        Box::pin(async move {
            let mut total = 0;
            loop {
                let deleted = self.prune(queue, status, older_than, PURGE_BATCH).await?;
                total += deleted;
                if deleted < PURGE_BATCH as u64 {
                    return Ok(total);
                }
            }
        })
    }

    fn push<'a>(
        &'a self,
        queue: &'a str,
        payload: Vec<u8>,
        options: PushOptions,
    ) -> BoxFuture<'a, Result<TaskId, BackendError>> {
        Box::pin(async move {
            let ids = self.storage(queue).enqueue(vec![NewTask::new(payload, options)]).await?;
            ids.into_iter()
                .next()
                .ok_or_else(|| BackendError::Corrupt("the backend accepted a push but returned no task id".into()))
        })
    }

    fn set_paused<'a>(&'a self, queue: &'a str, paused: bool) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move { self.storage(queue).set_paused(paused).await })
    }

    fn set_max_running<'a>(&'a self, queue: &'a str, max: Option<u32>) -> BoxFuture<'a, Result<(), BackendError>> {
        AdminBackend::set_max_running(self, queue, max)
    }

    fn set_rate<'a>(
        &'a self,
        queue: &'a str,
        rate: Option<crate::backend::Rate>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        AdminBackend::set_rate(self, queue, rate)
    }

    fn set_max_running_per_key<'a>(
        &'a self,
        queue: &'a str,
        k: Option<u32>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        AdminBackend::set_max_running_per_key(self, queue, k)
    }

    fn search<'a>(
        &'a self,
        queue: &'a str,
        filter: &'a TaskFilter,
        before: Option<TaskId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<TaskPage, BackendError>> {
        Box::pin(async move {
            // One more than asked tells whether there is a next page.
            let ids = matching_ids(self, queue, filter, before, limit.saturating_add(1)).await?;
            let more = ids.len() > limit;
            let storage = self.storage(queue);
            let mut tasks = Vec::with_capacity(limit.min(ids.len()));
            for id in ids.into_iter().take(limit) {
                // A task deleted between the two reads is left out.
                if let Some(task) = storage.get(id).await? {
                    tasks.push(task);
                }
            }
            let next = if more { tasks.last().map(|t| t.id) } else { None };
            Ok(TaskPage { tasks, next })
        })
    }

    fn delete<'a>(&'a self, queue: &'a str, id: TaskId) -> BoxFuture<'a, Result<bool, BackendError>> {
        self.delete_task(queue, id)
    }

    fn throughput<'a>(&'a self, queue: &'a str, minutes: u32) -> BoxFuture<'a, Result<Throughput, BackendError>> {
        AdminBackend::throughput(self, queue, minutes)
    }

    fn run_now<'a>(&'a self, queue: &'a str, id: TaskId) -> BoxFuture<'a, Result<bool, BackendError>> {
        AdminBackend::run_now(self, queue, id)
    }

    fn bulk<'a>(
        &'a self,
        queue: &'a str,
        action: BulkAction,
        filter: &'a TaskFilter,
    ) -> BoxFuture<'a, Result<u64, BackendError>> {
        AdminBackend::bulk(self, queue, action, filter)
    }

    fn workers<'a>(&'a self, queue: Option<&'a str>) -> BoxFuture<'a, Result<Vec<WorkerSummary>, BackendError>> {
        Box::pin(async move {
            let Some(registry) = self.registry() else {
                let queues = match queue {
                    Some(queue) => vec![queue.to_owned()],
                    None => self.queue_names().await?,
                };
                let mut workers = Vec::new();
                for queue in queues {
                    workers.extend(self.queue_workers(&queue).await?);
                }
                return Ok(workers);
            };
            let mut workers = Vec::new();
            for record in registry.workers(WORKER_AGE_OUT).await? {
                match queue {
                    Some(queue) if record.queues.iter().any(|q| q == queue) => {
                        workers.push(WorkerSummary::registered(&record, queue));
                    }
                    Some(_) => {}
                    None => {
                        let first = record.queues.first().cloned().unwrap_or_default();
                        workers.push(WorkerSummary::registered(&record, &first));
                    }
                }
            }
            // Lease holders no registered worker accounts for: workers of builds from before
            // registration, or claims made outside a worker, where the backend sees them.
            let queues = match queue {
                Some(queue) => vec![queue.to_owned()],
                None => self.queue_names().await?,
            };
            for queue in queues {
                let holders = match self.queue_workers(&queue).await {
                    Ok(holders) => holders,
                    Err(BackendError::Unsupported(_)) => break,
                    Err(error) => return Err(error),
                };
                for holder in holders {
                    if !workers
                        .iter()
                        .any(|w| w.id.is_some() && w.name == holder.name && w.queues.contains(&holder.queue))
                    {
                        workers.push(holder);
                    }
                }
            }
            Ok(workers)
        })
    }
}

/// Inside an `impl AdminBackend`: the queue's cap and rate, read and set through
/// [`AdminBackend::storage`], for backends whose storage implements
/// [`GlobalConcurrency`](crate::GlobalConcurrency) and [`GlobalRate`](crate::GlobalRate).
///
/// ```ignore
/// impl AdminBackend for MyAdmin {
///     // ...
///     drover_core::admin_limits_from_storage!();
/// }
/// ```
#[macro_export]
macro_rules! admin_limits_from_storage {
    () => {
        fn max_running(
            &self,
            queue: &str,
        ) -> ::std::pin::Pin<
            Box<
                dyn ::std::future::Future<Output = ::std::result::Result<Option<u32>, $crate::BackendError>>
                    + Send
                    + '_,
            >,
        > {
            let storage = self.storage(queue);
            Box::pin(async move { $crate::GlobalConcurrency::max_running(&storage).await })
        }

        fn set_max_running(
            &self,
            queue: &str,
            max: Option<u32>,
        ) -> ::std::pin::Pin<
            Box<dyn ::std::future::Future<Output = ::std::result::Result<(), $crate::BackendError>> + Send + '_>,
        > {
            let storage = self.storage(queue);
            Box::pin(async move { $crate::GlobalConcurrency::set_max_running(&storage, max).await })
        }

        fn rate(
            &self,
            queue: &str,
        ) -> ::std::pin::Pin<
            Box<
                dyn ::std::future::Future<Output = ::std::result::Result<Option<$crate::Rate>, $crate::BackendError>>
                    + Send
                    + '_,
            >,
        > {
            let storage = self.storage(queue);
            Box::pin(async move { $crate::GlobalRate::rate(&storage).await })
        }

        fn set_rate(
            &self,
            queue: &str,
            rate: Option<$crate::Rate>,
        ) -> ::std::pin::Pin<
            Box<dyn ::std::future::Future<Output = ::std::result::Result<(), $crate::BackendError>> + Send + '_>,
        > {
            let storage = self.storage(queue);
            Box::pin(async move { $crate::GlobalRate::set_rate(&storage, rate).await })
        }
    };
}

/// Inside an `impl AdminBackend`: the queue's cap per concurrency key, read and set through
/// [`AdminBackend::storage`], for backends whose storage implements
/// [`KeyConcurrency`](crate::KeyConcurrency) (beside [`admin_limits_from_storage!`]).
///
/// ```ignore
/// impl AdminBackend for MyAdmin {
///     // ...
///     drover_core::admin_limits_from_storage!();
///     drover_core::admin_key_limits_from_storage!();
/// }
/// ```
#[macro_export]
macro_rules! admin_key_limits_from_storage {
    () => {
        fn max_running_per_key(
            &self,
            queue: &str,
        ) -> ::std::pin::Pin<
            Box<
                dyn ::std::future::Future<Output = ::std::result::Result<Option<u32>, $crate::BackendError>>
                    + Send
                    + '_,
            >,
        > {
            let storage = self.storage(queue);
            Box::pin(async move { $crate::KeyConcurrency::max_running_per_key(&storage).await })
        }

        fn set_max_running_per_key(
            &self,
            queue: &str,
            k: Option<u32>,
        ) -> ::std::pin::Pin<
            Box<dyn ::std::future::Future<Output = ::std::result::Result<(), $crate::BackendError>> + Send + '_>,
        > {
            let storage = self.storage(queue);
            Box::pin(async move { $crate::KeyConcurrency::set_max_running_per_key(&storage, k).await })
        }
    };
}
