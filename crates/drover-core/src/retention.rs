//! How long finished tasks are kept: one policy ([`Retention`]), one primitive each storage
//! implements ([`Prune`]: delete one bounded batch), and one service that applies the policy
//! with it ([`RetentionService`]: once, or forever beside the workers).

use std::future::Future;
use std::time::Duration;

use crate::backend::Backend;
use crate::error::BackendError;
use crate::task::Status;

/// How long finished tasks are kept before a storage's pruning deletes them. `None` keeps them
/// forever. Storages delete in bounded batches of `batch` rows, so pruning never holds many
/// locks or a long transaction.
///
/// ```
/// use drover_core::{Retention, Status};
/// use std::time::Duration;
///
/// let retention = Retention::default().done(Some(Duration::from_secs(3600))).dead(None);
/// assert_eq!(retention.age(Status::Done), Some(Duration::from_secs(3600)));
/// assert_eq!(retention.age(Status::Dead), None);
/// assert_eq!(retention.age(Status::Pending), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Done tasks (default 1 day).
    pub done: Option<Duration>,
    /// Dead tasks (default 7 days: long enough to look at them and requeue).
    pub dead: Option<Duration>,
    /// Cancelled tasks (default 7 days).
    pub cancelled: Option<Duration>,
    /// Rows deleted per statement (default 1,000).
    pub batch: usize,
    /// How often a storage's background pruning runs, where it has one (default 5 minutes).
    pub interval: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            done: Some(Duration::from_secs(24 * 3600)),
            dead: Some(Duration::from_secs(7 * 24 * 3600)),
            cancelled: Some(Duration::from_secs(7 * 24 * 3600)),
            batch: 1_000,
            interval: Duration::from_secs(300),
        }
    }
}

impl Retention {
    /// Keep done tasks for `age` (`None`: forever).
    pub fn done(mut self, age: Option<Duration>) -> Self {
        self.done = age;
        self
    }

    /// Keep dead tasks for `age` (`None`: forever).
    pub fn dead(mut self, age: Option<Duration>) -> Self {
        self.dead = age;
        self
    }

    /// Keep cancelled tasks for `age` (`None`: forever).
    pub fn cancelled(mut self, age: Option<Duration>) -> Self {
        self.cancelled = age;
        self
    }

    /// Delete at most `rows` per statement (at least 1).
    pub fn batch(mut self, rows: usize) -> Self {
        self.batch = rows.max(1);
        self
    }

    /// Prune every `interval` (at least 10 ms) where the storage prunes in the background.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// How long tasks with `status` are kept; `None` for forever and for unfinished statuses.
    pub fn age(&self, status: Status) -> Option<Duration> {
        match status {
            Status::Done => self.done,
            Status::Dead => self.dead,
            Status::Cancelled => self.cancelled,
            Status::Pending | Status::Running => None,
        }
    }
}

/// The one retention primitive a storage implements: delete a bounded batch of finished tasks.
pub trait Prune: Backend {
    /// Delete at most `limit` tasks of this queue with the final `status` (done, dead or
    /// cancelled) whose last change is more than `older_than` ago; returns how many went.
    /// Unfinished tasks are never deleted: a `status` that is not final is refused with
    /// [`BackendError::Unsupported`] before the storage is asked.
    fn prune_batch(
        &self,
        status: Status,
        older_than: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<u64, BackendError>> + Send {
        let refused = refuse_unfinished(status);
        async move {
            refused?;
            self.delete_finished(status, older_than, limit).await
        }
    }

    /// The storage's part of [`Prune::prune_batch`]: `status` is always final here.
    fn delete_finished(
        &self,
        status: Status,
        older_than: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<u64, BackendError>> + Send;
}

/// What one retention pass deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pruned {
    /// Done tasks deleted.
    pub done: u64,
    /// Dead tasks deleted.
    pub dead: u64,
    /// Cancelled tasks deleted.
    pub cancelled: u64,
}

impl Pruned {
    /// Tasks deleted in all.
    pub fn total(&self) -> u64 {
        self.done + self.dead + self.cancelled
    }
}

/// The refusal of [`Prune::prune_batch`] for a status that is not final.
fn refuse_unfinished(status: Status) -> Result<(), BackendError> {
    if status.is_final() {
        Ok(())
    } else {
        Err(BackendError::Unsupported(format!(
            "pruning deletes finished tasks only (done, dead or cancelled), not {status} ones"
        )))
    }
}

/// Applies a [`Retention`] to one storage's queue with its [`Prune`]: every status in batches
/// of `Retention::batch` (each its own short statement, so pruning never holds many locks),
/// until a batch comes back short.
///
/// ```
/// use drover_core::{MemoryStorage, Retention, RetentionService};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), drover_core::BackendError> {
/// let storage = MemoryStorage::<String>::named("emails");
/// let retention = Retention::default().done(Some(Duration::from_secs(3600)));
/// let pruned = RetentionService::new(storage.clone(), retention.clone()).run_once().await?;
/// assert_eq!(pruned.total(), 0);
/// // Beside the workers: tokio::spawn(RetentionService::new(storage, retention).run_forever());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RetentionService<B> {
    backend: B,
    retention: Retention,
}

impl<B: Prune> RetentionService<B> {
    /// Apply `retention` to `backend`'s queue.
    pub fn new(backend: B, retention: Retention) -> Self {
        Self { backend, retention }
    }

    /// One pass: delete every finished task past its status's age.
    pub async fn run_once(&self) -> Result<Pruned, BackendError> {
        let mut pruned = Pruned::default();
        let batch = self.retention.batch.max(1);
        for status in [Status::Done, Status::Dead, Status::Cancelled] {
            let Some(age) = self.retention.age(status) else { continue };
            loop {
                let deleted = self.backend.prune_batch(status, age, batch).await?;
                match status {
                    Status::Done => pruned.done += deleted,
                    Status::Dead => pruned.dead += deleted,
                    _ => pruned.cancelled += deleted,
                }
                if deleted < u64::try_from(batch).unwrap_or(u64::MAX) {
                    break;
                }
                // Let the workers' statements in between batches.
                tokio::task::yield_now().await;
            }
        }
        Ok(pruned)
    }

    /// A pass every `Retention::interval`, forever: spawn it once per queue, beside the workers.
    /// A failed pass is logged and tried again at the next tick, so a server restart does not
    /// stop it.
    pub async fn run_forever(self) {
        let mut ticks = tokio::time::interval(self.retention.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.run_once().await {
                Ok(pruned) if pruned.total() > 0 => {
                    tracing::debug!(queue = self.backend.queue(), ?pruned, "pruned finished tasks");
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(queue = self.backend.queue(), %error, "pruning failed; trying again at the next interval");
                }
            }
        }
    }
}
