//! [`NatsConfig`]: where the server is, which queue, and how the streams and consumers are made.

use std::time::Duration;

use drover_core::BackendError;

/// The server used when `NATS_URL` is not set.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// Where the messages of a stream are kept on the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NatsStorageType {
    /// On disk (the default): survives a server restart.
    #[default]
    File,
    /// In memory: lost when the server stops. For tests and throw-away queues.
    Memory,
}

/// How a [`NatsStorage`](crate::NatsStorage) connects and lays out its streams.
///
/// ```
/// use drover_nats::NatsConfig;
/// use std::time::Duration;
///
/// let config = NatsConfig::new("nats://127.0.0.1:4222")
///     .set_queue("email")
///     .set_ack_wait(Duration::from_secs(60))
///     .set_replicas(3);
/// assert_eq!(config.queue(), Some("email"));
/// assert_eq!(config.ack_wait(), Duration::from_secs(60));
/// ```
#[derive(Clone, Debug)]
pub struct NatsConfig {
    url: String,
    queue: Option<String>,
    prefix: String,
    ack_wait: Duration,
    max_deliver: Option<i64>,
    max_ack_pending: i64,
    storage: NatsStorageType,
    replicas: usize,
    duplicate_window: Duration,
    claim_wait: Duration,
    nak_delay_max: Duration,
    lease_check: Duration,
    connect_timeout: Duration,
    keep_done: Duration,
    push_message_ids: bool,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self::new(DEFAULT_URL)
    }
}

