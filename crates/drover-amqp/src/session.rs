//! One connection to the broker and its channels: a publisher channel in confirm mode and a
//! consumer channel. A storage replaces its session when the connection breaks; the number of
//! the session (its generation) fences delivery tags, which mean nothing on another connection.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_core::BackendError;
use futures_util::future::join_all;
use lapin::options::{
    BasicAckOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::{Channel, Confirmation, Connection, ConnectionProperties};
use tokio::task::JoinHandle;

use crate::config::AmqpConfig;
use crate::envelope::Envelope;
use crate::state::State;
use crate::topology::{self, Names, Route};

/// A message to publish.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) route: Route,
    pub(crate) envelope: Envelope,
    pub(crate) payload: Vec<u8>,
}

/// A consumer started on the consumer channel, and the task moving its deliveries into the
/// storage's buffer.
#[derive(Debug)]
pub(crate) struct ConsumerRun {
    pub(crate) tag: String,
    pub(crate) pump: JoinHandle<()>,
}

/// A broken connection or channel: the operation may succeed after a reconnect.
pub(crate) fn connection_error(operation: &'static str, error: lapin::Error) -> BackendError {
    match error.kind() {
        lapin::ErrorKind::ProtocolError(_) => BackendError::server(operation, error),
        _ => BackendError::connection(operation, error),
    }
}

/// `operation`, given up as a connection error when the broker does not answer `within` (a
/// node still starting, a quorum queue electing a leader); `hint` says what was waited for.
pub(crate) async fn answered_within<T>(
    within: Duration,
    operation: &'static str,
    hint: &str,
    operation_future: impl Future<Output = Result<T, BackendError>>,
) -> Result<T, BackendError> {
    tokio::time::timeout(within, operation_future).await.unwrap_or_else(|_| {
        Err(BackendError::connection(
            operation,
            format!(
                "{hint} did not answer within {within:?} (a node still starting, or a quorum queue electing a \
                 leader?); the next operation reconnects (`AmqpConfig::set_connect_timeout` sets the wait)"
            ),
        ))
    })
}

/// Lock a std mutex, going on after a panic elsewhere: every holder leaves the state whole.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) generation: u64,
    /// Which of the configured URLs ([`AmqpConfig::urls`]) this connection uses.
    pub(crate) url_index: usize,
    pub(crate) connection: Arc<Connection>,
    publisher: Channel,
    pub(crate) consumer_channel: Channel,
    /// Delay queues declared on this connection.
    buckets: Mutex<HashSet<u64>>,
    /// Acks go out one batch at a time: a `multiple` ack must not overtake a single ack of a
    /// tag it covers, or the broker sees that tag twice and closes the channel.
    ack_order: tokio::sync::Mutex<()>,
    /// The consumers started on this connection and not yet cancelled by the storage.
    pub(crate) consumers: tokio::sync::Mutex<Vec<ConsumerRun>>,
    /// The sum of the prefetches of the running consumers; 0 while not consuming.
    pub(crate) prefetch: AtomicU32,
    /// How many consumers were started on this connection (numbers their tags).
    pub(crate) consumers_started: AtomicU64,
    /// Set when an operation saw the connection or a channel fail.
    broken: AtomicBool,
    /// What broke it first, for the reconnect's log line.
    broken_by: Mutex<Option<String>>,
}

