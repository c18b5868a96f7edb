//! Consumption: consumers whose prefetches add up to what the workers' capacity needs, a task
//! per consumer moving its deliveries into the buffer, and the triage of each delivery
//! (claimable now, not due yet, or redelivered after a lost connection).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use drover_core::{BackendError, LEASE_EXPIRED_ON_LAST_ATTEMPT};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::Consumer;

use crate::envelope::{now_ms, Envelope};
use crate::inner::Inner;
use crate::session::{answered_within, connection_error, lock, ConsumerRun, Outgoing, Session};
use crate::state::Buffered;
use crate::topology::Route;

/// The fewest deliveries the automatic prefetch lets the broker send ahead: below this the
/// broker idles between acks and a fast drain is held back (measured in `cargo xtask bench`).
const MIN_AUTO_PREFETCH: usize = 128;

/// The most deliveries the automatic prefetch lets the broker send ahead.
const MAX_AUTO_PREFETCH: usize = 2_000;

/// How long stopping a consumer waits for its last deliveries to be buffered.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// What to do with a delivery.
enum Triage {
    /// Claimable now.
    Ready(Envelope),
    /// Publish a copy elsewhere (a delay queue, the work queue with a counted attempt, the
    /// dead-letter queue), then ack this one.
    Forward(Route, Envelope),
}

fn triage(delivery: &Delivery, now: i64) -> Triage {
    let mut envelope = match Envelope::from_properties(&delivery.properties) {
        Ok(envelope) => envelope,
        Err(error) => {
            let mut envelope = Envelope::foreign(now);
            envelope.last_error = Some(error);
            return Triage::Forward(Route::Dead, envelope);
        }
    };
    if delivery.redelivered {
        // This copy was delivered before on a connection that is gone (a crashed or killed
        // worker, a broker restart): that delivery may have run, so it counts as an attempt,
        // and a task that keeps killing its worker ends up dead instead of looping.
        envelope.attempts = envelope.attempts.saturating_add(1);
        if envelope.attempts >= envelope.max_attempts {
            envelope.last_error = Some(LEASE_EXPIRED_ON_LAST_ATTEMPT.to_owned());
            return Triage::Forward(Route::Dead, envelope);
        }
        return Triage::Forward(Route::for_run_at(envelope.run_at_ms, now), envelope);
    }
    match Route::for_run_at(envelope.run_at_ms, now) {
        Route::Work => Triage::Ready(envelope),
        later => Triage::Forward(later, envelope),
    }
}

impl Inner {
    /// Make sure the consumers of `session` let the broker send ahead enough to cover
    /// `capacity` (claims held plus the claim being made). The prefetch of a running consumer
    /// cannot change, so more is a further consumer on the channel with the difference; the
    /// running ones are not cancelled. (A quorum queue of RabbitMQ 3.10 does not return the
    /// unacknowledged messages of a *cancelled* consumer when the node of its connection dies,
    /// only those of active ones: a consumer replaced by cancelling it kept deliveries that
    /// were then never delivered again.) Returns whether a consumer was started.
    pub(crate) async fn ensure_consuming(
        self: &Arc<Self>,
        session: &Arc<Session>,
        capacity: usize,
    ) -> Result<bool, BackendError> {
        let fixed = self.config.fixed_prefetch();
        let enough = |current: u32| current != 0 && (fixed.is_some() || capacity <= current as usize);
        if enough(session.prefetch.load(Ordering::Acquire)) {
            return Ok(false);
        }
        let mut runs = session.consumers.lock().await;
        let current = session.prefetch.load(Ordering::Acquire);
        if enough(current) {
            return Ok(false);
        }
        let wanted =
            fixed.map_or_else(|| capacity.saturating_mul(4).clamp(MIN_AUTO_PREFETCH, MAX_AUTO_PREFETCH), usize::from);
        let Some(more) = u16::try_from(wanted.saturating_sub(current as usize)).ok().filter(|m| *m > 0) else {
            return Ok(false);
        };
        let channel = &session.consumer_channel;
        let number = session.consumers_started.fetch_add(1, Ordering::AcqRel) + 1;
        tracing::debug!(queue = %self.names.work, generation = session.generation, consumer = number, prefetch = more, total = current + u32::from(more), "starting a consumer");
        let tag = format!("drover-{}-{}-{number}", self.names.work, session.generation);
        let within = self.config.connect_within();
        let start = async {
            channel
                .basic_qos(more, BasicQosOptions { global: false })
                .await
                .map_err(|e| connection_error("setting the consumer prefetch", e))?;
            channel
                .basic_consume(
                    self.names.work.as_str().into(),
                    tag.as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| connection_error("starting a consumer", e))
        };
        let consumer =
            answered_within(within, "starting a consumer", "RabbitMQ", start).await.inspect_err(|e| session.fail(e))?;
        session.prefetch.fetch_add(u32::from(more), Ordering::AcqRel);
        let pump = tokio::spawn(pump(Arc::downgrade(self), session.generation, more, consumer));
        runs.push(ConsumerRun { tag, pump });
        Ok(true)
    }

