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
    transaction_pooling: bool,
    listen_url: Option<ListenUrl>,
}

/// A connection URL that prints without its password (the config is `Debug`, and so is the
/// storage).
#[derive(Clone, PartialEq, Eq)]
struct ListenUrl(String);

impl std::fmt::Debug for ListenUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // postgres://user:password@host/db → postgres://user:***@host/db
        let url = &self.0;
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let credentials = &url[scheme + 3..at];
                match credentials.find(':') {
                    Some(colon) => write!(f, "\"{}:***{}\"", &url[..scheme + 3 + colon], &url[at..]),
                    None => write!(f, "{url:?}"),
                }
            }
            _ => write!(f, "{url:?}"),
        }
    }
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
            transaction_pooling: false,
            listen_url: None,
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

    /// Whether idle workers wait on `LISTEN/NOTIFY` (default true). Off, workers poll at
    /// their poll interval (`WorkerBuilder::poll_interval`), which is also the fallback
    /// while the listener reconnects and the way scheduled tasks and retries are found when
    /// they fall due. With [`set_transaction_pooling`](Self::set_transaction_pooling) the
    /// wake-ups need a [`listen_url`](Self::set_listen_url); without one, workers wake at
    /// once only for pushes from their own process, and poll otherwise.
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

    /// Whether the pool reaches PostgreSQL through a pooler in transaction mode (default
    /// false). See [`set_transaction_pooling`](Self::set_transaction_pooling).
    pub fn transaction_pooling(&self) -> bool {
        self.transaction_pooling
    }

    /// The pool connects through a pooler in **transaction** mode, such as PgBouncer with
    /// `pool_mode = transaction`, which lends a server connection for one transaction only.
    /// On, every statement is unnamed (sqlx's `persistent(false)`: no prepared statement
    /// outlives it), and each statement not already in a transaction runs inside
    /// `BEGIN … COMMIT`, so its parse and execute reach the same server. That costs about
    /// three extra round trips per statement (see docs/benchmarks.md), so leave it off
    /// (the default) when connecting to PostgreSQL directly or through a pooler in session
    /// mode. `LISTEN` cannot work through such a pooler: give a direct
    /// [`listen_url`](Self::set_listen_url) for wake-ups, or workers poll.
    ///
    /// Your own statements on the same pool need the same care: `.persistent(false)` on each
    /// query, and several statements inside one transaction. Run
    /// [`PostgresStorage::setup`](crate::PostgresStorage::setup) on either connection: it
    /// is one transaction of unnamed statements.
    ///
    /// ```
    /// use drover_postgres::PostgresConfig;
    ///
    /// // The pool goes to PgBouncer (port 6432); wake-ups listen on the server itself.
    /// let config = PostgresConfig::new("emails")
    ///     .set_transaction_pooling(true)
    ///     .set_listen_url("postgres://drover@db.internal:5432/app");
    /// assert!(config.transaction_pooling());
    /// ```
    pub fn set_transaction_pooling(mut self, on: bool) -> Self {
        self.transaction_pooling = on;
        self
    }

    /// The URL the `LISTEN` connection uses, if it is not one of the pool's (default none).
    pub fn listen_url(&self) -> Option<&str> {
        self.listen_url.as_ref().map(|u| u.0.as_str())
    }

    /// Open the `LISTEN` connection to `url` (straight to PostgreSQL, not through a
    /// transaction-mode pooler) instead of taking one from the pool: the way to keep
    /// wake-ups with [`set_transaction_pooling`](Self::set_transaction_pooling). One
    /// connection per pool and URL, shared by every storage of that pool with that URL.
    pub fn set_listen_url(mut self, url: impl Into<String>) -> Self {
        self.listen_url = Some(ListenUrl(url.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listen_url_prints_without_its_password() {
        let config = PostgresConfig::new("q").set_listen_url("postgres://drover:secret@db:5432/app");
        let printed = format!("{config:?}");
        assert!(!printed.contains("secret"), "{printed}");
        assert!(printed.contains("postgres://drover:***@db:5432/app"), "{printed}");
        assert_eq!(config.listen_url(), Some("postgres://drover:secret@db:5432/app"));
        let plain = format!("{:?}", PostgresConfig::new("q").set_listen_url("postgres://db/app"));
        assert!(plain.contains("postgres://db/app"), "{plain}");
    }
}
