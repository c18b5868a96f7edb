//! The delay pump: moves tasks from the delay stream to the work stream when they are due.
//!
//! Every storage runs one; pumps of many processes share the durable consumer `drover_pump`,
//! so each delayed message is handled by one of them. A message not due yet is Nak'd with
//! its remaining wait (at most an hour), so the server redelivers it on time; the pump
//! consumer has no `max_ack_pending` limit, so any number of delayed tasks can wait without
//! taking room from the work consumer's. A due message is published to the work stream with
//! a message id derived from the task and its attempt, and acked only once the work stream
//! has stored it: a pump that dies in between publishes the same message id again, which
//! the duplicate window drops.

use std::sync::Weak;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use drover_core::BackendError;
use tokio::time::Instant;

use crate::envelope::{now_ms, Envelope};
use crate::inner::{next_of_pull, Inner, Outgoing, Route, PULL_GRACE};
use crate::names::id_of_subject;

/// The longest Nak delay: a longer wait is Nak'd again when it comes back.
const MAX_HOLD: Duration = Duration::from_secs(3600);
/// The longest pause between pump pulls after errors.
const MAX_BACKOFF: Duration = Duration::from_millis(250);
/// How long one pump pull waits on the server for a message.
const PULL_WAIT: Duration = Duration::from_secs(1);

pub(crate) async fn pump_loop(inner: Weak<Inner>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(strong) = inner.upgrade() else { return };
        match strong.pump_once().await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(error) => {
                tracing::warn!(%error, queue = %strong.names.queue, "delay pump: {error}; retrying");
                drop(strong);
                tokio::time::sleep(backoff).await;
                // Short: a due task waits for the pump, and a delay must start on time.
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Once a message came, how long the pump waits for the next before it acts on those it has:
/// a pull stays open until its expiry, and a due task must not wait for that.
const LINGER: Duration = Duration::from_millis(5);
/// Due tasks published in one pipeline at most.
const CHUNK: usize = 256;

impl Inner {
    /// One pull of up to 256 delayed messages: publish the due ones, Nak the others with their
    /// remaining wait, each measured when it arrives. What came is acted on as soon as no
    /// more arrive within [`LINGER`], without waiting for the pull to expire.
    pub(crate) async fn pump_once(&self) -> Result<(), BackendError> {
        let ends = Instant::now() + PULL_WAIT + PULL_GRACE;
        let mut batch = self
            .top
            .pump
            .fetch()
            .max_messages(CHUNK)
            .expires(PULL_WAIT)
            .messages()
            .await
            .map_err(|e| BackendError::connection("delay pump pull", e))?;
        let mut due = Vec::new();
        let mut replies = Vec::new();
        loop {
            let next = if replies.is_empty() {
                next_of_pull(&mut batch, ends).await
            } else {
                match tokio::time::timeout(LINGER, next_of_pull(&mut batch, ends)).await {
                    Ok(next) => next,
                    Err(_) => {
                        self.pump_flush(&mut due, &mut replies).await?;
                        continue;
                    }
                }
            };
            let Some(next) = next else { break };
            let message = next.map_err(|e| BackendError::connection("delay pump pull", e))?;
            let Some(reply) = message.reply.clone() else { continue };
            let Some(id) = id_of_subject(&message.subject) else {
                // Not Drover's: nothing to deliver it as. Terminate it so it stops coming back.
                tracing::warn!(subject = %message.subject, "a message without a task id in the delay stream; dropping it");
                replies.push((reply, AckKind::Term));
                continue;
            };
            let envelope = Envelope::from_headers(id, message.headers.as_ref());
            let run_at = envelope.run_at_ms.unwrap_or(0);
            let now = now_ms();
            if run_at > now {
                let wait = Duration::from_millis(u64::try_from(run_at - now).unwrap_or(0)).min(MAX_HOLD);
                replies.push((reply, AckKind::Nak(Some(wait))));
            } else {
                let msg_id = format!("{id}.due.{}", envelope.attempts);
                due.push(Outgoing { route: Route::Ready, envelope, payload: message.payload.clone(), msg_id });
                replies.push((reply, AckKind::Ack));
            }
            if due.len() >= CHUNK {
                self.pump_flush(&mut due, &mut replies).await?;
            }
        }
        self.pump_flush(&mut due, &mut replies).await
    }

    /// Publish the due tasks (awaiting the work stream's PubAcks), then send every ack and Nak.
    async fn pump_flush(
        &self,
        due: &mut Vec<Outgoing>,
        replies: &mut Vec<(async_nats::Subject, AckKind)>,
    ) -> Result<(), BackendError> {
        self.publish(std::mem::take(due)).await?;
        self.ack_all(std::mem::take(replies)).await
    }
}
