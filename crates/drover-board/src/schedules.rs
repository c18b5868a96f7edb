//! Recurring jobs on the board (feature `cron`, on by default): the schedules of
//! `drover-cron` pipes registered with [`ApiBuilder::schedule`](crate::ApiBuilder::schedule),
//! each with its expression, next tick and last tick as its storage recorded it.

use chrono::{DateTime, Utc};
use drover_core::BackendError;
use drover_cron::{Pipe, PushTicks, ScheduleInfo};
use futures_util::future::BoxFuture;
use serde::Serialize;

/// A schedule the board lists: implemented by every [`drover_cron::Pipe`] (any job type, any
/// storage with ticks), or by your own type for schedules kept elsewhere.
pub trait BoardSchedule: Send + Sync + 'static {
    /// The schedule's state now: name, queue, expression, last and next tick.
    fn info(&self) -> BoxFuture<'_, Result<ScheduleInfo, BackendError>>;
}

impl<S: PushTicks> BoardSchedule for Pipe<S> {
    fn info(&self) -> BoxFuture<'_, Result<ScheduleInfo, BackendError>> {
        Box::pin(Pipe::info(self))
    }
}

/// A schedule as the API answers it.
#[derive(Serialize)]
pub(crate) struct ScheduleView {
    pub(crate) name: String,
    pub(crate) queue: String,
    pub(crate) schedule: String,
    pub(crate) next_tick: Option<DateTime<Utc>>,
    pub(crate) last_tick: Option<DateTime<Utc>>,
    pub(crate) last_task: Option<String>,
}

impl From<ScheduleInfo> for ScheduleView {
    fn from(info: ScheduleInfo) -> Self {
        Self {
            name: info.name,
            queue: info.queue,
            schedule: info.schedule,
            next_tick: info.next_tick,
            last_tick: info.last_tick,
            last_task: info.last_task.map(|id| id.to_string()),
        }
    }
}
