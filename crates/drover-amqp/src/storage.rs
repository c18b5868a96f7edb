//! The storage type and the core contracts it implements.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use drover_core::{
    Backend, BackendError, ClaimRequest, ClaimedTask, Codec, Completion, Enqueue, JsonCodec, Lease, NewTask, TaskId,
    Wakeup,
};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

use crate::config::AmqpConfig;
use crate::envelope::{now_ms, Envelope};
use crate::inner::Inner;
use crate::session::{connection_error, lock, Outgoing};
use crate::topology::Route;

/// A Drover queue on an AMQP 0-9-1 broker (RabbitMQ), for jobs of type `T` encoded by `C`.
///
/// Clones share one connection, one consumer and one set of claims. See the crate docs for the
/// topology it declares and how leases, retries, delays and dead tasks map onto the broker.
///
/// ```no_run
/// use drover_amqp::{AmqpConfig, AmqpStorage};
/// use drover_core::Enqueue;
///
/// # async fn run() -> Result<(), drover_core::BackendError> {
/// let storage: AmqpStorage<String> = AmqpStorage::connect(AmqpConfig::from_env("emails")).await?;
/// let id = storage.push("hello@example.com".to_owned()).await?;
/// println!("pushed {id}");
/// # Ok(())
/// # }
/// ```
pub struct AmqpStorage<T, C = JsonCodec> {
    pub(crate) inner: Arc<Inner>,
    _job: PhantomData<fn() -> (T, C)>,
}

impl<T, C> Clone for AmqpStorage<T, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), _job: PhantomData }
    }
}

impl<T, C> std::fmt::Debug for AmqpStorage<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpStorage").field("queue", &self.inner.names.work).finish()
    }
}

/// How many messages a storage's queues hold, as the broker counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueDepths {
    /// Messages in the work queue not delivered to any consumer (due tasks).
    pub ready: u32,
    /// Consumers of the work queue.
    pub consumers: u32,
    /// Messages in the dead-letter queue.
    pub dead: u32,
}

impl<T, C> AmqpStorage<T, C> {
    /// Connect, declare the work and dead-letter queues, and start the lease checker. Must be
    /// called inside a Tokio runtime (the connection runs on it).
    pub async fn connect(config: AmqpConfig) -> Result<Self, BackendError> {
        Ok(Self { inner: Inner::connect(config).await?, _job: PhantomData })
    }

    /// The configuration this storage was made with.
    pub fn config(&self) -> &AmqpConfig {
        &self.inner.config
    }

    /// The dead-letter queue's name (`<queue>.dead`).
    pub fn dead_queue(&self) -> &str {
        &self.inner.names.dead
    }

    /// Message counts of the work and dead-letter queues.
    pub async fn queue_depths(&self) -> Result<QueueDepths, BackendError> {
        let session = self.inner.session().await?;
        let channel =
            session.connection.create_channel().await.map_err(|e| connection_error("opening a channel", e))?;
        let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
        let work = channel
            .queue_declare(self.inner.names.work.as_str().into(), passive, FieldTable::default())
            .await
            .map_err(|e| connection_error("reading the work queue's depth", e))?;
        let dead = channel
            .queue_declare(self.inner.names.dead.as_str().into(), passive, FieldTable::default())
            .await
            .map_err(|e| connection_error("reading the dead-letter queue's depth", e))?;
        let _ = channel.close(200, "done".into()).await;
        Ok(QueueDepths { ready: work.message_count(), consumers: work.consumer_count(), dead: dead.message_count() })
    }

    /// Stop consuming, hand every buffered delivery back to the queue, and close the
    /// connection. Call it after the workers stopped, before the process exits: deliveries
    /// left unacknowledged on a closing connection come back marked redelivered, and a
    /// redelivery counts as an attempt (see the crate docs, "Attempts and crashes").
    pub async fn close(&self) -> Result<(), BackendError> {
        let Some(session) = self.inner.current() else { return Ok(()) };
        self.inner.release(Vec::new()).await?;
        session
            .connection
            .close(200, "drover-amqp: closed".into())
            .await
            .map_err(|e| connection_error("closing", e))?;
        session.mark_broken();
        Ok(())
    }
}

/// Check the options AMQP cannot honour and build the message of each task.
pub(crate) fn outgoing(tasks: Vec<NewTask>) -> Result<Vec<Outgoing>, BackendError> {
    let now = now_ms();
    tasks
        .into_iter()
        .map(|task| {
            if task.priority != 0 {
                return Err(BackendError::Unsupported(format!(
                    "drover-amqp does not support priorities (task pushed with priority {}): a consumer takes \
                     messages as they arrive, before a higher-priority one can overtake them; push with priority 0 \
                     or use a backend with priorities (PostgreSQL, MySQL, SQLite, Redis)",
                    task.priority
                )));
            }
            if let Some(key) = &task.unique_key {
                return Err(BackendError::Unsupported(format!(
                    "drover-amqp does not support unique keys (task pushed with key `{key}`): a broker cannot look \
                     up queued messages by key; push without one or use a backend with unique keys (PostgreSQL, MySQL, SQLite, Redis)"
                )));
            }
            drover_core::refuse_concurrency_keys("drover-amqp", std::slice::from_ref(&task))?;
            let envelope = Envelope::from_new(&task, now);
            let route = Route::for_run_at(envelope.run_at_ms, now);
            Ok(Outgoing { route, envelope, payload: task.payload })
        })
        .collect()
}

impl<T, C> Backend for AmqpStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Job = T;
    type Codec = C;

    fn queue(&self) -> &str {
        &self.inner.names.work
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        self.inner.claim(request).await
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        self.inner.complete(batch).await
    }

    /// Leases are held by the storage itself (the broker keeps a delivery until it is acked or
    /// its connection closes): extending one pushes its local deadline, with no broker call.
    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        self.inner.extend(&leases, lease);
        Ok(())
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        self.inner.release(leases).await
    }

    fn wakeup(&self) -> Option<Wakeup> {
        Some(self.inner.wakeup.subscribe())
    }
}

impl<T, C> Enqueue for AmqpStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// Publish every task as a persistent message and return once the broker confirmed all of
    /// them (confirms are awaited together, not one by one). Tasks due later go to a delay
    /// queue. A priority other than 0 or a unique key is [`BackendError::Unsupported`].
    async fn enqueue(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        let messages = outgoing(tasks)?;
        let ids = messages.iter().map(|m| m.envelope.id).collect();
        let session = self.inner.session().await?;
        self.inner.publish(&session, &messages).await?;
        Ok(ids)
    }
}

impl<T, C> AmqpStorage<T, C> {
    /// How many claims this storage holds right now (for tests and diagnostics).
    #[doc(hidden)]
    pub fn held_claims(&self) -> usize {
        lock(&self.inner.state).claims.len()
    }
}
