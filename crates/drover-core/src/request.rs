//! What a job's service receives: the decoded job and its context.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::task::TaskId;
use crate::worker::WorkerContext;

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

/// A job and its context: the request type of every job service.
#[derive(Clone, Debug)]
pub struct Request<T> {
    /// The decoded job.
    pub job: T,
    /// Its context.
    pub ctx: TaskContext,
}

impl<T> Request<T> {
    /// A request for tests of layers and services, outside a worker.
    pub fn for_test(job: T) -> Self {
        let id = TaskId::new();
        Self {
            job,
            ctx: TaskContext {
                id,
                attempt: 1,
                max_attempts: 1,
                enqueued_at: id.created_at(),
                run_at: None,
                data: Arc::new(Extensions::default()),
                worker: WorkerContext::detached("test"),
            },
        }
    }
}
