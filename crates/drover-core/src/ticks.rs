//! Recurring schedules' ticks: the storage side of "exactly one job per (schedule, tick)".
//!
//! `drover-cron` computes ticks; a storage that implements [`PushTicks`] records, per
//! schedule, the last tick whose job was pushed, and pushes a tick's job only if that tick is
//! newer, in one atomic step. However many nodes run the same schedule, each tick becomes one
//! task, and a node that comes back after a downtime reads where the schedule got to.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::backend::Enqueue;
use crate::error::BackendError;
use crate::task::{NewTask, TaskId};

/// What to do with a tick while the previous tick's task has not finished.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Overlap {
    /// Push the tick's job anyway (the default): runs may overlap.
    #[default]
    Allow,
    /// Skip the tick (it is recorded as the last tick, and no task is pushed for it) while the
    /// task of the last pushed tick is pending or running, retries included.
    Skip,
}

/// One tick to push: the schedule's name, the tick, and its task.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TickPush {
    /// The schedule's name, unique within the queue.
    pub schedule: String,
    /// The tick (a UTC instant every node computes alike).
    pub tick: DateTime<Utc>,
    /// The tick's task; its id is the tick's own, the same on every node.
    pub task: NewTask,
    /// Whether to skip the tick while the previous tick's task is unfinished.
    pub overlap: Overlap,
}

impl TickPush {
    /// Push `task` for `tick` of `schedule`, runs allowed to overlap.
    pub fn new(schedule: impl Into<String>, tick: DateTime<Utc>, task: NewTask) -> Self {
        Self { schedule: schedule.into(), tick, task, overlap: Overlap::Allow }
    }

    /// Set the overlap policy.
    pub fn overlap(mut self, overlap: Overlap) -> Self {
        self.overlap = overlap;
        self
    }
}

/// What became of a [`TickPush`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TickPushed {
    /// This call pushed the tick's task.
    Pushed(TaskId),
    /// The schedule's last tick is this one or a later one: another node (or an earlier call)
    /// got there first, and nothing was pushed.
    Taken,
    /// [`Overlap::Skip`], and the previous tick's task (this id) is unfinished: the tick is
    /// recorded as the last one, and nothing was pushed.
    Overlapped(TaskId),
}

/// A schedule's record in a storage: its last tick and the task pushed for it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TickRecord {
    /// The schedule's name.
    pub schedule: String,
    /// The newest tick pushed (or skipped for overlap).
    pub last_tick: DateTime<Utc>,
    /// The task of the newest tick that was pushed.
    pub last_task: Option<TaskId>,
}

impl TickRecord {
    /// A record (for backend implementations).
    pub fn new(schedule: impl Into<String>, last_tick: DateTime<Utc>, last_task: Option<TaskId>) -> Self {
        Self { schedule: schedule.into(), last_tick, last_task }
    }
}

/// A storage that pushes each tick of a recurring schedule exactly once, whatever the number
/// of nodes running the schedule: `drover-cron`'s `pipe_to` requires it.
///
/// Contract (checked by `drover-conformance`'s `ticks` group):
/// - [`push_tick`](PushTicks::push_tick) atomically compares the tick with the schedule's
///   stored last tick: if it is not newer, nothing changes and the result is
///   [`TickPushed::Taken`]; otherwise the tick becomes the last tick and its task is pushed in
///   the same step ([`TickPushed::Pushed`]), or, under [`Overlap::Skip`] while the last
///   pushed task is pending or running, only the tick is recorded ([`TickPushed::Overlapped`]).
///   Concurrent calls for the same tick push one task.
/// - The record outlives the task: a tick whose task finished, or was pruned, is still taken.
/// - Records are per queue: the same schedule name in two queues is two schedules.
///
/// The memory, PostgreSQL, MySQL, SQLite and Redis storages implement it.
pub trait PushTicks: Enqueue {
    /// Push `push.task` for `push.tick` unless that tick (or a later one) was pushed already.
    fn push_tick(&self, push: TickPush) -> impl Future<Output = Result<TickPushed, BackendError>> + Send;

    /// The record of one schedule of this queue, `None` before its first tick.
    fn tick_record(&self, schedule: &str) -> impl Future<Output = Result<Option<TickRecord>, BackendError>> + Send;

    /// The records of every schedule of this queue, by name.
    fn tick_records(&self) -> impl Future<Output = Result<Vec<TickRecord>, BackendError>> + Send;
}
