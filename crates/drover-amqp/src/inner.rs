//! The shared heart of a storage: its session (reconnected on demand), its in-memory state, and
//! the lease logic that maps the core's claims onto unacknowledged deliveries.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use drover_core::{
    BackendError, ClaimRequest, ClaimedTask, Completion, Lease, LeaseToken, Outcome, WakeupSender,
    LEASE_EXPIRED_ON_LAST_ATTEMPT,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::AmqpConfig;
use crate::envelope::{ms_after, now_ms};
use crate::session::{lock, Outgoing, Session};
use crate::state::{Claim, State};
use crate::topology::{Names, Route};

/// Right after a consumer started, how long a claim waits for the next delivery of the first
/// burst before it returns what it has.
const BURST_GRACE: Duration = Duration::from_millis(3);

/// How long a delivery tag may be missing below one that arrived before the connection is
/// given up for the broker to return it. Deliveries of two consumers on a channel reach the
/// storage out of order by microseconds; a tag that never comes was dropped by the client.
const MISSING_DELIVERY_PATIENCE: Duration = Duration::from_secs(5);

/// The most times a completion follows a reconnect that happened while it was being made.
const GENERATION_RACES: usize = 5;

/// Claims taken out of the state for settling; put back if settling is abandoned (the call
/// dropped by a timeout, or failed) before their acks were planned, so that no delivery is
/// left unacknowledged with no claim standing for it.
struct Taken<'a> {
    state: &'a Mutex<State>,
    claims: Vec<(LeaseToken, Claim)>,
}

impl Taken<'_> {
    fn tags(&self) -> Vec<u64> {
        self.claims.iter().map(|(_, c)| c.tag).collect()
    }

    /// The acks are planned: nothing to put back any more.
    fn settled(mut self) {
        self.claims.clear();
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if !self.claims.is_empty() {
            lock(self.state).restore(std::mem::take(&mut self.claims));
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: AmqpConfig,
    pub(crate) names: Names,
    pub(crate) state: Mutex<State>,
    slot: RwLock<Option<Arc<Session>>>,
    reconnecting: tokio::sync::Mutex<()>,
    generations: AtomicU64,
    /// The index of the URL ([`AmqpConfig::urls`]) the last connection used.
    last_url: AtomicUsize,
    /// Fired on every delivery that becomes claimable.
    pub(crate) arrived: Notify,
    pub(crate) wakeup: WakeupSender,
    reaper: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(reaper) = lock(&self.reaper).take() {
            reaper.abort();
        }
        if let Some(session) = self.slot.get_mut().ok().and_then(|s| s.take()) {
            session.shut_down();
        }
    }
}

