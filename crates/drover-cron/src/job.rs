//! A named recurring job: its schedule, the job each tick makes, and its policies.

use std::fmt;
use std::sync::Arc;

use drover_core::{Overlap, PushOptions, PushTicks};

use crate::pipe::Pipe;
use crate::schedule::{CatchUp, Schedule, ScheduleError};
use crate::tick::Tick;

/// The longest schedule name: what every storage's tick record keeps (MySQL's key column).
pub const MAX_NAME_LEN: usize = 191;

type MakeJob<J> = Arc<dyn Fn(Tick) -> J + Send + Sync>;

/// A recurring job: a name (unique within its queue: every node running the same name shares
/// its ticks), a [`Schedule`], the job each tick makes, the [`CatchUp`] policy after a
/// downtime and the [`Overlap`] policy.
///
/// ```
/// use drover_cron::{CatchUp, CronJob, Overlap, Schedule};
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct CleanUp;
///
/// let job = CronJob::<CleanUp>::new("clean-up", Schedule::cron("*/15 * * * *")?)?
///     .catch_up(CatchUp::Last)
///     .overlap(Overlap::Skip);
/// assert_eq!(job.name(), "clean-up");
/// # Ok::<(), drover_cron::ScheduleError>(())
/// ```
pub struct CronJob<J> {
    pub(crate) name: Arc<str>,
    pub(crate) schedule: Schedule,
    pub(crate) make: MakeJob<J>,
    pub(crate) catch_up: CatchUp,
    pub(crate) overlap: Overlap,
    pub(crate) options: PushOptions,
}

impl<J> Clone for CronJob<J> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            schedule: self.schedule.clone(),
            make: self.make.clone(),
            catch_up: self.catch_up,
            overlap: self.overlap,
            options: self.options.clone(),
        }
    }
}

impl<J> fmt::Debug for CronJob<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronJob")
            .field("name", &self.name)
            .field("schedule", &self.schedule)
            .field("catch_up", &self.catch_up)
            .field("overlap", &self.overlap)
            .finish_non_exhaustive()
    }
}

impl<J: Default + 'static> CronJob<J> {
    /// A recurring job whose ticks each make `J::default()` (the [`Tick`] extractor tells the
    /// handler which tick it runs for).
    pub fn new(name: impl Into<String>, schedule: Schedule) -> Result<Self, ScheduleError> {
        Self::with_job(name, schedule, |_| J::default())
    }
}

impl<J> CronJob<J> {
    /// A recurring job whose ticks each make `make(tick)`: a job that carries its period.
    pub fn with_job(
        name: impl Into<String>,
        schedule: Schedule,
        make: impl Fn(Tick) -> J + Send + Sync + 'static,
    ) -> Result<Self, ScheduleError> {
        let name: String = name.into();
        if name.trim().is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
            return Err(ScheduleError::Name(name));
        }
        Ok(Self {
            name: name.into(),
            schedule,
            make: Arc::new(make),
            catch_up: CatchUp::default(),
            overlap: Overlap::default(),
            options: PushOptions::default(),
        })
    }

    /// What to do with ticks missed while no node ran the schedule (default: skip them).
    pub fn catch_up(mut self, catch_up: CatchUp) -> Self {
        self.catch_up = catch_up;
        self
    }

    /// Whether a tick's job may start while the previous tick's is unfinished (default: it
    /// may). [`Overlap::Skip`] drops such ticks.
    pub fn overlap(mut self, overlap: Overlap) -> Self {
        self.overlap = overlap;
        self
    }

    /// Attempts before a tick's task is dead (default: the storage's default).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.options = self.options.max_attempts(attempts);
        self
    }

    /// The priority of the ticks' tasks, on storages with priorities.
    pub fn priority(mut self, priority: i32) -> Self {
        self.options = self.options.priority(priority);
        self
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The job's schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Push each tick's job into `storage`, exactly once per tick however many nodes run this
    /// pipe (the storage's [`PushTicks`] guarantees it), where ordinary workers run it with
    /// retries, leases and inspection. Run the pipe with a
    /// [`Monitor`](drover_core::Monitor) (`.register(pipe)`) or [`Pipe::run_until`].
    pub fn pipe_to<S: PushTicks<Job = J>>(self, storage: S) -> Pipe<S> {
        Pipe::new(self, storage)
    }
}
