use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::state::QueueState;
use crate::backend::{
    Backend, Cancel, ClaimRequest, Enqueue, EnqueueBatch, GlobalConcurrency, GlobalRate, Inspect, KeyConcurrency,
    ListQuery, Pause, QueueStats, Rate, Requeue, Wakeup, WakeupSender,
};
use crate::codec::{Codec, JsonCodec};
use crate::error::BackendError;
use crate::queue_name::default_queue_name;
use crate::registry::MemoryRegistry;
use crate::retention::Prune;
use crate::task::{ClaimedTask, Completion, Lease, NewTask, PushOptions, Status, TaskId, TaskInfo};
use crate::ticks::{PushTicks, TickPush, TickPushed, TickRecord};

struct Shared {
    queue: Arc<str>,
    state: Mutex<QueueState>,
    wakeup: WakeupSender,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panic while the lock was held cannot leave the indexes half-updated in a way that
        // loses tasks (every method finishes its bookkeeping before returning), so a poisoned
        // lock is safe to keep using.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A queue held in this process's memory, implementing every capability of the contract.
/// Clones share the queue. Pushes wake idle workers at once (no polling).
///
/// Tasks are lost when the process exits: use it for tests, examples and doctests, or pick a
/// durable backend.
///
/// ```
/// use drover_core::{Enqueue, Inspect, MemoryStorage, Status};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), drover_core::BackendError> {
/// let storage = MemoryStorage::<String>::named("emails");
/// let id = storage.push("hello@example.com".to_owned()).await?;
/// assert_eq!(storage.get(id).await?.unwrap().status, Status::Pending);
/// # Ok(())
/// # }
/// ```
pub struct MemoryStorage<T, C = JsonCodec> {
    shared: Arc<Shared>,
    registry: MemoryRegistry,
    _job: PhantomData<fn() -> (T, C)>,
}

impl<T, C> Clone for MemoryStorage<T, C> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone(), registry: self.registry.clone(), _job: PhantomData }
    }
}

impl<T, C> std::fmt::Debug for MemoryStorage<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStorage").field("queue", &self.shared.queue).finish()
    }
}

impl<T> MemoryStorage<T> {
    /// An empty queue named after the job type (see [`default_queue_name`]).
    pub fn new() -> Self {
        Self::named(default_queue_name::<T>())
    }

    /// An empty queue with the given name.
    pub fn named(queue: impl Into<String>) -> Self {
        Self::with_codec(queue)
    }
}

impl<T> Default for MemoryStorage<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, C> MemoryStorage<T, C> {
    /// An empty queue with the given name and codec.
    pub fn with_codec(queue: impl Into<String>) -> Self {
        Self {
            shared: Arc::new(Shared {
                queue: queue.into().into(),
                state: Mutex::new(QueueState::default()),
                wakeup: WakeupSender::new(),
            }),
            registry: MemoryRegistry::new(),
            _job: PhantomData,
        }
    }

    /// The same queue, its workers registering in `registry` (shared with other queues, as
    /// [`MemoryAdmin`](crate::MemoryAdmin) does) instead of a registry of its own.
    pub fn with_registry(mut self, registry: MemoryRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Where this queue's workers register themselves.
    pub fn registry(&self) -> &MemoryRegistry {
        &self.registry
    }

    fn enqueue_now(&self, tasks: Vec<NewTask>) -> Vec<TaskId> {
        let ids = self.shared.lock().enqueue(&self.shared.queue, tasks, Utc::now());
        self.shared.wakeup.notify();
        ids
    }
}

impl<T, C> Backend for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Job = T;
    type Codec = C;

    fn queue(&self) -> &str {
        &self.shared.queue
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        // A claim the rate refused waits for the next start, once, up to a second.
        let (claimed, wait) = {
            let mut state = self.shared.lock();
            let claimed = state.claim(request.max, request.lease, Utc::now());
            (claimed, state.rate_wait)
        };
        match wait {
            Some(ms) => {
                tokio::time::sleep(Duration::from_secs_f64((ms / 1000.0).clamp(0.0, 1.0))).await;
                Ok(self.shared.lock().claim(request.max, request.lease, Utc::now()))
            }
            None => Ok(claimed),
        }
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        let woke = self.shared.lock().complete(batch, Utc::now());
        if woke {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: std::time::Duration) -> Result<(), BackendError> {
        self.shared.lock().extend(leases, lease, Utc::now());
        Ok(())
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        if self.shared.lock().release(leases, Utc::now()) {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    fn wakeup(&self) -> Option<Wakeup> {
        Some(self.shared.wakeup.subscribe())
    }

    fn worker_registry(&self) -> Option<Arc<dyn crate::WorkerRegistry>> {
        Some(Arc::new(self.registry.clone()))
    }
}

impl<T, C> Enqueue for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn enqueue(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        Ok(self.enqueue_now(tasks))
    }
}

impl<T, C> Pause for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_paused(&self, paused: bool) -> Result<(), BackendError> {
        self.shared.lock().paused = paused;
        if !paused {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    async fn is_paused(&self) -> Result<bool, BackendError> {
        Ok(self.shared.lock().paused)
    }
}

impl<T, C> GlobalConcurrency for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running(&self, max: Option<u32>) -> Result<(), BackendError> {
        self.shared.lock().max_running = max;
        self.shared.wakeup.notify();
        Ok(())
    }

    async fn max_running(&self) -> Result<Option<u32>, BackendError> {
        Ok(self.shared.lock().max_running)
    }
}

impl<T, C> KeyConcurrency for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running_per_key(&self, k: Option<u32>) -> Result<(), BackendError> {
        self.shared.lock().max_per_key = k.map(|k| k.max(1));
        self.shared.wakeup.notify();
        Ok(())
    }

    async fn max_running_per_key(&self) -> Result<Option<u32>, BackendError> {
        Ok(self.shared.lock().max_per_key)
    }
}

impl<T, C> GlobalRate for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_rate(&self, rate: Option<Rate>) -> Result<(), BackendError> {
        self.shared.lock().rate = rate.map(|r| (r, 0.0));
        self.shared.wakeup.notify();
        Ok(())
    }

