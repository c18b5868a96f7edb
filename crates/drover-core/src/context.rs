//! What a job can know about its run: the worker's context, the task's context, and the data
//! shared by the worker. A leaf module: it depends on nothing but the task model.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::task::TaskId;

/// What a job can know about the worker running it (a handler argument).
#[derive(Clone, Debug)]
pub struct WorkerContext {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    queue: Arc<str>,
    stopping: AtomicBool,
    running: AtomicUsize,
}

impl WorkerContext {
    pub(crate) fn new(name: Arc<str>, queue: Arc<str>) -> Self {
        Self { inner: Arc::new(Inner { name, queue, stopping: AtomicBool::new(false), running: AtomicUsize::new(0) }) }
    }

    /// A context not attached to a running worker (for tests of services), on queue `test`.
    pub fn detached(name: &str) -> Self {
        Self::new(name.into(), "test".into())
    }

    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The queue the worker claims from (its backend's queue).
    pub fn queue(&self) -> &str {
        &self.inner.queue
    }

    /// Whether the worker is shutting down; a long job may check this and stop early (its task
    /// is then retried after its lease, or it can return an error to be retried sooner).
    pub fn is_shutting_down(&self) -> bool {
        self.inner.stopping.load(Ordering::Relaxed)
    }

    /// Tasks running on this worker now.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::Relaxed)
    }

    pub(crate) fn set_stopping(&self) {
        self.inner.stopping.store(true, Ordering::Relaxed);
    }

    pub(crate) fn set_running(&self, n: usize) {
        self.inner.running.store(n, Ordering::Relaxed);
    }
}

/// Shared values registered with `WorkerBuilder::data`, looked up by type.
#[derive(Clone, Default)]
pub struct Extensions {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Extensions {
    /// Store `value`, replacing one of the same type.
    pub fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.map.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map.get(&TypeId::of::<T>()).and_then(|v| v.downcast_ref::<T>())
    }
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions").field("len", &self.map.len()).finish()
    }
}

/// The context of one run of one task.
#[derive(Clone, Debug)]
pub struct TaskContext {
    pub(crate) id: TaskId,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) enqueued_at: DateTime<Utc>,
    pub(crate) run_at: Option<DateTime<Utc>>,
    pub(crate) data: Arc<Extensions>,
    pub(crate) worker: WorkerContext,
}

impl TaskContext {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// This attempt's number, starting at 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Attempts allowed before the task is dead.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The queue the task was claimed from.
    pub fn queue(&self) -> &str {
        self.worker.queue()
    }

    /// The name of the worker running the task.
    pub fn worker_name(&self) -> &str {
        self.worker.name()
    }

    /// When the task was enqueued.
    pub fn enqueued_at(&self) -> DateTime<Utc> {
        self.enqueued_at
    }

    /// When the task became due: its scheduled time, or its retry's. A task pushed to run now
    /// (or claimed from a backend that does not record it) was due when it was enqueued.
    /// `started - run_at` is the time it waited for a worker.
    pub fn run_at(&self) -> DateTime<Utc> {
        self.run_at.unwrap_or(self.enqueued_at)
    }

    /// Shared data registered on the worker.
    pub fn data(&self) -> &Extensions {
        &self.data
    }

    /// The worker running the task.
    pub fn worker(&self) -> &WorkerContext {
        &self.worker
    }
}
