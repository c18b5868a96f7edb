//! The storage's configuration: queue name, batch sizes, wake-ups, claim durability and
//! retention.

/// How a claim's commit is made durable. See the crate docs, "Tuning".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimCommit {
    /// The claim commits like any other transaction, with the server's `synchronous_commit`
    /// setting: the claim's WAL is flushed before the worker sees the tasks.
    #[default]
    Synchronous,
    /// The claim commits with `synchronous_commit = off` (for that transaction only), so it
    /// does not wait for a WAL flush. No task can be lost this way: if the server crashes
    /// before the claim reaches disk, the task is simply pending (or leased to its previous
    /// claim) again and runs again, exactly as if the worker had crashed. Enqueues and
    /// completions stay synchronous, and a completion's flush also makes its claim durable.
    Asynchronous,
}

pub use drover_core::Retention;

/// Configuration of a [`PostgresStorage`](crate::PostgresStorage).
///
/// ```
/// use drover_postgres::{ClaimCommit, PostgresConfig, Retention};
/// use std::time::Duration;
///
/// let config = PostgresConfig::new("emails")
///     .set_enqueue_chunk(5_000)
///     .set_claim_commit(ClaimCommit::Asynchronous)
///     .set_retention(Retention::default().done(Some(Duration::from_secs(3600))));
/// assert_eq!(config.queue(), Some("emails"));
/// // Without a queue, the storage names it after its job type (`Email` → `email`):
/// assert_eq!(PostgresConfig::default().queue(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresConfig {
    queue: Option<String>,
    enqueue_chunk: usize,
    claim_limit: usize,
    listen: bool,
    claim_commit: ClaimCommit,
    retention: Retention,
}

impl Default for PostgresConfig {
    /// The defaults, with the queue named after the storage's job type.
    fn default() -> Self {
        Self {
            queue: None,
            enqueue_chunk: 10_000,
            claim_limit: 1_000,
            listen: true,
            claim_commit: ClaimCommit::default(),
            retention: Retention::default(),
        }
    }
}

impl PostgresConfig {
    /// The defaults for queue `queue`.
    pub fn new(queue: impl Into<String>) -> Self {
        Self::default().set_queue(queue)
    }

    /// The queue set explicitly; `None` (the default) means the storage uses its job type's
    /// [`default_queue_name`](drover_core::default_queue_name) (`Email` → `email`).
    pub fn queue(&self) -> Option<&str> {
        self.queue.as_deref()
    }

    /// Use queue `queue`.
    pub fn set_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Most tasks inserted by one statement (default 10,000). A larger `push_bulk` is split
    /// into chunks inside one transaction, so it is still all or nothing.
    pub fn enqueue_chunk(&self) -> usize {
        self.enqueue_chunk
    }

    /// Set the enqueue chunk (at least 1).
    pub fn set_enqueue_chunk(mut self, rows: usize) -> Self {
        self.enqueue_chunk = rows.max(1);
        self
    }

    /// Most tasks one claim takes, whatever the worker asks (default 1,000).
    pub fn claim_limit(&self) -> usize {
        self.claim_limit
    }

    /// Set the claim limit (at least 1).
    pub fn set_claim_limit(mut self, rows: usize) -> Self {
        self.claim_limit = rows.max(1);
        self
    }

    /// Whether idle workers wait on `LISTEN/NOTIFY` (default true). Turn it off behind a
    /// pooler in transaction mode (PgBouncer), where `LISTEN` does not work: workers then
    /// poll at their poll interval (`WorkerBuilder::poll_interval`), which is also the
    /// fallback while the listener reconnects and the way scheduled tasks and retries are
    /// found when they fall due.
    pub fn listen(&self) -> bool {
        self.listen
    }

    /// Turn `LISTEN/NOTIFY` wake-ups on or off.
    pub fn set_listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }

    /// How claims commit (default [`ClaimCommit::Synchronous`]).
    pub fn claim_commit(&self) -> ClaimCommit {
        self.claim_commit
    }

    /// Set how claims commit.
    pub fn set_claim_commit(mut self, commit: ClaimCommit) -> Self {
        self.claim_commit = commit;
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
}