impl Session {
    /// Connect (trying the configured URLs in turn, from `first_url`), open the channels and
    /// declare the work and dead-letter queues.
    pub(crate) async fn open(
        config: &AmqpConfig,
        names: &Names,
        generation: u64,
        first_url: usize,
    ) -> Result<Self, BackendError> {
        let (connection, url_index) = connect_any(config, names, first_url).await?;
        let within = config.connect_within();
        let setup = async {
            let publisher = connection.create_channel().await.map_err(|e| connection_error("opening a channel", e))?;
            publisher
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| connection_error("enabling publisher confirms", e))?;
            let consumer_channel =
                connection.create_channel().await.map_err(|e| connection_error("opening a channel", e))?;
            let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
            publisher
                .queue_declare(names.work.as_str().into(), durable, topology::work_args(config, names))
                .await
                .map_err(|e| declare_error(names, &names.work, e))?;
            publisher
                .queue_declare(names.dead.as_str().into(), durable, topology::dead_args(config))
                .await
                .map_err(|e| declare_error(names, &names.dead, e))?;
            Ok::<_, BackendError>((publisher, consumer_channel))
        };
        let url = config.urls().nth(url_index).map(redact).unwrap_or_default();
        let hint = format!("RabbitMQ at {url} accepted the connection but");
        let opened = answered_within(within, "opening channels and declaring queues", &hint, setup).await;
        let (publisher, consumer_channel) = match opened {
            Ok(channels) => channels,
            Err(error) => {
                // Not left open on the broker, holding channels nobody uses.
                let _ = tokio::time::timeout(within, connection.close(200, "drover-amqp: setup failed".into())).await;
                return Err(error);
            }
        };
        Ok(Self {
            generation,
            url_index,
            connection: Arc::new(connection),
            publisher,
            consumer_channel,
            buckets: Mutex::new(HashSet::new()),
            ack_order: tokio::sync::Mutex::new(()),
            consumers: tokio::sync::Mutex::new(Vec::new()),
            prefetch: AtomicU32::new(0),
            consumers_started: AtomicU64::new(0),
            broken: AtomicBool::new(false),
            broken_by: Mutex::new(None),
        })
    }

    /// Whether the connection and both channels still work.
    pub(crate) fn healthy(&self) -> bool {
        !self.broken.load(Ordering::Acquire)
            && self.connection.status().connected()
            && self.publisher.status().connected()
            && self.consumer_channel.status().connected()
    }

    /// Make the next operation reconnect.
    pub(crate) fn mark_broken(&self) {
        self.broken.store(true, Ordering::Release);
    }

    /// Make the next operation reconnect because of `error`.
    pub(crate) fn fail(&self, error: &BackendError) {
        lock(&self.broken_by).get_or_insert_with(|| error.to_string());
        self.mark_broken();
    }

    /// Why this session is no longer used, for the log.
    pub(crate) fn why_unhealthy(&self) -> String {
        if let Some(why) = lock(&self.broken_by).clone() {
            return why;
        }
        let parts = [
            ("the connection", self.connection.status().connected()),
            ("the publisher channel", self.publisher.status().connected()),
            ("the consumer channel", self.consumer_channel.status().connected()),
        ];
        let closed: Vec<&str> = parts.iter().filter(|(_, up)| !up).map(|(what, _)| *what).collect();
        if closed.is_empty() {
            "closed by the storage".to_owned()
        } else {
            format!("{} closed", closed.join(" and "))
        }
    }

    /// Close the connection (the broker requeues what it had delivered) and stop the pumps.
    pub(crate) fn shut_down(&self) {
        self.mark_broken();
        if let Ok(mut runs) = self.consumers.try_lock() {
            for run in runs.drain(..) {
                run.pump.abort();
            }
        }
        let connection = self.connection.clone();
        // Outside a runtime (a storage dropped after it) the connection closes when its last
        // channel is dropped instead.
        if let (true, Ok(runtime)) = (self.connection.status().connected(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(async move {
                let _ = connection.close(200, "drover-amqp: closing".into()).await;
            });
        }
    }

    pub(crate) async fn declare_buckets(
        &self,
        config: &AmqpConfig,
        names: &Names,
        routes: impl Iterator<Item = Route>,
    ) -> Result<(), BackendError> {
        let missing: HashSet<u64> = {
            let known = lock(&self.buckets);
            routes
                .filter_map(|r| match r {
                    Route::Delay(ms) if !known.contains(&ms) => Some(ms),
                    _ => None,
                })
                .collect()
        };
        for ms in missing {
            let name = names.delay(ms);
            let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
            self.publisher
                .queue_declare(name.as_str().into(), durable, topology::delay_args(config, names, ms))
                .await
                .map_err(|e| declare_error(names, &name, e))
                .inspect_err(|e| self.fail(e))?;
            lock(&self.buckets).insert(ms);
        }
        Ok(())
    }

    /// Publish every message (declaring the delay queues they need), then wait for the
    /// broker's confirms of all of them: pipelined, not one round trip per message.
    pub(crate) async fn publish_all(
        &self,
        config: &AmqpConfig,
        names: &Names,
        messages: &[Outgoing],
    ) -> Result<(), BackendError> {
        if messages.is_empty() {
            return Ok(());
        }
        self.declare_buckets(config, names, messages.iter().map(|m| m.route)).await?;
        publish_on(&self.publisher, names, messages, true).await.inspect_err(|e| self.fail(e))
    }

    /// Acknowledge (or, with `requeue`, hand back) these deliveries of this connection.
    pub(crate) async fn settle(&self, state: &Mutex<State>, tags: Vec<u64>, requeue: bool) -> Result<(), BackendError> {
        self.settle_with(state, tags, requeue, || {}).await
    }

    /// [`Session::settle`], calling `planned` once the acks are planned: from then on the
    /// frames go out even if this future is dropped.
    pub(crate) async fn settle_with(
        &self,
        state: &Mutex<State>,
        tags: Vec<u64>,
        requeue: bool,
        planned: impl FnOnce(),
    ) -> Result<(), BackendError> {
        if tags.is_empty() {
            planned();
            return Ok(());
        }
        let _order = self.ack_order.lock().await;
        let plan = {
            let mut st = lock(state);
            planned();
            if st.generation != self.generation {
                // The connection they came on is gone; the broker requeued them already.
                return Ok(());
            }
            st.plan_acks(tags)
        };
        let channel = &self.consumer_channel;
        let frames = plan.up_to.map(|t| (t, true)).into_iter().chain(plan.singles.into_iter().map(|t| (t, false)));
        let sends = frames.map(|(tag, multiple)| async move {
            if requeue {
                channel.basic_nack(tag, BasicNackOptions { multiple, requeue: true }).await
            } else {
                channel.basic_ack(tag, BasicAckOptions { multiple }).await
            }
        });
        for result in join_all(sends).await {
            result.map_err(|e| connection_error("acknowledging deliveries", e)).inspect_err(|e| self.fail(e))?;
        }
        Ok(())
    }
}

