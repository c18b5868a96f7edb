//! The storage's settings.

/// Settings of a [`SqliteStorage`](crate::SqliteStorage): which queue it serves and how it
/// prunes.
///
/// ```
/// use drover_sqlite::SqliteConfig;
///
/// let config = SqliteConfig::new("email").prune_batch(500);
/// assert_eq!(config.queue(), Some("email"));
/// // Without a queue, the storage names it after its job type (`Email` → `email`):
/// assert_eq!(SqliteConfig::default().queue(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteConfig {
    queue: Option<String>,
    prune_batch: usize,
}

impl Default for SqliteConfig {
    /// The defaults, with the queue named after the storage's job type.
    fn default() -> Self {
        Self { queue: None, prune_batch: 1_000 }
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

    /// This config with the queue set: the explicit one, or job type `T`'s default.
    pub(crate) fn for_job<T: ?Sized>(mut self) -> Self {
        self.queue.get_or_insert_with(drover_core::default_queue_name::<T>);
        self
    }

    /// The queue of a config passed through [`SqliteConfig::for_job`].
    pub(crate) fn queue_name(&self) -> &str {
        self.queue.as_deref().unwrap_or("default")
    }

    /// Rows deleted per statement by [`SqliteStorage::prune`](crate::SqliteStorage::prune)
    /// (default 1,000; at least 1). Each batch is its own short write, so a large prune never
    /// holds SQLite's single write lock for long.
    pub fn prune_batch(mut self, rows: usize) -> Self {
        self.prune_batch = rows.max(1);
        self
    }

    /// Rows deleted per statement when pruning.
    pub fn get_prune_batch(&self) -> usize {
        self.prune_batch
    }
}