    async fn rate(&self) -> Result<Option<Rate>, BackendError> {
        Ok(self.shared.lock().rate.map(|(r, _)| r))
    }
}

impl<T, C> PushTicks for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn push_tick(&self, push: TickPush) -> Result<TickPushed, BackendError> {
        let pushed = self.shared.lock().push_tick(&self.shared.queue, push, Utc::now());
        if matches!(pushed, TickPushed::Pushed(_)) {
            self.shared.wakeup.notify();
        }
        Ok(pushed)
    }

    async fn tick_record(&self, schedule: &str) -> Result<Option<TickRecord>, BackendError> {
        Ok(self.shared.lock().tick_record(schedule))
    }

    async fn tick_records(&self) -> Result<Vec<TickRecord>, BackendError> {
        Ok(self.shared.lock().tick_records())
    }
}

impl<T, C> Inspect for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn stats(&self) -> Result<QueueStats, BackendError> {
        Ok(self.shared.lock().stats(Utc::now()))
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<TaskInfo>, BackendError> {
        Ok(self.shared.lock().list(&query))
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskInfo>, BackendError> {
        Ok(self.shared.lock().get(id))
    }
}

impl<T, C> Cancel for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn cancel(&self, id: TaskId) -> Result<bool, BackendError> {
        Ok(self.shared.lock().cancel(id, Utc::now()))
    }
}

impl<T, C> Requeue for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn requeue(&self, id: TaskId) -> Result<bool, BackendError> {
        let requeued = self.shared.lock().requeue(id, Utc::now());
        if requeued {
            self.shared.wakeup.notify();
        }
        Ok(requeued)
    }
}

/// A transaction of pushes kept in memory until commit: for storages whose server has no
/// transaction a push could join (the memory backend; Redis, which stores the whole buffer
/// atomically on commit). Dropping it discards the pushes, like a rolled-back SQL transaction.
#[derive(Debug, Default)]
pub struct BufferedBatch {
    tasks: Vec<NewTask>,
}

impl BufferedBatch {
    /// Encode `job` with codec `C` and buffer it; returns the id it will have.
    pub fn push_job<T, C: Codec<T>>(&mut self, job: &T, options: PushOptions) -> Result<TaskId, BackendError> {
        let task = NewTask::new(C::encode(job)?, options);
        let id = task.id;
        self.tasks.push(task);
        Ok(id)
    }

    /// Tasks pushed so far.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The buffered tasks, in push order, for the storage's commit.
    pub fn into_tasks(self) -> Vec<NewTask> {
        self.tasks
    }
}

impl<T, C> Prune for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn delete_finished(&self, status: Status, older_than: Duration, limit: usize) -> Result<u64, BackendError> {
        let age = chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
        let before = Utc::now().checked_sub_signed(age).unwrap_or(DateTime::<Utc>::MIN_UTC);
        Ok(self.shared.lock().prune(status, before, limit))
    }
}

/// The memory backend's batch.
pub type MemoryBatch = BufferedBatch;

impl<T, C> EnqueueBatch for MemoryStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Batch = MemoryBatch;

    async fn begin_batch(&self) -> Result<MemoryBatch, BackendError> {
        Ok(MemoryBatch::default())
    }

    fn push_to<'a>(
        &'a self,
        batch: &'a mut MemoryBatch,
        job: T,
        options: PushOptions,
    ) -> impl std::future::Future<Output = Result<TaskId, BackendError>> + Send + 'a {
        std::future::ready(batch.push_job::<T, C>(&job, options))
    }

    async fn commit_batch(&self, batch: MemoryBatch) -> Result<(), BackendError> {
        self.enqueue_now(batch.into_tasks());
        Ok(())
    }
}

/// What the admin contract needs beyond the traits ([`MemoryAdmin`](crate::MemoryAdmin)).
impl<T, C> MemoryStorage<T, C> {
    /// Delete a task unless it is running; whether it was deleted.
    pub fn delete_task(&self, id: TaskId) -> bool {
        self.shared.lock().delete(id)
    }

    /// Make a pending task due now (a scheduled one, or one waiting for its retry); whether it
    /// is pending.
    pub fn run_now(&self, id: TaskId) -> bool {
        let due = self.shared.lock().run_now(id, Utc::now());
        if due {
            self.shared.wakeup.notify();
        }
        due
    }
}
