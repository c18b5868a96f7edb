//! The shared heart of a storage: the server handles, the claims, and the mapping of the
//! core's claims, completions, heartbeats and hand-backs onto JetStream acks.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::Subject;
use bytes::Bytes as Payload;
use drover_core::{
    BackendError, ClaimRequest, ClaimedTask, Completion, Lease, NewTask, Outcome, TaskId, WakeupSender,
    LEASE_EXPIRED_ON_LAST_ATTEMPT,
};
use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::NatsConfig;
use crate::envelope::{now_ms, Envelope};
use crate::names::{id_of_subject, Names};
use crate::state::{Claim, Retrying, State};
use crate::topology::Topology;
use crate::unique::Held;

/// Where a copy of a task is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Ready,
    Delay,
    Dead,
}

/// One message to publish.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) route: Route,
    pub(crate) envelope: Envelope,
    pub(crate) payload: Payload,
    pub(crate) msg_id: String,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: NatsConfig,
    pub(crate) names: Names,
    pub(crate) top: Topology,
    pub(crate) state: Mutex<State>,
    pub(crate) wakeup: WakeupSender,
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The ticks bucket, opened on first use.
    pub(crate) kv: tokio::sync::OnceCell<async_nats::jetstream::kv::Store>,
    /// The unique keys bucket, opened on first use.
    pub(crate) unique_kv: tokio::sync::OnceCell<async_nats::jetstream::kv::Store>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Messages of one publish pipeline that may wait for their PubAck at once: the producer keeps
/// publishing while the oldest are confirmed, never more than this many ahead.
const PUBLISH_WINDOW: u64 = 1_000;
/// How long a publish pipeline waits for the next PubAck before it gives up.
const PUBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// How long past a pull's expiry a storage waits for the server to end the pull before it
/// gives the pull up itself. nats-server before 2.9.16 (nats-server#3942) drops an expired pull
/// request without a word when a message becomes deliverable between the expiry and the
/// server's own expiry sweep (which sends the 408 that ends the pull); async-nats then waits
/// `expires` + 5 s. A delay pump or worker stuck in such a pull started a 2 s delayed task
/// 7.0 s after its push. The message the server held back goes to the next pull. A message
/// the server sent in time reaches the client well within this margin on any working link.
pub(crate) const PULL_GRACE: Duration = Duration::from_millis(200);

/// The next message of a pull that should be over by `ends` (its expiry plus [`PULL_GRACE`]):
/// `None` once the pull ended, or once `ends` passed without the server ending it.
pub(crate) async fn next_of_pull(
    batch: &mut async_nats::jetstream::consumer::pull::Batch,
    ends: Instant,
) -> Option<Result<async_nats::jetstream::Message, async_nats::Error>> {
    match tokio::time::timeout_at(ends, batch.next()).await {
        Ok(next) => next,
        Err(_) => {
            tracing::debug!("the server did not end a pull past its expiry; giving it up");
            None
        }
    }
}

/// A stream's answer to a publish: its sequence, or an error.
#[derive(serde::Deserialize)]
struct PubAck {
    #[serde(default)]
    error: Option<PubAckError>,
}

#[derive(serde::Deserialize)]
struct PubAckError {
    #[serde(default)]
    code: u16,
    #[serde(default)]
    description: String,
}

/// The next PubAck of a pipeline that has `confirmed` of `total` so far.
async fn next_puback(
    acks: &mut async_nats::Subscriber,
    confirmed: u64,
    total: u64,
) -> Result<async_nats::Message, BackendError> {
    match tokio::time::timeout(PUBACK_TIMEOUT, acks.next()).await {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err(BackendError::connection("publish", "the connection closed while awaiting PubAcks")),
        Err(_) => Err(BackendError::connection(
            "publish",
            format!(
                "the server confirmed {confirmed} of {total} messages within {PUBACK_TIMEOUT:?}; the rest may be \
                 stored or not (a push retried with the same ids is stored once)"
            ),
        )),
    }
}