/// `now + d`, far in the future instead of overflowing.
fn deadline_in(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

impl Inner {
    /// Connect and start the lease checker.
    pub(crate) async fn connect(config: AmqpConfig) -> Result<Arc<Self>, BackendError> {
        config.validate()?;
        let names = Names::new(config.queue());
        let every = config.lease_check();
        let inner = Arc::new(Self {
            config,
            names,
            state: Mutex::new(State::default()),
            slot: RwLock::new(None),
            reconnecting: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(0),
            last_url: AtomicUsize::new(0),
            arrived: Notify::new(),
            wakeup: WakeupSender::new(),
            reaper: Mutex::new(None),
        });
        inner.session().await?;
        let reaper = tokio::spawn(reap_loop(Arc::downgrade(&inner), every));
        *lock(&inner.reaper) = Some(reaper);
        Ok(inner)
    }

    /// The current session, if it is still healthy.
    pub(crate) fn current(&self) -> Option<Arc<Session>> {
        let slot = self.slot.read().unwrap_or_else(|p| p.into_inner());
        slot.as_ref().filter(|s| s.healthy()).cloned()
    }

    /// The current session, reconnecting (and re-declaring the queues) if it broke.
    pub(crate) async fn session(&self) -> Result<Arc<Session>, BackendError> {
        if let Some(session) = self.current() {
            return Ok(session);
        }
        let _one_at_a_time = self.reconnecting.lock().await;
        if let Some(session) = self.current() {
            return Ok(session);
        }
        let old = self.slot.write().unwrap_or_else(|p| p.into_inner()).take();
        // A reconnect tries the next URL first: the node just lost is likely down.
        let mut first_url = self.last_url.load(Ordering::Acquire);
        if let Some(old) = old {
            tracing::warn!(queue = %self.names.work, generation = old.generation, why = %old.why_unhealthy(), "AMQP connection lost; reconnecting");
            old.shut_down();
            first_url = old.url_index + 1;
        }
        let generation = self.generations.fetch_add(1, Ordering::AcqRel) + 1;
        let session = Arc::new(Session::open(&self.config, &self.names, generation, first_url).await?);
        self.last_url.store(session.url_index, Ordering::Release);
        lock(&self.state).reset(generation);
        *self.slot.write().unwrap_or_else(|p| p.into_inner()) = Some(session.clone());
        if generation > 1 {
            tracing::info!(queue = %self.names.work, generation, url = session.url_index, "AMQP connection re-established");
        }
        Ok(session)
    }

    pub(crate) async fn publish(&self, session: &Session, messages: &[Outgoing]) -> Result<(), BackendError> {
        session.publish_all(&self.config, &self.names, messages).await
    }

    /// Take up to `max` buffered deliveries as claims. When none is buffered, wait up to the
    /// configured claim wait for one; right after a consumer (re)started, also let the rest of
    /// its first burst arrive, so one claim sees what the queue held.
    pub(crate) async fn claim(self: &Arc<Self>, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        if request.max == 0 {
            return Ok(Vec::new());
        }
        let session = self.session().await?;
        let claimed = lock(&self.state).claims.len();
        let started = self.ensure_consuming(&session, claimed.saturating_add(request.max)).await?;
        let give_up = Instant::now() + self.config.wait();
        let mut out = Vec::with_capacity(request.max.min(1024));
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            lock(&self.state).take(request.max, deadline_in(request.lease), &mut out);
            let settled = !started || out.len() >= request.max;
            if (!out.is_empty() && settled) || Instant::now() >= give_up {
                return Ok(out);
            }
            let quiet = if out.is_empty() { give_up } else { give_up.min(Instant::now() + BURST_GRACE) };
            if tokio::time::timeout_at(quiet, notified).await.is_err() && !out.is_empty() {
                return Ok(out);
            }
        }
    }

    /// Apply outcomes: publish the retried and dead copies (confirmed), then ack the originals.
    pub(crate) async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut races = 0;
        // The claims are taken under the lock that also numbers the connection, so every one
        // of them belongs to `session` (a claim adopted by a newer connection is not settled on
        // an older one, where its ack would be skipped and the delivery held for good).
        let (session, taken, outgoing) = loop {
            let session = self.session().await?;
            let mut st = lock(&self.state);
            if st.generation != session.generation {
                races += 1;
                if races < GENERATION_RACES {
                    continue;
                }
                return Err(BackendError::connection(
                    "completing tasks",
                    "the connection to RabbitMQ was replaced while the completion was made; it is sent again",
                ));
            }
            let mut taken = Taken { state: &self.state, claims: Vec::with_capacity(batch.len()) };
            let mut outgoing = Vec::new();
            for Completion { lease, outcome } in &batch {
                let Some(claim) = st.take_claim(lease) else { continue };
                let mut envelope = claim.envelope.clone();
                envelope.attempts = claim.attempt;
                match outcome {
                    Outcome::Done => {}
                    Outcome::Retry { delay, error } => {
                        envelope.last_error = Some(error.clone());
                        envelope.run_at_ms = Some(ms_after(now, *delay)).filter(|at| *at > now);
                        let route = Route::for_run_at(envelope.run_at_ms, now);
                        outgoing.push(Outgoing { route, envelope, payload: claim.payload.clone() });
                    }
                    Outcome::Dead { error } => {
                        envelope.last_error = Some(error.clone());
                        envelope.run_at_ms = None;
                        outgoing.push(Outgoing { route: Route::Dead, envelope, payload: claim.payload.clone() });
                    }
                }
                taken.claims.push((lease.token, claim));
            }
            break (session, taken, outgoing);
        };
        self.publish(&session, &outgoing).await?;
        let tags = taken.tags();
        session.settle_with(&self.state, tags, false, || taken.settled()).await
    }

    /// Push the local deadline of each claim that still holds.
    pub(crate) fn extend(&self, leases: &[Lease], lease: Duration) {
        let deadline = deadline_in(lease);
        let mut st = lock(&self.state);
        for l in leases {
            if let Some(claim) = st.claims.get_mut(&l.token).filter(|c| c.envelope.id == l.id) {
                claim.deadline = deadline;
            }
        }
    }

    /// Hand back unstarted claims and everything buffered: stop consuming (a worker releases
    /// when it stops), publish each back to the work queue unchanged, then ack the originals.
    /// Nothing is left unacknowledged on a connection about to close, where the broker would
    /// requeue it as redelivered and a lost attempt would be counted.
    pub(crate) async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        let session = self.session().await?;
        let mut taken: Vec<(LeaseToken, Claim)> = Vec::new();
        {
            let mut st = lock(&self.state);
            for lease in &leases {
                if let Some(claim) = st.take_claim(lease) {
                    taken.push((lease.token, claim));
                }
            }
        }
        let buffered = self.stop_consuming(&session).await;
        let mut tags: Vec<u64> = taken.iter().map(|(_, c)| c.tag).collect();
        tags.extend(buffered.iter().map(|b| b.tag));
        let outgoing: Vec<Outgoing> = taken
            .iter()
            .map(|(_, c)| Outgoing { route: Route::Work, envelope: c.envelope.clone(), payload: c.payload.clone() })
            .chain(buffered.into_iter().map(|b| Outgoing {
                route: Route::Work,
                envelope: b.envelope,
                payload: b.payload,
            }))
            .collect();
        if let Err(error) = self.publish(&session, &outgoing).await {
            // The broker still holds the originals: requeue them directly instead.
            tracing::warn!(%error, "could not publish released tasks back; requeueing the deliveries instead");
            return session.settle(&self.state, tags, true).await;
        }
        session.settle(&self.state, tags, false).await
    }

    /// A delivery the broker sent on the consumer channel never reached the storage: the broker
    /// holds it for this connection, which must close for it to be delivered again.
    fn give_up_on_missing_deliveries(&self) {
        let Some(since) = Instant::now().checked_sub(MISSING_DELIVERY_PATIENCE) else { return };
        let missing = {
            let st = lock(&self.state);
            st.missing_since(since).map(|tag| (st.generation, tag))
        };
        let Some((generation, tag)) = missing else { return };
        if let Some(session) = self.current().filter(|s| s.generation == generation) {
            let error = BackendError::connection(
                "consuming",
                format!(
                    "delivery {tag} of the consumer channel never reached the storage, though later ones did, within \
                     {MISSING_DELIVERY_PATIENCE:?}; reconnecting so that the broker delivers it again"
                ),
            );
            tracing::warn!(queue = %self.names.work, %error, "a delivery went missing");
            session.fail(&error);
        }
    }

    /// Republish the claims whose lease ran out: with the attempt counted, or to the
    /// dead-letter queue when it was the last one.
    async fn reap(&self) {
        let expired = lock(&self.state).expired(Instant::now());
        if expired.is_empty() {
            return;
        }
        let Some(session) = self.current().filter(|s| expired.iter().all(|(_, c)| c.generation == s.generation)) else {
            return;
        };
        let outgoing: Vec<Outgoing> = expired
            .iter()
            .map(|(_, claim)| {
                let mut envelope = claim.envelope.clone();
                envelope.attempts = claim.attempt;
                let route = if claim.attempt >= envelope.max_attempts {
                    envelope.last_error = Some(LEASE_EXPIRED_ON_LAST_ATTEMPT.to_owned());
                    Route::Dead
                } else {
                    Route::Work
                };
                Outgoing { route, envelope, payload: claim.payload.clone() }
            })
            .collect();
        if let Err(error) = self.publish(&session, &outgoing).await {
            tracing::warn!(%error, "could not requeue tasks whose lease expired; trying again");
            let mut st = lock(&self.state);
            let now = Instant::now();
            st.restore(
                expired
                    .into_iter()
                    .map(|(t, mut c)| {
                        (t, {
                            c.deadline = now;
                            c
                        })
                    })
                    .collect(),
            );
            return;
        }
        let tags = expired.iter().map(|(_, c)| c.tag).collect();
        if let Err(error) = session.settle(&self.state, tags, false).await {
            tracing::warn!(%error, "could not ack tasks whose lease expired; the broker will redeliver them");
        }
    }
}

/// Look for expired leases every `every` until the storage is dropped.
async fn reap_loop(inner: Weak<Inner>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        inner.reap().await;
        inner.give_up_on_missing_deliveries();
    }
}
