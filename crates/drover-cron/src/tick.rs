//! A tick as the handler sees it, and the task id every node gives it.

use chrono::{DateTime, Utc};
use drover_core::{BoxDynError, FromTask, TaskContext, TaskId};

/// Bytes 7 and 8 of a tick's task id (after the 6 bytes of the tick's milliseconds): they mark
/// the id as a tick's, so the [`Tick`] extractor can refuse other tasks.
const MARK: [u8; 2] = [0xC7, 0x1C];

/// The scheduled time of the tick a task was pushed for: take it as a handler argument to know
/// which period the run covers, whatever the attempt or however late it runs.
///
/// ```
/// use drover_core::BoxDynError;
/// use drover_cron::Tick;
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct DailyReport;
///
/// async fn report(_job: DailyReport, tick: Tick) -> Result<(), BoxDynError> {
///     let day = tick.at().date_naive() - chrono::Days::new(1);
///     println!("report for {day}");
///     Ok(())
/// }
/// ```
///
/// It is read from the task's id, which is the tick's own (see [`tick_id`]), so it works the
/// same for a [`CronSource`](crate::CronSource) and for a job piped into any storage. A
/// handler that takes a `Tick` for a task no schedule pushed fails that task with an error
/// saying so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tick {
    at: DateTime<Utc>,
}

impl Tick {
    pub(crate) fn at_time(at: DateTime<Utc>) -> Self {
        Self { at }
    }

    /// The tick's scheduled time (UTC).
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// The tick of a task id made by [`tick_id`], `None` for any other id.
    pub fn of(id: TaskId) -> Option<Tick> {
        let bytes = id.to_bytes();
        if bytes[6..8] != MARK {
            return None;
        }
        let mut ms = [0u8; 8];
        ms[2..].copy_from_slice(&bytes[..6]);
        let at = DateTime::from_timestamp_millis(i64::from_be_bytes(ms))?;
        Some(Tick { at })
    }
}

impl FromTask for Tick {
    fn from_task(ctx: &TaskContext) -> Result<Self, BoxDynError> {
        Tick::of(ctx.id()).ok_or_else(|| {
            format!(
                "the handler takes a drover_cron::Tick, but task {} of queue `{}` was not pushed by a cron \
                 schedule (its id is not a tick's); push it through CronJob::pipe_to or drop the Tick argument",
                ctx.id(),
                ctx.queue()
            )
            .into()
        })
    }
}

/// The id of the task for `tick` of schedule `schedule` in `queue`: the same on every node, a
/// ULID whose time is the tick (so ids still sort by tick), then a mark, then a hash of the
/// queue and the schedule's name. `None` for a tick before 1970 or after the year 10889.
pub fn tick_id(queue: &str, schedule: &str, tick: DateTime<Utc>) -> Option<TaskId> {
    let ms = u64::try_from(tick.timestamp_millis()).ok().filter(|ms| *ms < 1 << 48)?;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6..8].copy_from_slice(&MARK);
    bytes[8..].copy_from_slice(&fnv1a(&[queue.as_bytes(), &[0], schedule.as_bytes()]).to_be_bytes());
    TaskId::from_bytes(&bytes)
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms, unlike the standard hasher.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_tick_id_gives_its_tick_back_and_differs_per_queue_and_schedule() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 30, 0).single().map(|t| t + chrono::TimeDelta::milliseconds(7));
        let at = at.unwrap_or_default();
        let id = tick_id("reports", "nightly", at).unwrap_or_default();
        assert_eq!(Tick::of(id).map(|t| t.at()), Some(at));
        assert_eq!(id.created_at(), at, "the id's time is the tick's");
        assert_eq!(tick_id("reports", "nightly", at), Some(id), "the same on every call");
        assert_ne!(tick_id("reports", "hourly", at), Some(id));
        assert_ne!(tick_id("other", "nightly", at), Some(id));
        assert_eq!(Tick::of(TaskId::from_u128(1)), None, "an id without the mark is no tick's");
        assert_eq!(tick_id("q", "s", DateTime::<Utc>::MIN_UTC), None);
    }
}
