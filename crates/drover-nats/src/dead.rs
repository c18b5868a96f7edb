//! Dead tasks: the dead stream, requeue, and the sweep of messages that reached the work
//! consumer's `max_deliver` (which the server leaves in the work stream, undelivered).

use std::sync::Weak;
use std::time::Duration;

use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use drover_core::{BackendError, TaskId};
use futures_util::StreamExt;

use crate::envelope::Envelope;
use crate::inner::{lock, Inner, Outgoing, Route};
use crate::names::id_of_subject;

/// The error recorded on a message the server stopped delivering after `max_deliver`.
pub(crate) const MAX_DELIVERIES: &str =
    "delivered max_deliver times without an ack (its workers crashed or were killed): moved to the dead stream";

/// The last message on `subject`, if any.
pub(crate) async fn last_on(
    stream: &Stream,
    subject: String,
) -> Result<Option<async_nats::jetstream::message::StreamMessage>, BackendError> {
    match stream.get_last_raw_message_by_subject(&subject).await {
        Ok(message) => Ok(Some(message)),
        Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(None),
        Err(e) => Err(BackendError::connection("look up a message by subject", e)),
    }
}

impl Inner {
    /// Move one work message to the dead stream and delete it from the work stream.
    pub(crate) async fn sweep_seq(&self, seq: u64, error: &str) -> Result<(), BackendError> {
        let message = match self.top.work.get_raw_message(seq).await {
            Ok(message) => message,
            Err(e) if e.to_string().contains("no message found") => return Ok(()),
            Err(e) => return Err(BackendError::connection("read a message to dead-letter", e)),
        };
        let id = id_of_subject(&message.subject).unwrap_or_default();
        let mut envelope = Envelope::from_headers(id, Some(&message.headers)).pinned();
        envelope.last_error = Some(error.to_owned());
        let msg_id = format!("{id}.dead.{seq}");
        let key = envelope.unique_key.clone();
        self.publish(vec![Outgoing { route: Route::Dead, envelope, payload: message.payload, msg_id }]).await?;
        self.top.work.delete_message(seq).await.map_err(|e| BackendError::connection("delete a dead message", e))?;
        if let Some(key) = key {
            self.release_key(&key, id).await;
        }
        Ok(())
    }

    /// At start-up: the server's advisories are not persisted, so messages that reached
    /// `max_deliver` while no storage listened are found here. A work-queue stream keeps only
    /// unacked messages, and one the consumer has delivered is either ack-pending or past
    /// `max_deliver`. So: with nothing ack-pending, every message up to the consumer's last
    /// delivered sequence is past it; otherwise those at or below the ack floor are (the
    /// server does not always move the floor past such a message, so the first rule matters).
    pub(crate) async fn sweep_max_delivered(&self) -> Result<(), BackendError> {
        let mut consumer = self.top.consumer.clone();
        let info = consumer.info().await.map_err(|e| BackendError::connection("consumer info", e))?;
        let limit =
            if info.num_ack_pending == 0 { info.delivered.stream_sequence } else { info.ack_floor.stream_sequence };
        let mut work = self.top.work.clone();
        for _ in 0..100_000 {
            let state = work.info().await.map_err(|e| BackendError::connection("stream info", e))?.state.clone();
            if state.messages == 0 || state.first_sequence > limit {
                break;
            }
            self.sweep_seq(state.first_sequence, MAX_DELIVERIES).await?;
        }
        Ok(())
    }

    /// Requeue a dead task: a copy due now with its attempts reset, then the dead copy deleted.
    pub(crate) async fn requeue(&self, id: TaskId) -> Result<bool, BackendError> {
        let Some(message) = last_on(&self.top.dead, self.names.dead_of(id)).await? else { return Ok(false) };
        let mut envelope = Envelope::from_headers(id, Some(&message.headers)).pinned();
        envelope.attempts = 0;
        envelope.run_at_ms = None;
        envelope.last_error = None;
        let msg_id = format!("{id}.requeue.{}", message.sequence);
        self.publish(vec![Outgoing { route: Route::Ready, envelope, payload: message.payload, msg_id }]).await?;
        self.top
            .dead
            .delete_message(message.sequence)
            .await
            .map_err(|e| BackendError::connection("delete the requeued dead message", e))?;
        Ok(true)
    }

    /// Cancel a pending or running task: its message is deleted from the work or the delay
    /// stream, and a claim on it here is revoked.
    pub(crate) async fn cancel(&self, id: TaskId) -> Result<bool, BackendError> {
        for (stream, subject) in [(&self.top.work, self.names.ready_of(id)), (&self.top.delay, self.names.delay_of(id))]
        {
            if let Some(message) = last_on(stream, subject).await? {
                let deleted = stream
                    .delete_message(message.sequence)
                    .await
                    .map_err(|e| BackendError::connection("delete a cancelled message", e))?;
                lock(&self.state).forget(id);
                if let Some(key) = Envelope::from_headers(id, Some(&message.headers)).unique_key {
                    self.release_key(&key, id).await;
                }
                return Ok(deleted);
            }
        }
        Ok(false)
    }

    /// Whether a task is pending or running (its message is in the work or delay stream).
    pub(crate) async fn unfinished(&self, id: TaskId) -> Result<bool, BackendError> {
        Ok(last_on(&self.top.work, self.names.ready_of(id)).await?.is_some()
            || last_on(&self.top.delay, self.names.delay_of(id)).await?.is_some())
    }
}

/// Listen to the server's max-deliveries advisory of the work consumer (one listener per
/// queue group across processes) and dead-letter each message it names.
pub(crate) async fn advisory_loop(inner: Weak<Inner>, client: async_nats::Client) {
    #[derive(serde::Deserialize)]
    struct Advisory {
        stream_seq: u64,
    }
    loop {
        let Some(subject) = inner.upgrade().map(|i| i.names.max_deliveries_advisory()) else { return };
        match client.queue_subscribe(subject, "drover".to_owned()).await {
            Ok(mut sub) => {
                while let Some(message) = sub.next().await {
                    let Some(strong) = inner.upgrade() else { return };
                    match serde_json::from_slice::<Advisory>(&message.payload) {
                        Ok(advisory) => {
                            if let Err(error) = strong.sweep_seq(advisory.stream_seq, MAX_DELIVERIES).await {
                                tracing::warn!(%error, "could not dead-letter a message past max_deliver; the next start-up sweeps it");
                            }
                        }
                        Err(error) => tracing::warn!(%error, "an unreadable max-deliveries advisory"),
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not subscribe to the max-deliveries advisory; retrying"),
        }
        if inner.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