/// Publish on `channel` through the default exchange; with `confirm`, wait for the broker to
/// confirm every message. `mandatory` makes a message for a missing queue come back instead of
/// vanishing.
pub(crate) async fn publish_on(
    channel: &Channel,
    names: &Names,
    messages: &[Outgoing],
    confirm: bool,
) -> Result<(), BackendError> {
    let options = BasicPublishOptions { mandatory: true, immediate: false };
    // The futures are first polled in order, so the messages go out in order.
    let sends = messages.iter().map(|m| {
        let queue = names.queue_of(m.route);
        let properties = m.envelope.properties();
        async move { channel.basic_publish("".into(), queue.as_str().into(), options, &m.payload, properties).await }
    });
    let mut confirms = Vec::with_capacity(messages.len());
    for sent in join_all(sends).await {
        confirms.push(sent.map_err(|e| connection_error("publishing", e))?);
    }
    if !confirm {
        return Ok(());
    }
    for (confirmation, message) in join_all(confirms).await.into_iter().zip(messages) {
        match confirmation.map_err(|e| connection_error("waiting for publisher confirms", e))? {
            Confirmation::Ack(None) | Confirmation::NotRequested => {}
            Confirmation::Ack(Some(_)) => {
                return Err(BackendError::server(
                    "publishing",
                    format!(
                        "the broker could not route the message to queue `{}`: the queue does not exist (was it \
                         deleted?); the next operation reconnects and declares it again",
                        names.queue_of(message.route)
                    ),
                ))
            }
            Confirmation::Nack(_) => {
                return Err(BackendError::server(
                    "publishing",
                    format!(
                        "the broker refused to take the message for queue `{}` (negative publisher confirm); try again",
                        names.queue_of(message.route)
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// Connect to the first of the configured URLs that answers, starting at `first` and going
/// round; returns the connection and the index of its URL.
async fn connect_any(config: &AmqpConfig, names: &Names, first: usize) -> Result<(Connection, usize), BackendError> {
    let urls: Vec<&str> = config.urls().collect();
    let mut failures = Vec::new();
    for step in 0..urls.len() {
        let index = (first + step) % urls.len();
        let url = urls[index];
        let properties =
            ConnectionProperties::default().with_connection_name(format!("drover-amqp {}", names.work).into());
        match tokio::time::timeout(config.connect_within(), Connection::connect(url, properties)).await {
            Ok(Ok(connection)) => return Ok((connection, index)),
            Ok(Err(e)) => failures.push(format!("{}: {e}", redact(url))),
            Err(_) => failures.push(format!("{}: no answer within {:?}", redact(url), config.connect_within())),
        }
    }
    let hint = if urls.len() > 1 {
        "is any node of the cluster running?"
    } else {
        "is the broker running? start it with `rabbitmq-server -detached`"
    };
    Err(BackendError::connection("connecting to RabbitMQ", format!("{} ({hint})", failures.join("; "))))
}

/// A declaration refused with PRECONDITION_FAILED: the queue exists with other arguments (most
/// often another `x-queue-type`, which RabbitMQ never changes in place). The error says how to
/// get there.
fn declare_error(names: &Names, queue: &str, error: lapin::Error) -> BackendError {
    if let lapin::ErrorKind::ProtocolError(e) = error.kind() {
        if e.get_id() == 406 {
            let work = &names.work;
            return BackendError::Config(format!(
                "queue `{queue}` already exists with other arguments ({e}); a queue's type (classic or quorum), \
                 delivery limit and other arguments are fixed when it is first declared. Either delete it \
                 (`rabbitmqctl delete_queue {queue}`, messages included), or migrate: configure the storage with \
                 another queue name (new pushes go there), keep a worker with the old configuration on `{work}` \
                 until its queues (`{work}`, `{work}.delay.*`; `rabbitmqctl list_queues name messages`) are empty, \
                 requeue or drop what `{work}.dead` holds, then delete them"
            ));
        }
    }
    connection_error("declaring a queue", error)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("amqp://guest:secret@host:5672/%2f"), "amqp://guest:***@host:5672/%2f");
        assert_eq!(redact("amqp://host"), "amqp://host");
    }
}
