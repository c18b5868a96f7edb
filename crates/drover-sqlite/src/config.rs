//! The storage's settings.

pub use drover_core::Retention;

/// Settings of a [`SqliteStorage`](crate::SqliteStorage): which queue it serves and how it
/// prunes.
///
/// ```
/// use drover_sqlite::{Retention, SqliteConfig};
///
/// let config = SqliteConfig::new("email").set_retention(Retention::default().batch(500));
/// assert_eq!(config.queue(), Some("email"));
/// // Without a queue, the storage names it after its job type (`Email` → `email`):
/// assert_eq!(SqliteConfig::default().queue(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteConfig {
    queue: Option<String>,
    retention: Retention,
}

impl Default for SqliteConfig {
    /// The defaults, with the queue named after the storage's job type.
    fn default() -> Self {
        Self { queue: None, retention: Retention::default() }
    }
}

impl SqliteConfig {
    /// Settings for the queue `queue` (queue names are explicit and stable: they are stored
    /// with every task).
    pub fn new(queue: impl Into<String>) -> Self {
        Self::default().set_queue(queue)
    }

    /// Use queue `queue`.
    pub fn set_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// The queue set explicitly; `None` (the default) means the storage uses its job type's
    /// [`default_queue_name`](drover_core::default_queue_name) (`Email` → `email`).
    pub fn queue(&self) -> Option<&str> {
        self.queue.as_deref()
    }

    /// How long finished tasks are kept, and in what batches they are deleted
    /// ([`SqliteStorage::prune`](crate::SqliteStorage::prune)).
    pub fn set_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The retention.
    pub fn retention(&self) -> &Retention {
        &self.retention
    }
}
