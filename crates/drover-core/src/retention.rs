//! How long finished tasks are kept: one policy type for every storage that prunes.

use std::time::Duration;

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
