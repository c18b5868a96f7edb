use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::backend::Backend;
use crate::error::Error;
use crate::request::JobService;
use crate::run_context::RunContext;
use crate::worker::Worker;

/// Builds a worker for each run (the first, then restarts): what
/// [`IntoWorkerFactory::into_factory`] makes of a worker or a closure.
pub type WorkerFactory = Box<dyn FnMut(usize) -> Box<dyn RunnableWorker> + Send>;

/// A worker with its types erased, as the monitor runs it.
pub trait RunnableWorker: Send {
    /// The worker's name.
    fn name(&self) -> &str;
    /// Override the shutdown timeout.
    fn set_shutdown_timeout(&mut self, timeout: Duration);
    /// Run once with what the monitor hands the run.
    fn run(self: Box<Self>, run: RunContext) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;
}

impl<B, S> RunnableWorker for Worker<B, S>
where
    B: Backend,
    S: JobService<B::Job>,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn set_shutdown_timeout(&mut self, timeout: Duration) {
        self.config.shutdown_timeout = timeout;
    }

    fn run(self: Box<Self>, run: RunContext) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> {
        Box::pin(crate::worker::run::run(*self, run))
    }
}

/// What [`Monitor::register`](crate::Monitor::register) accepts: a worker, or a closure
/// `|run_id: usize| worker` that builds one. `M` only tells the two apart.
///
/// The closure is called once (with run id 0), so it may move values into the worker, as in
/// `.register(|_| WorkerBuilder::new("w").backend(storage).build_fn(f))`. A restart after a
/// crash runs a fresh clone of that worker, so its service state starts over.
pub trait IntoWorkerFactory<M> {
    /// The worker's name and its factory.
    fn into_factory(self) -> (String, WorkerFactory);
}

/// Marks [`IntoWorkerFactory`] for a worker value.
#[derive(Debug)]
pub enum WorkerMarker {}
/// Marks [`IntoWorkerFactory`] for a closure that builds a worker.
#[derive(Debug)]
pub enum FactoryMarker {}

impl<B, S> IntoWorkerFactory<WorkerMarker> for Worker<B, S>
where
    Worker<B, S>: RunnableWorker + Clone + 'static,
{
    fn into_factory(self) -> (String, WorkerFactory) {
        let name = self.name().to_owned();
        (name, Box::new(move |_| Box::new(self.clone())))
    }
}

impl<F, B, S> IntoWorkerFactory<FactoryMarker> for F
where
    F: FnOnce(usize) -> Worker<B, S>,
    Worker<B, S>: RunnableWorker + Clone + 'static,
{
    fn into_factory(self) -> (String, WorkerFactory) {
        (self)(0).into_factory()
    }
}
