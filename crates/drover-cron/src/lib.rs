//! Recurring jobs for [Drover](https://docs.rs/drover): cron expressions and intervals whose
//! ticks become jobs, exactly once per tick however many nodes run the schedule.
//!
//! ```no_run
//! use drover_core::{BoxDynError, Monitor, WorkerBuilder};
//! use drover_cron::{CronJob, Schedule, Tick};
//! use drover_postgres::PostgresStorage;
//!
//! #[derive(Default, serde::Serialize, serde::Deserialize)]
//! struct NightlyReport;
//!
//! async fn report(_job: NightlyReport, tick: Tick) -> Result<(), BoxDynError> {
//!     println!("report for the day before {}", tick.at());
//!     Ok(())
//! }
//!
//! # async fn run(pool: sqlx::PgPool) -> Result<(), BoxDynError> {
//! let storage = PostgresStorage::<NightlyReport>::new(pool);
//! let nightly = CronJob::<NightlyReport>::new(
//!     "nightly-report",
//!     Schedule::cron("30 2 * * *")?.in_time_zone(drover_cron::chrono_tz::Europe::Paris),
//! )?;
//! Monitor::new()
//!     // Every node runs the pipe; each tick is pushed once, by whichever node gets there first.
//!     .register(nightly.pipe_to(storage.clone()))
//!     .register(WorkerBuilder::new("reports").backend(storage).build_fn(report))
//!     .run()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Schedules
//!
//! [`Schedule::cron`] takes the expressions people write: 5 fields (`m h dom mon dow`, minute
//! precision), 6 (seconds first) or 7 (a year last); lists, ranges and steps (`1,15`, `9-17`,
//! `*/5`); month and day names (`JAN`, `MON-FRI`); `L` (last day of the month), `W` (nearest
//! weekday), `#` (`MON#1`, the first Monday); and the nicknames `@yearly`, `@monthly`,
//! `@weekly`, `@daily`, `@hourly`. A bad expression is an error that quotes it and shows the
//! accepted shapes.
//!
//! ```
//! use drover_cron::Schedule;
//! for ok in ["*/5 * * * *", "0 9 * * MON-FRI", "0 0 L * *", "0 9 * * MON#1", "@hourly", "30 0 2 * * * 2030"] {
//!     assert!(Schedule::cron(ok).is_ok(), "{ok}");
//! }
//! assert!(Schedule::cron("every tuesday").is_err());
//! ```
//!
//! An expression is read in UTC unless [`Schedule::in_time_zone`] gives it an IANA zone
//! ([`chrono_tz`], re-exported). [`Schedule::every`] ticks at the multiples of its period since
//! the Unix epoch, so every node, and every restart, agrees on the ticks (an interval does not
//! start counting when a process starts).
//!
//! Ticks are UTC instants computed from nothing but the schedule and the time, which is what
//! lets nodes agree on them without talking to each other.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use drover_cron::Schedule;
//!
//! let nightly = Schedule::cron("30 2 * * *")?.in_time_zone(drover_cron::chrono_tz::America::New_York);
//! let after = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
//! // 02:30 in New York in June is 06:30 UTC.
//! assert_eq!(nightly.next_after(after), Some(Utc.with_ymd_and_hms(2025, 6, 2, 6, 30, 0).unwrap()));
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
//! # Exactly one job per tick
//!
//! [`CronJob::pipe_to`] a storage that implements [`PushTicks`] (a storage without it does not
//! compile with `pipe_to`). The storage keeps, per queue and schedule name, the last tick
//! pushed, and pushes a tick's task only if the tick is newer, in the same atomic step:
//!
//! | storage | how |
//! |---|---|
//! | PostgreSQL | row of `drover.cron_ticks`, locked `FOR UPDATE` in the transaction that inserts the task |
//! | MySQL / MariaDB | row of `drover_cron_ticks`, locked `FOR UPDATE` in the transaction that inserts the task (retried on deadlock) |
//! | SQLite | row of `drover_cron_ticks`, read and written in the `BEGIN IMMEDIATE` transaction that inserts the task |
//! | Redis | hash `<prefix>:cron_ticks`, compared and set by the Lua script that pushes the task |
//! | memory | under the queue's lock (one process) |
//!
//! RSMQ and AMQP have no such step and do not implement it: pipe a schedule into one of the
//! storages above. The record outlives the task, so a tick whose task finished, or was pruned,
//! is never pushed again. Each tick's task also gets the tick's own id ([`tick_id`], the same on
//! every node), which is how the [`Tick`] extractor knows the tick. Tick tasks are ordinary
//! tasks: retried, leased, listed and requeued like any other, and run at least once (a task
//! whose worker dies mid-run runs again when its lease expires).
//!
//! `tests/nodes.rs` runs three processes on one every-second schedule for 60 s against
//! PostgreSQL and against Redis, kills one with SIGKILL halfway, and checks that each tick has
//! exactly one task, that none is missed, and that each attempt ran once.
//!
//! # Catch-up and overlap
//!
//! A node that was down misses ticks. When any node runs the schedule again,
//! [`CronJob::catch_up`] decides from the stored last tick: [`CatchUp::Skip`] (the default)
//! drops the missed ticks and goes on with the next, [`CatchUp::Last`] runs the newest missed
//! one, [`CatchUp::All`] runs every missed tick, oldest first, up to a limit. A tick looked at
//! less than [`ON_TIME`] after it came is on time, not missed. While other nodes keep running
//! the schedule, nothing is missed.
//!
//! [`CronJob::overlap`]: with [`Overlap::Skip`], a tick that comes while the previous tick's
//! task is pending or running (a retry included) is recorded and skipped, so runs never
//! overlap; [`Overlap::Allow`] (the default) pushes every tick.
//!
//! # Without persistence
//!
//! [`CronSource`] is a worker's backend of its own: ticks go to an in-memory queue in this
//! process and run there (every process running it runs every tick, and pending ticks are lost
//! when the process exits). For jobs like refreshing a local cache.
//!
//! # Listing
//!
//! [`Pipe::info`] gives a schedule's [`ScheduleInfo`]: its expression, its last tick and task
//! (from the storage, whichever node pushed them) and its next tick;
//! [`PushTicks::tick_records`] lists every schedule a queue's storage has a record of.

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
pub use schedule::{CatchUp, Schedule, ScheduleError, ON_TIME};
pub use source::CronSource;
pub use tick::{tick_id, Tick};
