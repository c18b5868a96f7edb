//! Pushes inside an AMQP transaction (`tx.select`): published on a channel of their own, they
//! reach the queues only on `tx.commit`, and are discarded when the transaction is dropped.

use std::future::Future;

use drover_core::{BackendError, Codec, EnqueueBatch, NewTask, PushOptions, TaskId};
use lapin::Channel;

use crate::session::{connection_error, publish_on};
use crate::storage::{outgoing, AmqpStorage};

/// An open AMQP transaction, the batch of [`EnqueueBatch`]. Dropping it without
/// [`commit_batch`](EnqueueBatch::commit_batch) closes its
/// channel, and the broker discards what was pushed in it.
#[derive(Debug)]
pub struct AmqpTransaction {
    channel: Channel,
    pushed: usize,
}

impl AmqpTransaction {
    /// How many tasks were pushed in it so far.
    pub fn len(&self) -> usize {
        self.pushed
    }

    /// Whether nothing was pushed in it yet.
    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }
}

impl<T, C> EnqueueBatch for AmqpStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Batch = AmqpTransaction;

    async fn begin_batch(&self) -> Result<AmqpTransaction, BackendError> {
        let session = self.inner.session().await?;
        let channel =
            session.connection.create_channel().await.map_err(|e| connection_error("opening a channel", e))?;
        channel.tx_select().await.map_err(|e| connection_error("starting a transaction", e))?;
        Ok(AmqpTransaction { channel, pushed: 0 })
    }

    fn push_to<'a>(
        &'a self,
        tx: &'a mut AmqpTransaction,
        job: T,
        options: PushOptions,
    ) -> impl Future<Output = Result<TaskId, BackendError>> + Send + 'a {
        let task = C::encode(&job).map(|payload| NewTask::new(payload, options));
        async move {
            let messages = outgoing(vec![task?])?;
            let id = messages.first().map(|m| m.envelope.id).unwrap_or_default();
            let session = self.inner.session().await?;
            // Declaring is not transactional: the delay queue exists even if this rolls back.
            session.declare_buckets(&self.inner.config, &self.inner.names, messages.iter().map(|m| m.route)).await?;
            publish_on(&tx.channel, &self.inner.names, &messages, false).await?;
            tx.pushed += 1;
            Ok(id)
        }
    }

    async fn commit_batch(&self, tx: AmqpTransaction) -> Result<(), BackendError> {
        tx.channel.tx_commit().await.map_err(|e| connection_error("committing a transaction", e))?;
        let _ = tx.channel.close(200, "committed".into()).await;
        self.inner.wakeup.notify();
        Ok(())
    }
}