    /// Cancel the consumers, wait for their last deliveries, and take everything buffered.
    pub(crate) async fn stop_consuming(&self, session: &Session) -> Vec<Buffered> {
        let mut runs = session.consumers.lock().await;
        let within = self.config.connect_within();
        for run in runs.drain(..) {
            // A refused cancel is of a consumer that is gone already; only no answer matters.
            let cancel = async {
                let _ =
                    session.consumer_channel.basic_cancel(run.tag.as_str().into(), BasicCancelOptions::default()).await;
                Ok(())
            };
            if let Err(error) = answered_within(within, "cancelling a consumer", "RabbitMQ", cancel).await {
                session.fail(&error);
            }
            if tokio::time::timeout(DRAIN_TIMEOUT, run.pump).await.is_err() {
                tracing::warn!(queue = %self.names.work, "the consumer did not stop in time");
            }
        }
        let mut st = lock(&self.state);
        if st.generation != session.generation {
            return Vec::new();
        }
        st.buffer.drain(..).collect()
    }

    /// A delivery arrived on connection `generation`.
    fn arrive(self: &Arc<Self>, generation: u64, delivery: Delivery) {
        let tag = delivery.delivery_tag;
        if delivery.redelivered {
            if let Ok(envelope) = Envelope::from_properties(&delivery.properties) {
                let mut st = lock(&self.state);
                if st.generation == generation && st.adopt(envelope.id, tag) {
                    st.received(tag);
                    // A worker still holds this task from the lost connection: its claim now
                    // stands for this delivery, so the task runs once, not twice.
                    return;
                }
            }
        }
        let triage = triage(&delivery, now_ms());
        {
            let mut st = lock(&self.state);
            if st.generation != generation {
                return;
            }
            st.received(tag);
            st.outstanding.insert(tag);
            if let Triage::Ready(envelope) = triage {
                st.buffer.push_back(Buffered { tag, envelope, payload: delivery.data });
                drop(st);
                self.arrived.notify_waiters();
                self.wakeup.notify();
                return;
            }
        }
        if let Triage::Forward(route, envelope) = triage {
            let inner = self.clone();
            let message = Outgoing { route, envelope, payload: delivery.data };
            tokio::spawn(async move { inner.forward(generation, tag, message).await });
        }
    }

    /// Publish a copy of a delivery elsewhere, then ack it.
    async fn forward(&self, generation: u64, tag: u64, message: Outgoing) {
        let Some(session) = self.current().filter(|s| s.generation == generation) else { return };
        match self.publish(&session, std::slice::from_ref(&message)).await {
            Ok(()) => {
                if let Err(error) = session.settle(&self.state, vec![tag], false).await {
                    tracing::warn!(%error, "could not ack a forwarded delivery; the broker will redeliver it");
                }
            }
            Err(error) => {
                // Leave it unacked on a connection marked broken: reconnecting returns it.
                tracing::warn!(%error, task_id = %message.envelope.id, "could not forward a delivery; reconnecting");
                session.fail(&error);
            }
        }
    }

    /// A consumer of connection `generation`, with prefetch `prefetch`, stopped: cancelled by
    /// the storage, by the broker (queue deleted), or its channel closed.
    fn consumer_ended(&self, generation: u64, prefetch: u16, failed: Option<BackendError>) {
        let Some(session) = self.current().filter(|s| s.generation == generation) else { return };
        if let Some(error) = failed {
            session.fail(&error);
        }
        // What the others let the broker send ahead; the next claim makes up the difference.
        let _ = session
            .prefetch
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| Some(p.saturating_sub(u32::from(prefetch))));
    }
}

/// Move deliveries from the consumer into the storage until the consumer ends or the storage
/// is dropped.
async fn pump(inner: Weak<Inner>, generation: u64, prefetch: u16, mut consumer: Consumer) {
    while let Some(item) = consumer.next().await {
        let Some(inner) = inner.upgrade() else { return };
        match item {
            Ok(delivery) => inner.arrive(generation, delivery),
            Err(error) => {
                tracing::warn!(%error, "the AMQP consumer failed; the next claim reconnects");
                inner.consumer_ended(generation, prefetch, Some(connection_error("consuming", error)));
                return;
            }
        }
    }
    if let Some(inner) = inner.upgrade() {
        inner.consumer_ended(generation, prefetch, None);
    }
}
