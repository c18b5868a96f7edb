//! The storage's configuration: where the broker is, which queue, and the knobs of consumption.

use std::time::Duration;

use drover_core::BackendError;

/// The broker URL used when neither the code nor `AMQP_URL` names one.
pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The longest queue name accepted: AMQP allows 255 bytes, and the derived names
/// (`<queue>.dead`, `<queue>.delay.<ms>`) need room.
const MAX_QUEUE_NAME: usize = 200;

/// The broker-side delivery limit of quorum queues when [`AmqpConfig::set_delivery_limit`] is
/// not set: Drover's default attempt limit.
pub const DEFAULT_DELIVERY_LIMIT: u32 = drover_core::DEFAULT_MAX_ATTEMPTS;

/// The RabbitMQ queue type every queue of a storage is declared with (`x-queue-type`).
///
/// A queue's type is fixed when it is first declared: a storage configured with another type
/// fails to connect with [`BackendError::Config`] naming the queue (delete the queue, or use a
/// new name).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueueType {
    /// Classic queues (version 2 index): one node holds each queue. The default.
    #[default]
    Classic,
    /// Quorum queues: durable and replicated over the cluster's nodes (Raft), with a
    /// broker-side delivery limit ([`AmqpConfig::set_delivery_limit`]) that dead-letters a
    /// message returned to the queue too often. Needs RabbitMQ 3.10 or later (delay queues rely
    /// on quorum queues' message TTL and at-least-once dead-lettering).
    Quorum,
}

/// How an [`AmqpStorage`](crate::AmqpStorage) connects and consumes.
///
/// ```
/// use drover_amqp::AmqpConfig;
/// use std::time::Duration;
///
/// let config = AmqpConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f", "emails")
///     .set_consumer_prefetch(64)
///     .set_consumer_timeout(Duration::from_secs(4 * 3600));
/// assert_eq!(config.queue(), "emails");
/// ```
#[derive(Clone, Debug)]
pub struct AmqpConfig {
    url: String,
    fallback_urls: Vec<String>,
    queue: String,
    prefetch: Option<u16>,
    claim_wait: Duration,
    lease_check_interval: Duration,
    connect_timeout: Duration,
    consumer_timeout: Option<Duration>,
    queue_expires: Option<Duration>,
    queue_type: QueueType,
    delivery_limit: u32,
}

