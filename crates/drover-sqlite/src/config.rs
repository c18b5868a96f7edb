//! The storage's settings.

/// Settings of a [`SqliteStorage`](crate::SqliteStorage): which queue it serves and how it
/// prunes.
///
/// ```
/// use drover_sqlite::SqliteConfig;
///
/// let config = SqliteConfig::new("email").prune_batch(500);
/// assert_eq!(config.queue(), "email");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteConfig {
    queue: String,
    prune_batch: usize,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self::new("default")
    }
}

impl SqliteConfig {
    /// Settings for the queue `queue` (queue names are explicit and stable: they are stored
    /// with every task).
    pub fn new(queue: impl Into<String>) -> Self {
        Self { queue: queue.into(), prune_batch: 1_000 }
    }

    /// The queue name.
    pub fn queue(&self) -> &str {
        &self.queue
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
