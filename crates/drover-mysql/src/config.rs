//! The storage's configuration: queue name, batch sizes and retention.

use drover_core::BackendError;

/// The longest queue name: the `queue` column is `VARCHAR(191)`, the most a utf8mb4 column in
/// an index key can hold on every supported server.
pub const MAX_QUEUE_NAME_CHARS: usize = 191;

/// The longest unique key: the `unique_key` column is `VARCHAR(255)`.
pub const MAX_UNIQUE_KEY_CHARS: usize = 255;

/// The longest concurrency key ([`PushOptions::concurrency_key`](drover_core::PushOptions)):
/// the `concurrency_key` column is `VARCHAR(255)`.
pub const MAX_CONCURRENCY_KEY_CHARS: usize = 255;

pub use drover_core::Retention;

/// Configuration of a [`MysqlStorage`](crate::MysqlStorage).
///
/// ```
/// use drover_mysql::{MysqlConfig, Retention};
/// use std::time::Duration;
///
/// let config = MysqlConfig::new("emails")
///     .set_enqueue_chunk(2_000)
///     .set_retention(Retention::default().done(Some(Duration::from_secs(3600))));
/// assert_eq!(config.queue(), Some("emails"));
/// // Without a queue, the storage names it after its job type (`Email` → `email`):
/// assert_eq!(MysqlConfig::default().queue(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MysqlConfig {
    queue: Option<String>,
    enqueue_chunk: usize,
    claim_limit: usize,
    retention: Retention,
}

impl Default for MysqlConfig {
    /// The defaults, with the queue named after the storage's job type.
    fn default() -> Self {
        Self { queue: None, enqueue_chunk: 1_000, claim_limit: 1_000, retention: Retention::default() }
    }
}

impl MysqlConfig {
    /// The defaults for queue `queue`.
    pub fn new(queue: impl Into<String>) -> Self {
        Self::default().set_queue(queue)
    }

    /// The queue set explicitly; `None` (the default) means the storage uses its job type's
    /// [`default_queue_name`](drover_core::default_queue_name) (`Email` → `email`).
    pub fn queue(&self) -> Option<&str> {
        self.queue.as_deref()
    }

    /// Use queue `queue` (1 to 191 characters).
    pub fn set_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Most tasks inserted by one statement (default 1,000). A larger `push_bulk` is split into
    /// chunks inside one transaction, so it is still all or nothing. Chunks are also cut at
    /// about 4 MiB of payload, below MySQL's default `max_allowed_packet`.
    pub fn enqueue_chunk(&self) -> usize {
        self.enqueue_chunk
    }

    /// Set the enqueue chunk (1 to 5,000: a statement has at most 65,535 placeholders).
    pub fn set_enqueue_chunk(mut self, rows: usize) -> Self {
        self.enqueue_chunk = rows.clamp(1, 5_000);
        self
    }

    /// Most tasks one claim takes, whatever the worker asks (default 1,000).
    pub fn claim_limit(&self) -> usize {
        self.claim_limit
    }

    /// Set the claim limit (1 to 10,000).
    pub fn set_claim_limit(mut self, rows: usize) -> Self {
        self.claim_limit = rows.clamp(1, 10_000);
        self
    }

    /// How long finished tasks are kept.
    pub fn retention(&self) -> &Retention {
        &self.retention
    }

    /// Set the retention.
    pub fn set_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Check the settings the server would otherwise refuse later, with a message saying what
    /// to change.
    /// Whether `queue` (this config's, resolved for the job type) fits the `queue` column.
    pub(crate) fn validate(queue: &str) -> Result<(), BackendError> {
        let chars = queue.chars().count();
        if chars == 0 || chars > MAX_QUEUE_NAME_CHARS {
            return Err(BackendError::Config(format!(
                "the queue name must have 1 to {MAX_QUEUE_NAME_CHARS} characters, `{queue}` has {chars}; \
                 set a shorter one with `MysqlConfig::set_queue`"
            )));
        }
        Ok(())
    }
}