impl AmqpConfig {
    /// Connect to `url` and use the queue `queue` (and its `<queue>.dead` and
    /// `<queue>.delay.<ms>` companions).
    pub fn new(url: impl Into<String>, queue: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            fallback_urls: Vec::new(),
            queue: queue.into(),
            prefetch: None,
            claim_wait: Duration::from_millis(50),
            lease_check_interval: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(10),
            consumer_timeout: None,
            queue_expires: None,
            queue_type: QueueType::Classic,
            delivery_limit: DEFAULT_DELIVERY_LIMIT,
        }
    }

    /// The URL from `AMQP_URL`, or [`DEFAULT_URL`], and the queue `queue`.
    pub fn from_env(queue: impl Into<String>) -> Self {
        let url = std::env::var("AMQP_URL").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| DEFAULT_URL.to_owned());
        Self::new(url, queue)
    }

    /// A fixed consumer prefetch (`basic.qos`): how many unacknowledged deliveries the broker
    /// sends ahead. By default it follows the workers: four times the capacity they ask for,
    /// at least 128, so batches are buffered while others run.
    pub fn set_consumer_prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = Some(prefetch.max(1));
        self
    }

    /// How long a claim waits for a delivery when nothing is buffered (default 50 ms). Workers
    /// are woken by deliveries anyway, so this only matters for direct `claim` calls.
    pub fn set_claim_wait(mut self, wait: Duration) -> Self {
        self.claim_wait = wait;
        self
    }

    /// How often expired leases are looked for (default 50 ms).
    pub fn set_lease_check_interval(mut self, every: Duration) -> Self {
        self.lease_check_interval = every.max(Duration::from_millis(5));
        self
    }

    /// How long connecting may take before it is an error (default 10 s).
    pub fn set_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Declare the work queue with `x-consumer-timeout` (RabbitMQ 3.12 and later): how long a
    /// delivery may stay unacknowledged before the broker closes the channel. Set it above the
    /// longest job. See the crate docs, "Long jobs and the consumer timeout".
    pub fn set_consumer_timeout(mut self, timeout: Duration) -> Self {
        self.consumer_timeout = Some(timeout);
        self
    }

    /// Declare every queue with `x-expires`: the broker deletes a queue unused (no consumer, no
    /// declaration) for this long, messages included. For tests and throw-away queues only.
    pub fn set_queue_expires(mut self, after: Duration) -> Self {
        self.queue_expires = Some(after);
        self
    }

    /// Declare every queue (work, dead and delay queues) with this type (default
    /// [`QueueType::Classic`]). [`QueueType::Quorum`] gives durable, replicated queues; see the
    /// crate docs, "Quorum queues". The type cannot change once a queue exists.
    pub fn set_queue_type(mut self, queue_type: QueueType) -> Self {
        self.queue_type = queue_type;
        self
    }

    /// The `x-delivery-limit` of a quorum work queue (default [`DEFAULT_DELIVERY_LIMIT`], at
    /// least 1): the broker moves a message to `<queue>.dead` once it was returned to the queue
    /// (a consumer died or handed it back) more than this many times without Drover settling
    /// it. Ignored for classic queues. Fixed when the queue is first declared.
    pub fn set_delivery_limit(mut self, limit: u32) -> Self {
        self.delivery_limit = limit.max(1);
        self
    }

    /// Other nodes of the same RabbitMQ cluster (default none). Connecting, and reconnecting
    /// after a lost connection, tries the URLs in turn until one answers: the one that worked
    /// last first on connect, the next one after it first on a reconnect (the node that was lost
    /// is likely down). With quorum queues ([`QueueType::Quorum`]) a storage so rides out the
    /// loss of the node it was connected to. A load balancer in front of the nodes does the
    /// same with a single URL.
    ///
    /// ```
    /// use drover_amqp::{AmqpConfig, QueueType};
    ///
    /// let config = AmqpConfig::new("amqp://guest:guest@rabbit-1:5672/%2f", "emails")
    ///     .set_fallback_urls(["amqp://guest:guest@rabbit-2:5672/%2f", "amqp://guest:guest@rabbit-3:5672/%2f"])
    ///     .set_queue_type(QueueType::Quorum);
    /// assert_eq!(config.urls().count(), 3);
    /// ```
    pub fn set_fallback_urls<I, U>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = U>,
        U: Into<String>,
    {
        self.fallback_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// The broker URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every URL a connection may use: [`url`](Self::url), then the fallback URLs.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.url.as_str()).chain(self.fallback_urls.iter().map(String::as_str))
    }

    /// The work queue's name.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The type every queue is declared with.
    pub fn queue_type(&self) -> QueueType {
        self.queue_type
    }

    pub(crate) fn delivery_limit(&self) -> u32 {
        self.delivery_limit
    }

    pub(crate) fn fixed_prefetch(&self) -> Option<u16> {
        self.prefetch
    }

    pub(crate) fn wait(&self) -> Duration {
        self.claim_wait
    }

    pub(crate) fn lease_check(&self) -> Duration {
        self.lease_check_interval
    }

    pub(crate) fn connect_within(&self) -> Duration {
        self.connect_timeout
    }

    pub(crate) fn consumer_timeout_arg(&self) -> Option<Duration> {
        self.consumer_timeout
    }

    pub(crate) fn expires_arg(&self) -> Option<Duration> {
        self.queue_expires
    }

    /// Check the queue name before anything is declared.
    pub(crate) fn validate(&self) -> Result<(), BackendError> {
        let q = &self.queue;
        if q.is_empty() {
            return Err(BackendError::Config("the AMQP queue name is empty: give the storage a queue name".into()));
        }
        if q.len() > MAX_QUEUE_NAME {
            return Err(BackendError::Config(format!(
                "the AMQP queue name `{q}` is {} bytes long; use at most {MAX_QUEUE_NAME} (the broker allows 255, and \
                 `<queue>.delay.<ms>` needs room)",
                q.len()
            )));
        }
        if q.starts_with("amq.") {
            return Err(BackendError::Config(format!(
                "the AMQP queue name `{q}` starts with `amq.`, which the broker reserves; pick another name"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_queue_names() {
        assert!(AmqpConfig::new(DEFAULT_URL, "jobs").validate().is_ok());
        assert!(AmqpConfig::new(DEFAULT_URL, "").validate().is_err());
        assert!(AmqpConfig::new(DEFAULT_URL, "amq.jobs").validate().is_err());
        assert!(AmqpConfig::new(DEFAULT_URL, "x".repeat(201)).validate().is_err());
    }
}
