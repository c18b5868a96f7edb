//! The storage's configuration: queue name, what completion does, wake-ups.

use std::time::Duration;

/// What a successful completion does with the message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnDone {
    /// Move it to pgmq's archive table `pgmq.a_<queue>`, as `pgmq.archive` does: done tasks
    /// stay visible to inspection (and to pgmq) until pruned.
    #[default]
    Archive,
    /// Delete it, as `pgmq.delete` does: nothing is kept, and inspection no longer finds done
    /// tasks.
    Delete,
}

/// Configuration of a [`PgmqStorage`](crate::PgmqStorage).
///
/// ```
/// use drover_pgmq::{OnDone, PgmqConfig};
/// use std::time::Duration;
///
/// let config = PgmqConfig::new("emails")
///     .set_on_done(OnDone::Delete)
///     .set_notify_insert(Some(Duration::from_millis(100)));
/// assert_eq!(config.queue(), Some("emails"));
/// assert_eq!(config.dead_queue().as_deref(), Some("emails_dead"));
/// // Without a queue, the storage names it after its job type (`Email` → `email`):
/// assert_eq!(PgmqConfig::default().queue(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgmqConfig {
    queue: Option<String>,
    on_done: OnDone,
    listen: bool,
    notify_insert: Option<Duration>,
    enqueue_chunk: usize,
    claim_limit: usize,
}

impl Default for PgmqConfig {
    /// The defaults, with the queue named after the storage's job type.
    fn default() -> Self {
        Self {
            queue: None,
            on_done: OnDone::default(),
            listen: true,
            notify_insert: None,
            enqueue_chunk: 10_000,
            claim_limit: 1_000,
        }
    }
}

impl PgmqConfig {
    /// The defaults for queue `queue`.
    pub fn new(queue: impl Into<String>) -> Self {
        Self::default().set_queue(queue)
    }

    /// The queue set explicitly; `None` (the default) means the storage uses its job type's
    /// [`default_queue_name`](drover_core::default_queue_name) (`Email` → `email`).
    pub fn queue(&self) -> Option<&str> {
        self.queue.as_deref()
    }

    /// Use the pgmq queue `queue`: lowercase ASCII letters, digits and `_`, starting with a
    /// letter or `_`, at most 42 characters (pgmq allows 47, and the dead queue adds `_dead`).
    /// A name that breaks these rules makes the first call fail with `BackendError::Config`.
    pub fn set_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// The dead-letter queue, `<queue>_dead`, when the queue is set.
    pub fn dead_queue(&self) -> Option<String> {
        self.queue.as_ref().map(|q| format!("{q}{}", crate::name::DEAD_SUFFIX))
    }

    /// What a successful completion does (default [`OnDone::Archive`]).
    pub fn on_done(&self) -> OnDone {
        self.on_done
    }

    /// Archive or delete done messages.
    pub fn set_on_done(mut self, on_done: OnDone) -> Self {
        self.on_done = on_done;
        self
    }

    /// Whether idle workers `LISTEN` on pgmq's insert notification (`pgmq.q_<queue>.INSERT`,
    /// default true). The channel only carries notifications once insert notification is
    /// enabled on the queue (see [`set_notify_insert`](Self::set_notify_insert)); workers
    /// also poll at their poll interval, and pushes from this process wake its workers
    /// directly.
    pub fn listen(&self) -> bool {
        self.listen
    }

    /// Turn `LISTEN` wake-ups on or off (off behind a transaction-mode pooler).
    pub fn set_listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }

    /// The throttle `setup` enables pgmq's insert notification with, if any (default `None`:
    /// `setup` leaves the queue's notification as it is).
    pub fn notify_insert(&self) -> Option<Duration> {
        self.notify_insert
    }

    /// Make `setup` call `pgmq.enable_notify_insert(queue, throttle_ms)`, so pushes from any
    /// client (psql, Python) wake idle workers at once. pgmq's trigger runs once per inserted
    /// row and updates one throttle row per queue, so concurrent producers of one queue wait
    /// on each other, and a producer's open transaction holds the others up until it ends;
    /// a throttle above zero makes that rarer.
    pub fn set_notify_insert(mut self, throttle: Option<Duration>) -> Self {
        self.notify_insert = throttle;
        self
    }

    /// Most messages one `pgmq.send_batch` call carries (default 10,000). A larger
    /// `push_bulk` is split inside one transaction, so it is still all or nothing.
    pub fn enqueue_chunk(&self) -> usize {
        self.enqueue_chunk
    }

    /// Set the enqueue chunk (at least 1).
    pub fn set_enqueue_chunk(mut self, messages: usize) -> Self {
        self.enqueue_chunk = messages.max(1);
        self
    }

    /// Most messages one claim reads (default 1,000).
    pub fn claim_limit(&self) -> usize {
        self.claim_limit
    }

    /// Set the claim limit (at least 1).
    pub fn set_claim_limit(mut self, messages: usize) -> Self {
        self.claim_limit = messages.max(1);
        self
    }
}
