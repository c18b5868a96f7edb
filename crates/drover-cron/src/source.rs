//! A cron schedule as a worker's own backend: ticks held in this process's memory.

use std::sync::{Arc, Mutex};

use drover_core::{
    Backend, BackendError, ClaimRequest, ClaimedTask, Codec, Completion, JsonCodec, Lease, MemoryStorage, Wakeup,
};
use tokio::task::JoinHandle;

use crate::job::CronJob;
use crate::pipe::Pipe;

/// A [`CronJob`] as a worker's backend, for jobs that need no persistence: the ticks' tasks
/// live in this process's memory (with retries and leases, like [`MemoryStorage`]), so they
/// are lost when it exits, and each process running the source runs every tick. For one run
/// per tick across nodes, or tasks that survive a restart, use [`CronJob::pipe_to`] a durable
/// storage instead.
///
/// ```
/// use drover_core::{BoxDynError, WorkerBuilder};
/// use drover_cron::{CronJob, CronSource, Schedule, Tick};
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct RefreshCache;
///
/// async fn refresh(_job: RefreshCache, tick: Tick) -> Result<(), BoxDynError> {
///     println!("refreshing for {}", tick.at());
///     Ok(())
/// }
///
/// # fn main() -> Result<(), BoxDynError> {
/// let job = CronJob::<RefreshCache>::new("refresh-cache", Schedule::cron("*/5 * * * *")?)?;
/// let worker = WorkerBuilder::new("cache").backend(CronSource::new(job)).build_fn(refresh);
/// # drop(worker);
/// # Ok(())
/// # }
/// ```
///
/// The source starts its schedule on the worker's first claim (inside the runtime) and stops
/// it when the last clone of the source is dropped.
pub struct CronSource<J, C = JsonCodec> {
    memory: MemoryStorage<J, C>,
    inner: Arc<Inner<J, C>>,
}

struct Inner<J, C> {
    job: CronJob<J>,
    memory: MemoryStorage<J, C>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl<J, C> Drop for Inner<J, C> {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.get_mut().ok().and_then(Option::take) {
            driver.abort();
        }
    }
}

impl<J, C> Clone for CronSource<J, C> {
    fn clone(&self) -> Self {
        Self { memory: self.memory.clone(), inner: self.inner.clone() }
    }
}

impl<J, C> std::fmt::Debug for CronSource<J, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronSource").field("job", &self.inner.job).finish_non_exhaustive()
    }
}

impl<J: Send + 'static> CronSource<J>
where
    JsonCodec: Codec<J>,
{
    /// A source for `job`, its queue named after the job.
    pub fn new(job: CronJob<J>) -> Self {
        let memory = MemoryStorage::with_codec(job.name().to_owned());
        Self::with_storage(job, memory)
    }
}

impl<J: Send + 'static, C: Codec<J>> CronSource<J, C> {
    fn with_storage(job: CronJob<J>, memory: MemoryStorage<J, C>) -> Self {
        let inner = Arc::new(Inner { job, memory: memory.clone(), driver: Mutex::new(None) });
        Self { memory, inner }
    }

    /// The in-memory queue the ticks go to (to inspect it).
    pub fn storage(&self) -> &MemoryStorage<J, C> {
        &self.memory
    }

    /// Start the schedule, once.
    fn start(&self) {
        let Ok(mut driver) = self.inner.driver.lock() else { return };
        if driver.is_none() {
            let pipe = Pipe::new(self.inner.job.clone(), self.inner.memory.clone());
            *driver = Some(tokio::spawn(async move {
                // The source aborts this task when it is dropped; the loop never ends before.
                let _ = pipe.run_until(std::future::pending::<()>()).await;
            }));
        }
    }
}

impl<J: Send + 'static, C: Codec<J>> Backend for CronSource<J, C> {
    type Job = J;
    type Codec = C;

    fn queue(&self) -> &str {
        self.memory.queue()
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        self.start();
        self.memory.claim(request).await
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        self.memory.complete(batch).await
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: std::time::Duration) -> Result<(), BackendError> {
        self.memory.extend_leases(leases, lease).await
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        self.memory.release(leases).await
    }

    fn wakeup(&self) -> Option<Wakeup> {
        self.memory.wakeup()
    }
}
