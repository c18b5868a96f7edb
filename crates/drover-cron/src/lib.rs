//! Schedules for [Drover](https://docs.rs/drover): when recurring jobs are due.
//!
//! A [`Schedule`] is a cron expression, in UTC or an IANA time zone, or a fixed interval. Its
//! ticks are UTC instants that depend on nothing but the schedule and the time, so every node
//! running the same schedule computes the same ticks: that is what lets a tick's job be pushed
//! exactly once, under its [`tick_key`], by whichever node gets there first.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use drover_cron::Schedule;
//!
//! // 5 fields (minute precision), 6 (with seconds) or 7 (with a year) are all accepted.
//! let nightly = Schedule::cron("30 2 * * *")?.in_time_zone(chrono_tz::America::New_York);
//! let after = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
//! // 02:30 in New York in June is 06:30 UTC.
//! assert_eq!(nightly.next_after(after), Some(Utc.with_ymd_and_hms(2025, 6, 2, 6, 30, 0).unwrap()));
//!
//! // Intervals are anchored to the Unix epoch, not to the process start.
//! let every_minute = Schedule::every(std::time::Duration::from_secs(60))?;
//! assert_eq!(every_minute.next_after(after), Some(Utc.with_ymd_and_hms(2025, 6, 1, 12, 1, 0).unwrap()));
//! # Ok::<(), drover_cron::ScheduleError>(())
//! ```
//!
//! # Daylight saving time
//!
//! Cron expressions in a time zone follow croner's rules, the ones of vixie cron: on the
//! spring-forward day a time that does not exist (02:30 in New York) fires once, at the first
//! valid time after the gap (03:00); on the fall-back day a time that happens twice (01:30)
//! fires once, at its first occurrence; and `*/30 * * * *` across the repeated hour stays
//! monotonic. Fixed intervals are counted in UTC and never see DST. The `cron` crate, used by
//! a peer, skips the first and fires the second twice; `tests/dst.rs` holds both days.
//!
//! # Catch-up
//!
//! A node that was down misses ticks. [`Schedule::due`] picks which to run from the last tick
//! that ran (stored by the storage) and a [`CatchUp`] policy: skip them and go on with the
//! next tick, run the newest missed one, or run all of them, oldest first, up to a limit. A
//! tick looked at less than [`ON_TIME`] after it came is on time, not missed.
//!
//! Not here yet: the cron source as a worker backend, `pipe_to` a storage with exactly one job
//! per (schedule, tick), the overlap policy, the tick extractor and the listing of schedules.

#![forbid(unsafe_code)]

mod job;
mod pipe;
mod schedule;
mod source;
mod tick;

pub use chrono_tz;
pub use drover_core::{Overlap, PushTicks, TickPushed, TickRecord};
pub use job::{CronJob, MAX_NAME_LEN};
pub use pipe::{Pipe, PipeMarker, ScheduleInfo};
pub use schedule::{tick_key, CatchUp, Schedule, ScheduleError, ON_TIME};
pub use source::CronSource;
pub use tick::{tick_id, Tick};
