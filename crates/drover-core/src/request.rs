//! What a job's service receives: the decoded job and its context.

use std::sync::Arc;

use crate::context::{Extensions, TaskContext, WorkerContext};
use crate::error::BoxDynError;
use crate::task::TaskId;

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

/// A tower service that runs jobs of type `J`: what a worker's stack must be. Implemented for
/// every service with these bounds; it only spares writing them out.
pub trait JobService<J>:
    tower::Service<
        Request<J>,
        Future: Send + 'static,
        Response: Send + 'static,
        Error: Into<BoxDynError> + Send + 'static,
    > + Send
    + 'static
{
}

impl<J, S> JobService<J> for S
where
    S: tower::Service<Request<J>> + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxDynError> + Send + 'static,
{
}