/// Check one PubAck of a pipeline.
fn check_puback(message: &async_nats::Message) -> Result<(), BackendError> {
    if let Some(status) = message.status {
        if status == async_nats::StatusCode::NO_RESPONDERS {
            return Err(BackendError::server(
                "publish",
                "no stream holds the queue's subjects (deleted while in use?): reconnect the storage to create it again",
            ));
        }
        return Err(BackendError::server("publish", format!("the server answered status {status}")));
    }
    match serde_json::from_slice::<PubAck>(&message.payload) {
        Ok(PubAck { error: None }) => Ok(()),
        Ok(PubAck { error: Some(e) }) => Err(BackendError::server(
            "publish",
            format!("the stream refused a message ({}: {})", e.code, e.description),
        )),
        Err(e) => Err(BackendError::server("publish", format!("an unreadable PubAck ({e})"))),
    }
}

/// The unique keys of these tasks, with their ids.
pub(crate) fn keys_of<'a>(envelopes: impl Iterator<Item = &'a Envelope>) -> Vec<(String, TaskId)> {
    envelopes.filter_map(|e| Some((e.unique_key.clone()?, e.id))).collect()
}

/// `now + d`, far in the future instead of overflowing.
fn deadline_in(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

impl Inner {
    pub(crate) async fn open(config: NatsConfig, queue: String) -> Result<Arc<Self>, BackendError> {
        NatsConfig::validate_name("prefix", config.prefix())?;
        NatsConfig::validate_name("queue", &queue)?;
        let names = Names::new(config.prefix(), &queue);
        let top = Topology::open(&config, &names).await?;
        let inner = Arc::new(Self {
            config,
            names,
            top,
            state: Mutex::new(State::default()),
            wakeup: WakeupSender::new(),
            tasks: Mutex::new(Vec::new()),
            kv: tokio::sync::OnceCell::new(),
            unique_kv: tokio::sync::OnceCell::new(),
        });
        inner.sweep_max_delivered().await?;
        let weak = Arc::downgrade(&inner);
        let mut tasks = vec![
            tokio::spawn(reap_loop(weak.clone(), inner.config.lease_check_interval())),
            tokio::spawn(crate::pump::pump_loop(weak.clone())),
            tokio::spawn(wake_loop(weak.clone(), inner.top.client.clone(), inner.names.wake.clone())),
        ];
        if inner.config.max_deliver().is_some() {
            tasks.push(tokio::spawn(crate::dead::advisory_loop(weak, inner.top.client.clone())));
        }
        *lock(&inner.tasks) = tasks;
        Ok(inner)
    }

    fn subject(&self, route: Route, id: TaskId) -> String {
        match route {
            Route::Ready => self.names.ready_of(id),
            Route::Delay => self.names.delay_of(id),
            Route::Dead => self.names.dead_of(id),
        }
    }

    /// Publish every message and wait until the streams confirmed each (one pipeline). Tells
    /// workers when any went to the work stream.
    ///
    /// The messages share one reply subject, subscribed once, and the PubAcks are counted as
    /// they come, with up to [`PUBLISH_WINDOW`] in flight: no inbox, channel or timer per
    /// message, and no pause for a whole window to drain.
    pub(crate) async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), BackendError> {
        if messages.is_empty() {
            return Ok(());
        }
        let ready = messages.iter().any(|m| m.route == Route::Ready);
        let client = &self.top.client;
        let inbox = client.new_inbox();
        let mut acks = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| BackendError::connection("publish (subscribe to its PubAcks)", e))?;
        let reply = Subject::from(inbox);
        let total = messages.len() as u64;
        let (mut sent, mut confirmed) = (0u64, 0u64);
        let mut failure = None;
        for m in messages {
            while sent - confirmed >= PUBLISH_WINDOW {
                let message = next_puback(&mut acks, confirmed, total).await?;
                confirmed += 1;
                if let Err(e) = check_puback(&message) {
                    failure.get_or_insert(e);
                }
            }
            let subject = self.subject(m.route, m.envelope.id);
            let headers = m.envelope.headers(&m.msg_id);
            let published = if headers.is_empty() {
                client.publish_with_reply(subject, reply.clone(), m.payload).await
            } else {
                client.publish_with_reply_and_headers(subject, reply.clone(), headers, m.payload).await
            };
            published.map_err(|e| BackendError::connection("publish", e))?;
            sent += 1;
        }
        while confirmed < sent {
            let message = next_puback(&mut acks, confirmed, total).await?;
            confirmed += 1;
            if let Err(e) = check_puback(&message) {
                failure.get_or_insert(e);
            }
        }
        drop(acks);
        if let Some(e) = failure {
            return Err(e);
        }
        if ready {
            self.notify_workers().await;
        }
        Ok(())
    }

    /// Publish one message and tell whether the stream already had its message id (the
    /// duplicate window dropped it).
    pub(crate) async fn publish_once(&self, m: Outgoing) -> Result<bool, BackendError> {
        let route = m.route;
        let subject = self.subject(m.route, m.envelope.id);
        let ack = self
            .top
            .js
            .publish_with_headers(subject, m.envelope.headers(&m.msg_id), m.payload)
            .await
            .map_err(|e| BackendError::connection("publish", e))?
            .await
            .map_err(|e| BackendError::connection("publish (awaiting the stream's ack)", e))?;
        if route == Route::Ready && !ack.duplicate {
            self.notify_workers().await;
        }
        Ok(ack.duplicate)
    }

    /// Publish a record of each done task to the done stream, without waiting for PubAcks:
    /// they travel with the acks that follow, and a lost one only hides a done task from
    /// inspection.
    pub(crate) async fn record_done(&self, records: Vec<Envelope>) {
        for envelope in records {
            let subject = self.names.done_of(envelope.id);
            let headers = envelope.headers(&envelope.id.to_string());
            if let Err(error) = self.top.client.publish_with_headers(subject, headers, Payload::new()).await {
                tracing::debug!(%error, "could not record a done task");
                return;
            }
        }
    }

    /// Tell every worker of the queue (in any process) that work arrived.
    pub(crate) async fn notify_workers(&self) {
        if let Err(error) = self.top.client.publish(self.names.wake.clone(), Payload::new()).await {
            tracing::debug!(%error, "could not publish a wake-up; workers will find the work at their poll");
        }
    }

    /// Send `kind` for every delivery, then flush once.
    pub(crate) async fn ack_all(&self, replies: Vec<(Subject, AckKind)>) -> Result<(), BackendError> {
        if replies.is_empty() {
            return Ok(());
        }
        for (reply, kind) in replies {
            self.top.client.publish(reply, kind.into()).await.map_err(|e| BackendError::connection("ack", e))?;
        }
        self.top.client.flush().await.map_err(|e| BackendError::connection("flush acks", e))
    }

    fn refuse_priorities(tasks: &[NewTask]) -> Result<(), BackendError> {
        if tasks.iter().any(|t| t.priority != 0) {
            return Err(BackendError::Unsupported(
                "priority: a JetStream consumer delivers in stream order (nats-server 2.9 has no prioritized pulls)"
                    .into(),
            ));
        }
        if let Some(key) = tasks.iter().find_map(|t| t.concurrency_key.as_deref()) {
            return Err(BackendError::Unsupported(format!(
                "concurrency key `{key}`: drover-nats has no per-key concurrency limits (push without it)"
            )));
        }
        Ok(())
    }

    /// The message of a new task: to the work stream when due, else to the delay stream; with
    /// the task id as its message id when `message_ids`.
    fn outgoing(task: NewTask, now: i64, message_ids: bool) -> Outgoing {
        let mut envelope = Envelope::of_new(&task);
        let later = envelope.run_at_ms.is_some_and(|at| at > now);
        if !later {
            envelope.run_at_ms = None;
        }
        Outgoing {
            route: if later { Route::Delay } else { Route::Ready },
            payload: task.payload.into(),
            msg_id: if message_ids { task.id.to_string() } else { String::new() },
            envelope,
        }
    }

    /// The messages of new tasks, copied (for cron ticks, which keep their task).
    pub(crate) fn enqueue_messages(tasks: &[NewTask]) -> Result<Vec<Outgoing>, BackendError> {
        Self::refuse_priorities(tasks)?;
        let now = now_ms();
        Ok(tasks.iter().map(|t| Self::outgoing(t.clone(), now, true)).collect())
    }

    /// Push new tasks in one publish pipeline. A task with a unique key first takes its key in
    /// the unique bucket; a key held by a pending or running task returns that task's id and
    /// publishes nothing.
    pub(crate) async fn enqueue(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        Self::refuse_priorities(&tasks)?;
        let now = now_ms();
        let mut ids = Vec::with_capacity(tasks.len());
        let mut messages = Vec::with_capacity(tasks.len());
        let mut taken: Vec<(String, TaskId)> = Vec::new();
        for task in tasks {
            if let Some(key) = task.unique_key.clone() {
                if let Some((_, holder)) = taken.iter().find(|(k, _)| *k == key) {
                    ids.push(*holder);
                    continue;
                }
                match self.take_key(&key, task.id).await {
                    Ok(Held::By(holder)) => {
                        ids.push(holder);
                        continue;
                    }
                    Ok(Held::Taken) => taken.push((key, task.id)),
                    Err(error) => {
                        self.release_keys(taken).await;
                        return Err(error);
                    }
                }
            }
            ids.push(task.id);
            messages.push(Self::outgoing(task, now, self.config.push_message_ids()));
        }
        if let Err(error) = self.publish(messages).await {
            // Which of the tasks were stored is unknown: free their keys rather than leave
            // them naming tasks that may not exist (a retry stores the task again).
            self.release_keys(taken).await;
            return Err(error);
        }
        Ok(ids)
    }

    async fn release_keys(&self, keys: Vec<(String, TaskId)>) {
        for (key, id) in keys {
            self.release_key(&key, id).await;
        }
    }

    /// Release the unique keys of tasks that ended.
    pub(crate) async fn release_ended(&self, ended: Vec<(String, TaskId)>) {
        self.release_keys(ended).await;
    }

    /// Pull up to `max` messages: at once if any are ready, else waiting on the server up to
    /// the claim wait for the first.
    pub(crate) async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        if request.max == 0 {
            return Ok(Vec::new());
        }
        let deadline = deadline_in(request.lease);
        // The server starts each delivery's ack timer after it gets this request.
        let server_deadline = deadline_in(self.config.ack_wait());
        let ends = deadline_in(self.config.claim_wait() + PULL_GRACE);
        let mut batch = self
            .top
            .consumer
            .fetch()
            .max_messages(request.max)
            .expires(self.config.claim_wait())
            .messages()
            .await
            .map_err(|e| BackendError::connection("claim (pull request)", e))?;
        let mut out = Vec::new();
        let mut dead = Vec::new();
        while let Some(next) = next_of_pull(&mut batch, ends).await {
            let message = match next {
                Ok(message) => message,
                // 409 (max_ack_pending reached) and the like end the pull: return what came.
                Err(error) if !out.is_empty() => {
                    tracing::debug!(%error, "pull ended");
                    break;
                }
                Err(error) if error.to_string().contains("409") => break,
                Err(error) => return Err(BackendError::connection("claim", error)),
            };
            let (delivered, seq) = match message.info() {
                Ok(info) => (info.delivered, info.stream_sequence),
                Err(error) => {
                    tracing::warn!(%error, "a delivery without JetStream metadata; skipping it");
                    continue;
                }
            };
            let Some(reply) = message.reply.clone() else { continue };
            let Some(id) = id_of_subject(&message.subject) else {
                dead.push((self.foreign(&message), reply));
                continue;
            };
            if delivered > 1 && lock(&self.state).adopt(id, seq, &reply, server_deadline) {
                continue;
            }
            let envelope = Envelope::from_headers(id, message.headers.as_ref());
            let attempt = envelope.attempts.saturating_add(u32::try_from(delivered).unwrap_or(u32::MAX));
            if attempt > envelope.max_attempts {
                // The last attempt's lease ran out (its worker died): dead, not run again.
                let mut envelope = envelope.pinned();
                envelope.attempts = envelope.max_attempts;
                envelope.last_error = Some(LEASE_EXPIRED_ON_LAST_ATTEMPT.to_owned());
                let msg_id = format!("{id}.dead.{seq}");
                dead.push((Outgoing { route: Route::Dead, envelope, payload: message.payload.clone(), msg_id }, reply));
                continue;
            }
            let payload = message.payload.to_vec();
            let claim = Claim { envelope, reply, seq, attempt, deadline, server_deadline, payload };
            out.push(lock(&self.state).insert(claim));
        }
        if !dead.is_empty() {
            let (messages, replies): (Vec<_>, Vec<_>) = dead.into_iter().unzip();
            let ended = keys_of(messages.iter().map(|m| &m.envelope));
            self.publish(messages).await?;
            self.ack_all(replies.into_iter().map(|r| (r, AckKind::Ack)).collect()).await?;
            self.release_ended(ended).await;
        }
        Ok(out)
    }

    /// A message on a work subject that Drover did not publish: dead, saying why.
    fn foreign(&self, message: &async_nats::jetstream::Message) -> Outgoing {
        let id = TaskId::new();
        let mut envelope = Envelope::from_headers(id, message.headers.as_ref());
        envelope.last_error = Some(format!(
            "the message on `{}` has no task id as its last subject token: publish jobs through drover-nats",
            message.subject
        ));
        Outgoing { route: Route::Dead, envelope, payload: message.payload.clone(), msg_id: format!("{id}.foreign") }
    }

    /// Apply outcomes: done is an ack; a short retry a delayed Nak; a long retry a copy in the
    /// delay stream, then an ack; dead a copy in the dead stream, then an ack.
    pub(crate) async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        let now = Instant::now();
        let mut taken = Vec::with_capacity(batch.len());
        {
            let mut st = lock(&self.state);
            for Completion { lease, outcome } in batch {
                if let Some(claim) = st.take(&lease, now) {
                    taken.push((claim, outcome));
                }
            }
        }
        let mut acks = Vec::with_capacity(taken.len());
        let mut copies = Vec::new();
        let mut copied = Vec::new();
        let mut records = Vec::new();
        let mut ended = Vec::new();
        let mut soonest: Option<Duration> = None;
        let at = now_ms();
        let keep_done = self.top.done.is_some();
        for (claim, outcome) in taken {
            match outcome {
                Outcome::Done => {
                    if let Some(key) = &claim.envelope.unique_key {
                        ended.push((key.clone(), claim.envelope.id));
                    }
                    if keep_done {
                        let mut envelope = claim.envelope.clone().pinned();
                        envelope.attempts = claim.attempt;
                        envelope.run_at_ms = None;
                        records.push(envelope);
                    }
                    acks.push((claim.reply, AckKind::Ack));
                }
                Outcome::Retry { delay, error } if delay <= self.config.nak_delay_max() => {
                    soonest = Some(soonest.map_or(delay, |s| s.min(delay)));
                    let retry = Retrying {
                        until: now + delay,
                        run_at: chrono::Utc::now()
                            + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::zero()),
                        attempt: claim.attempt,
                        error,
                    };
                    lock(&self.state).retrying(claim.envelope.id, retry);
                    acks.push((claim.reply, AckKind::Nak((!delay.is_zero()).then_some(delay))));
                }
                Outcome::Retry { delay, error } => {
                    if !self.still_stored(claim.seq).await? {
                        continue; // cancelled meanwhile
                    }
                    let mut envelope = claim.envelope.clone().pinned();
                    envelope.attempts = claim.attempt;
                    envelope.last_error = Some(error);
                    let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
                    envelope.run_at_ms = Some(at.saturating_add(ms));
                    let msg_id = format!("{}.retry.{}", claim.envelope.id, claim.attempt);
                    copies.push(Outgoing { route: Route::Delay, envelope, payload: claim.payload.into(), msg_id });
                    copied.push(claim.reply);
                }
                Outcome::Dead { error } => {
                    if let Some(key) = &claim.envelope.unique_key {
                        ended.push((key.clone(), claim.envelope.id));
                    }
                    let mut envelope = claim.envelope.clone().pinned();
                    envelope.attempts = claim.attempt;
                    envelope.last_error = Some(error);
                    envelope.run_at_ms = None;
                    let msg_id = format!("{}.dead.{}", claim.envelope.id, claim.seq);
                    copies.push(Outgoing { route: Route::Dead, envelope, payload: claim.payload.into(), msg_id });
                    copied.push(claim.reply);
                }
            }
        }
        // The copies are stored before the originals are acked: a crash in between runs a task
        // twice at worst, never loses it.
        self.publish(copies).await?;
        acks.extend(copied.into_iter().map(|r| (r, AckKind::Ack)));
        // Done records go out with the acks, unconfirmed: they are for inspection only.
        self.record_done(records).await;
        self.ack_all(acks).await?;
        self.release_ended(ended).await;
        if let Some(delay) = soonest {
            self.wake_after(delay);
        }
        Ok(())
    }

    /// Whether the work stream still holds the message (a cancel deletes it).
    async fn still_stored(&self, seq: u64) -> Result<bool, BackendError> {
        match self.top.work.get_raw_message(seq).await {
            Ok(_) => Ok(true),
            Err(e) if e.to_string().contains("no message found") => Ok(false),
            Err(e) => Err(BackendError::connection("look up a message", e)),
        }
    }

    /// Wake this process's workers when a delayed Nak's message becomes due again (the
    /// redelivery publishes nothing other processes could hear).
    fn wake_after(&self, delay: Duration) {
        let wakeup = self.wakeup.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            wakeup.notify();
        });
    }

    /// Progress acks (`+WPI`) restart the server's ack timer; the local deadline moves too.
    pub(crate) async fn extend(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        let deadline = deadline_in(lease);
        let server_deadline = deadline_in(self.config.ack_wait());
        let mut tokens = Vec::with_capacity(leases.len());
        let replies: Vec<(Subject, AckKind)> = {
            let mut st = lock(&self.state);
            leases
                .iter()
                .filter_map(|l| {
                    let reply = st.extend(l, deadline)?;
                    tokens.push(l.token);
                    Some((reply, AckKind::Progress))
                })
                .collect()
        };
        // Once the flush returns, the server has restarted each ack timer, after `server_deadline
        // - ack_wait`.
        self.ack_all(replies).await?;
        lock(&self.state).touched(&tokens, server_deadline);
        Ok(())
    }

    /// Hand back unstarted claims: a copy due now with the attempt taken back, then an ack
    /// of the original (a Nak would count a delivery, and so an attempt).
    pub(crate) async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        let now = Instant::now();
        let taken: Vec<Claim> = {
            let mut st = lock(&self.state);
            leases.iter().filter_map(|l| st.take(l, now)).collect()
        };
        let mut copies = Vec::with_capacity(taken.len());
        let mut replies = Vec::with_capacity(taken.len());
        for claim in taken {
            let mut envelope = claim.envelope.clone().pinned();
            envelope.attempts = claim.attempt.saturating_sub(1);
            envelope.run_at_ms = None;
            let msg_id = format!("{}.release.{}", claim.envelope.id, claim.seq);
            copies.push(Outgoing { route: Route::Ready, envelope, payload: claim.payload.into(), msg_id });
            replies.push((claim.reply, AckKind::Ack));
        }
        self.publish(copies).await?;
        self.ack_all(replies).await
    }

    /// Claims whose lease ran out: redelivered at once with a Nak (the next delivery counts
    /// as the next attempt), or dead when it was the last attempt.
    async fn reap(&self) {
        let expired = lock(&self.state).expired(Instant::now());
        if expired.is_empty() {
            return;
        }
        let mut naks = Vec::new();
        let mut dead = Vec::new();
        let mut dead_replies = Vec::new();
        let now = Instant::now();
        for claim in expired {
            if claim.fenced(now) {
                // The server may have redelivered it elsewhere: a Nak or an ack of this delivery
                // could land on that one. The server's own timer hands it on.
                continue;
            }
            if claim.attempt >= claim.envelope.max_attempts {
                let mut envelope = claim.envelope.clone().pinned();
                envelope.attempts = claim.attempt;
                envelope.last_error = Some(LEASE_EXPIRED_ON_LAST_ATTEMPT.to_owned());
                let msg_id = format!("{}.dead.{}", claim.envelope.id, claim.seq);
                dead.push(Outgoing { route: Route::Dead, envelope, payload: claim.payload.into(), msg_id });
                dead_replies.push((claim.reply, AckKind::Ack));
            } else {
                naks.push((claim.reply, AckKind::Nak(None)));
            }
        }
        if let Err(error) = self.ack_all(naks).await {
            tracing::warn!(%error, "could not hand back tasks whose lease expired; the server redelivers them after ack_wait");
        }
        let ended = keys_of(dead.iter().map(|m| &m.envelope));
        if let Err(error) = self.publish(dead).await {
            tracing::warn!(%error, "could not dead-letter tasks whose last lease expired; the server redelivers them after ack_wait");
            return;
        }
        if let Err(error) = self.ack_all(dead_replies).await {
            tracing::warn!(%error, "could not ack dead-lettered tasks");
        }
        self.release_ended(ended).await;
        self.wakeup.notify();
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
    }
}

/// Turn messages on the queue's wake subject into wake-ups of this process's workers.
async fn wake_loop(inner: Weak<Inner>, client: async_nats::Client, subject: String) {
    loop {
        match client.subscribe(subject.clone()).await {
            Ok(mut sub) => {
                while sub.next().await.is_some() {
                    let Some(inner) = inner.upgrade() else { return };
                    inner.wakeup.notify();
                }
            }
            Err(error) => tracing::warn!(%error, "could not subscribe to the wake-up subject; retrying"),
        }
        if inner.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
