//! The storage type and the core contracts it implements.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use drover_core::{
    resolve_queue_name, Backend, BackendError, Cancel, ClaimRequest, ClaimedTask, Codec, Completion, Enqueue, Inspect,
    JsonCodec, Lease, ListQuery, NewTask, QueueStats, Requeue, TaskId, TaskInfo, Wakeup,
};

use crate::config::NatsConfig;
use crate::inner::Inner;

/// A Drover queue on NATS JetStream, for jobs of type `T` encoded by `C`.
///
/// Clones share one connection, one set of claims, one delay pump. See the crate docs for the
/// streams it creates and how leases, retries, delays and dead tasks map onto JetStream.
///
/// ```no_run
/// use drover_core::Enqueue;
/// use drover_nats::{NatsConfig, NatsStorage};
///
/// # async fn run() -> Result<(), drover_core::BackendError> {
/// let storage: NatsStorage<String> = NatsStorage::connect(NatsConfig::from_env().set_queue("emails")).await?;
/// let id = storage.push("hello@example.com".to_owned()).await?;
/// println!("pushed {id}");
/// # Ok(())
/// # }
/// ```
pub struct NatsStorage<T, C = JsonCodec> {
    pub(crate) inner: Arc<Inner>,
    /// Shared by the clones only (the background tasks hold the inner state, briefly, but not
    /// this): when the last clone goes, the pump, lease checker and listeners stop at once.
    _tasks: Arc<AbortOnDrop>,
    _job: PhantomData<fn() -> (T, C)>,
}

/// Stops a storage's background tasks when dropped.
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl<T, C> Clone for NatsStorage<T, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), _tasks: self._tasks.clone(), _job: PhantomData }
    }
}

impl<T, C> std::fmt::Debug for NatsStorage<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsStorage").field("stream", &self.inner.names.work_stream).finish()
    }
}

/// How many messages a queue's streams hold, as the server counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamDepths {
    /// Work-stream messages not yet delivered (due tasks).
    pub ready: u64,
    /// Work-stream messages delivered and not acked (running, or waiting for a short retry).
    pub ack_pending: u64,
    /// Messages in the delay stream (scheduled tasks and long retries).
    pub delayed: u64,
    /// Messages in the dead stream.
    pub dead: u64,
}

impl<T, C> NatsStorage<T, C> {
    /// Connect, create the streams and consumers that are missing, sweep messages past
    /// `max_deliver` into the dead stream, and start the delay pump and the lease checker.
    /// Must be called inside a Tokio runtime. The queue is the config's, or the job type's own
    /// name.
    pub async fn connect(config: NatsConfig) -> Result<Self, BackendError> {
        let queue = resolve_queue_name::<T>(config.queue());
        let inner = Inner::open(config, queue).await?;
        let tasks = crate::inner::lock(&inner.tasks).iter().map(|t| t.abort_handle()).collect();
        Ok(Self { inner, _tasks: Arc::new(AbortOnDrop(tasks)), _job: PhantomData })
    }

    /// The configuration this storage was made with.
    pub fn config(&self) -> &NatsConfig {
        &self.inner.config
    }

    /// The work stream's name (`DROVER_<queue>`).
    pub fn work_stream(&self) -> &str {
        &self.inner.names.work_stream
    }

    /// The delay stream's name (`DROVER_<queue>_DELAY`).
    pub fn delay_stream(&self) -> &str {
        &self.inner.names.delay_stream
    }

    /// The dead stream's name (`DROVER_<queue>_DEAD`).
    pub fn dead_stream(&self) -> &str {
        &self.inner.names.dead_stream
    }

    /// The underlying client, for your own NATS calls on the same connection.
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.top.client
    }

    /// Message counts of the queue's streams and work consumer.
    pub async fn depths(&self) -> Result<StreamDepths, BackendError> {
        let mut consumer = self.inner.top.consumer.clone();
        let info = consumer.info().await.map_err(|e| BackendError::connection("consumer info", e))?;
        let (ready, ack_pending) = (info.num_pending, info.num_ack_pending as u64);
        let mut delay = self.inner.top.delay.clone();
        let delayed = delay.info().await.map_err(|e| BackendError::connection("stream info", e))?.state.messages;
        let mut dead = self.inner.top.dead.clone();
        let dead = dead.info().await.map_err(|e| BackendError::connection("stream info", e))?.state.messages;
        Ok(StreamDepths { ready, ack_pending, delayed, dead })
    }

    /// Delete the queue's streams (and so its consumers and every task in them) and its
    /// ticks bucket. For tests and for retiring a queue.
    pub async fn delete_streams(&self) -> Result<(), BackendError> {
        let names = &self.inner.names;
        for stream in [&names.work_stream, &names.delay_stream, &names.dead_stream, &names.done_stream] {
            if let Err(error) = self.inner.top.js.delete_stream(stream).await {
                if !error.to_string().contains("not found") {
                    return Err(BackendError::connection("delete stream", error));
                }
            }
        }
        let _ = self.inner.top.js.delete_key_value(&names.ticks_bucket).await;
        let _ = self.inner.top.js.delete_key_value(&names.unique_bucket).await;
        Ok(())
    }

    /// How many claims this storage holds right now: running, or claimed ahead (for tests and
    /// diagnostics).
    #[doc(hidden)]
    pub fn held_claims(&self) -> usize {
        crate::inner::lock(&self.inner.state).len()
    }

    /// Wait until the server has every message published so far (pushes, acks).
    pub async fn flush(&self) -> Result<(), BackendError> {
        self.inner.top.client.flush().await.map_err(|e| BackendError::connection("flush", e))
    }
}

impl<T, C> Backend for NatsStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T> + 'static,
{
    type Job = T;
    type Codec = C;

    fn queue(&self) -> &str {
        &self.inner.names.queue
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        self.inner.claim(request).await
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        self.inner.complete(batch).await
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        self.inner.extend(leases, lease).await
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        self.inner.release(leases).await
    }

    fn wakeup(&self) -> Option<Wakeup> {
        Some(self.inner.wakeup.subscribe())
    }
}

impl<T, C> Enqueue for NatsStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T> + 'static,
{
    async fn enqueue(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        self.inner.enqueue(tasks).await
    }
}

impl<T, C> Cancel for NatsStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T> + 'static,
{
    async fn cancel(&self, id: TaskId) -> Result<bool, BackendError> {
        self.inner.cancel(id).await
    }
}

impl<T, C> Requeue for NatsStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T> + 'static,
{
    async fn requeue(&self, id: TaskId) -> Result<bool, BackendError> {
        self.inner.requeue(id).await
    }
}

impl<T, C> Inspect for NatsStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T> + 'static,
{
    async fn stats(&self) -> Result<QueueStats, BackendError> {
        self.inner.stats().await
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<TaskInfo>, BackendError> {
        self.inner.list(query).await
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskInfo>, BackendError> {
        self.inner.get(id).await
    }
}