impl NatsConfig {
    /// A config for the server at `url` (for example `nats://127.0.0.1:4222`), the job type's
    /// default queue, and the defaults below.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            queue: None,
            prefix: "drover".to_owned(),
            ack_wait: Duration::from_secs(30),
            max_deliver: None,
            max_ack_pending: 20_000,
            storage: NatsStorageType::File,
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            claim_wait: Duration::from_millis(100),
            nak_delay_max: Duration::from_secs(10),
            lease_check: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(5),
            keep_done: Duration::ZERO,
            push_message_ids: false,
        }
    }

    /// A config for the server at `NATS_URL`, or [`DEFAULT_URL`].
    pub fn from_env() -> Self {
        Self::new(std::env::var("NATS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned()))
    }

    /// The queue: it names the streams and subjects (letters, digits, `-` and `_`). `None`
    /// (the default) means the job type's own name.
    pub fn set_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// The first token of every subject and of the stream names (default `drover`).
    pub fn set_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The work consumer's `ack_wait` (default 30 s): how long the server waits for an ack or a
    /// progress ack before it redelivers a message. It is the lease against crashes; make it at
    /// least the workers' lease. Changing it updates the consumer on the next connect.
    pub fn set_ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    /// The work consumer's `max_deliver` (default unlimited). Drover counts attempts itself
    /// and dead-letters on `max_attempts`; this is a server-side backstop. Messages that reach
    /// it are moved to the dead stream (from the server's advisory, and at start-up). Set it
    /// above the highest `max_attempts` of the queue plus hand-backs.
    pub fn set_max_deliver(mut self, max_deliver: u32) -> Self {
        self.max_deliver = Some(i64::from(max_deliver.max(1)));
        self
    }

    /// The work consumer's `max_ack_pending` (default 20,000): how many messages may be
    /// claimed, or waiting for a short retry (a delayed Nak), at once across all workers.
    pub fn set_max_ack_pending(mut self, max_ack_pending: u32) -> Self {
        self.max_ack_pending = i64::from(max_ack_pending.max(1));
        self
    }

    /// Where the streams keep their messages (default on file).
    pub fn set_storage(mut self, storage: NatsStorageType) -> Self {
        self.storage = storage;
        self
    }

    /// Stream replicas on a clustered server (default 1; 3 for an R3 stream).
    pub fn set_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.max(1);
        self
    }

    /// The streams' duplicate window (default 2 min): a message id seen within it is stored
    /// once.
    pub fn set_duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// How long a claim waits on the server for the first message when none is ready
    /// (default 100 ms).
    pub fn set_claim_wait(mut self, wait: Duration) -> Self {
        self.claim_wait = wait.max(Duration::from_millis(1));
        self
    }

    /// Retry delays up to this (default 10 s) are a delayed Nak; longer ones go through the
    /// delay stream.
    pub fn set_nak_delay_max(mut self, max: Duration) -> Self {
        self.nak_delay_max = max;
        self
    }

    /// How often claims are checked for an expired lease (default 50 ms).
    pub fn set_lease_check_interval(mut self, every: Duration) -> Self {
        self.lease_check = every.max(Duration::from_millis(5));
        self
    }

    /// How long connecting may take (default 5 s).
    pub fn set_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Keep a record of each done task this long, for [`Inspect`](drover_core::Inspect)
    /// (default: none). Non-zero makes the done stream, with this `max_age` (updated when the
    /// storage connects); each completion then publishes a record beside its ack, which cost
    /// about 30% of a drain's throughput in `cargo xtask bench` (95,000 → 67,000 jobs/s at
    /// concurrency 10). With none, done tasks leave no trace: `get` finds nothing and
    /// `stats().done` is 0.
    pub fn set_keep_done(mut self, keep: Duration) -> Self {
        self.keep_done = keep;
        self
    }

    /// Give each pushed task's message its task id as `Nats-Msg-Id` (default off), so that
    /// [`Enqueue::enqueue`](drover_core::Enqueue::enqueue) called again with the same
    /// [`NewTask`](drover_core::NewTask) values (same ids) within the duplicate window stores
    /// them once. `push` and `push_bulk` give every call new ids, so the window never matches
    /// their retries; on nats-server 2.9.10 the ids cost about a quarter of the bulk enqueue
    /// throughput (100,000 vs 135,000 jobs/s, median of 8 runs each). Copies Drover makes
    /// itself (retries, hand-backs, due delayed tasks, dead tasks, cron ticks) always carry
    /// message ids.
    pub fn set_push_message_ids(mut self, on: bool) -> Self {
        self.push_message_ids = on;
        self
    }

    /// Whether pushes carry their task id as message id.
    pub fn push_message_ids(&self) -> bool {
        self.push_message_ids
    }

    /// How long done tasks' records are kept (zero: none are written).
    pub fn keep_done(&self) -> Duration {
        self.keep_done
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The queue, if named (`None`: the job type's default).
    pub fn queue(&self) -> Option<&str> {
        self.queue.as_deref()
    }

    /// The subject and stream prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The work consumer's `ack_wait`.
    pub fn ack_wait(&self) -> Duration {
        self.ack_wait
    }

    /// The work consumer's `max_deliver`, if limited.
    pub fn max_deliver(&self) -> Option<i64> {
        self.max_deliver
    }

    /// The work consumer's `max_ack_pending`.
    pub fn max_ack_pending(&self) -> i64 {
        self.max_ack_pending
    }

    /// Where the streams keep their messages.
    pub fn storage(&self) -> NatsStorageType {
        self.storage
    }

    /// Stream replicas.
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// The duplicate window.
    pub fn duplicate_window(&self) -> Duration {
        self.duplicate_window
    }

    /// How long a claim waits for a first message.
    pub fn claim_wait(&self) -> Duration {
        self.claim_wait
    }

    /// The longest retry delay sent as a delayed Nak.
    pub fn nak_delay_max(&self) -> Duration {
        self.nak_delay_max
    }

    /// How often leases are checked.
    pub fn lease_check_interval(&self) -> Duration {
        self.lease_check
    }

    /// How long connecting may take.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    pub(crate) fn validate_name(what: &str, name: &str) -> Result<(), BackendError> {
        let ok = !name.is_empty()
            && name.len() <= 200
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(())
        } else {
            Err(BackendError::Config(format!(
                "the NATS {what} `{name}` cannot name a stream and subjects: use 1 to 200 ASCII letters, digits, `-` or `_`"
            )))
        }
    }
}
