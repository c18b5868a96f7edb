//! The dead-letter queue `<queue>.dead`: moving dead tasks back to the work queue.

use drover_core::{BackendError, Codec, Requeue, TaskId};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::Channel;

use crate::envelope::{now_ms, Envelope};
use crate::session::{connection_error, Outgoing};
use crate::storage::AmqpStorage;
use crate::topology::Route;

/// A dead message made pending again: attempts reset, due now, its last error kept.
fn revived(delivery: &lapin::message::Delivery) -> Outgoing {
    let now = now_ms();
    let mut envelope = Envelope::from_properties(&delivery.properties).unwrap_or_else(|_| Envelope::foreign(now));
    envelope.attempts = 0;
    envelope.run_at_ms = None;
    Outgoing { route: Route::Work, envelope, payload: delivery.data.clone() }
}

async fn get(channel: &Channel, queue: &str) -> Result<Option<lapin::message::Delivery>, BackendError> {
    let got = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: false })
        .await
        .map_err(|e| connection_error("reading the dead-letter queue", e))?;
    Ok(got.map(|m| m.delivery))
}

impl<T, C> AmqpStorage<T, C> {
    /// Move up to `max` tasks from the dead-letter queue back to the work queue, oldest first,
    /// with their attempts reset. Returns how many moved. Each copy is confirmed by the broker
    /// before its dead original is acked, so a failure midway loses nothing (at worst a task is
    /// requeued twice).
    pub async fn requeue_dead(&self, max: usize) -> Result<usize, BackendError> {
        let session = self.inner.session().await?;
        let channel =
            session.connection.create_channel().await.map_err(|e| connection_error("opening a channel", e))?;
        let mut last_tag = None;
        let mut messages = Vec::new();
        while messages.len() < max {
            let Some(delivery) = get(&channel, &self.inner.names.dead).await? else { break };
            last_tag = Some(delivery.delivery_tag);
            messages.push(revived(&delivery));
        }
        self.inner.publish(&session, &messages).await?;
        if let Some(tag) = last_tag {
            channel
                .basic_ack(tag, BasicAckOptions { multiple: true })
                .await
                .map_err(|e| connection_error("acknowledging requeued dead tasks", e))?;
        }
        let _ = channel.close(200, "requeued".into()).await;
        Ok(messages.len())
    }
}

impl<T, C> Requeue for AmqpStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// Find the task in the dead-letter queue and move it back to the work queue. A broker
    /// cannot look a message up by id, so this reads the dead-letter queue until it finds it
    /// (the others go back in their order when the scan's channel closes): it costs one round
    /// trip per dead message ahead of it. Returns false when the task is not in the
    /// dead-letter queue (unknown, not dead, or being requeued by a concurrent scan).
    async fn requeue(&self, id: TaskId) -> Result<bool, BackendError> {
        let session = self.inner.session().await?;
        let channel =
            session.connection.create_channel().await.map_err(|e| connection_error("opening a channel", e))?;
        let mut found = false;
        while let Some(delivery) = get(&channel, &self.inner.names.dead).await? {
            let matches = Envelope::from_properties(&delivery.properties).is_ok_and(|e| e.id == id);
            if matches {
                self.inner.publish(&session, &[revived(&delivery)]).await?;
                channel
                    .basic_ack(delivery.delivery_tag, BasicAckOptions { multiple: false })
                    .await
                    .map_err(|e| connection_error("acknowledging a requeued dead task", e))?;
                found = true;
                break;
            }
        }
        // Closing the channel puts every other message read back where it was.
        let _ = channel.close(200, "scanned".into()).await;
        if found {
            self.inner.wakeup.notify();
        }
        Ok(found)
    }
}
