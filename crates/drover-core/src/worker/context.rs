use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

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
