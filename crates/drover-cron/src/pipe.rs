//! A recurring job piped into a storage: the loop that turns ticks into tasks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_core::{
    Backend, BackendError, Codec, Error, Event, EventSink, IntoWorkerFactory, NewTask, PushTicks, RunContext,
    RunnableWorker, TaskId, TickPush, TickPushed, WorkerFactory,
};

use crate::job::CronJob;
use crate::tick::{tick_id, Tick};

/// The first wait after a failed storage call; it doubles up to [`MAX_ERROR_BACKOFF`].
const FIRST_ERROR_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between tries while the storage fails.
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(30);

/// A [`CronJob`] piped into a storage (made by [`CronJob::pipe_to`]). Run it on every node
/// that should keep the schedule going, with [`Pipe::run_until`] or by registering it with a
/// [`Monitor`](drover_core::Monitor): each tick is pushed once in all, by whichever node gets
/// there first, and a node that dies takes nothing with it (the others push the next ticks).
///
/// ```
/// use drover_core::{BoxDynError, MemoryStorage, Monitor, WorkerBuilder};
/// use drover_cron::{CronJob, Schedule, Tick};
/// use std::time::Duration;
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Heartbeat;
///
/// async fn beat(_job: Heartbeat, tick: Tick) -> Result<(), BoxDynError> {
///     println!("tick of {}", tick.at());
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxDynError> {
/// let storage = MemoryStorage::<Heartbeat>::new();
/// let pipe = CronJob::<Heartbeat>::new("heartbeat", Schedule::every(Duration::from_secs(1))?)?
///     .pipe_to(storage.clone());
/// Monitor::new()
///     .register(pipe)
///     .register(WorkerBuilder::new("heartbeats").backend(storage).build_fn(beat))
///     .run_with_signal(tokio::time::sleep(Duration::from_millis(50)))
///     .await?;
/// # Ok(())
/// # }
/// ```
pub struct Pipe<S: Backend> {
    job: CronJob<S::Job>,
    storage: S,
    worker: Arc<str>,
}

impl<S: Backend> Clone for Pipe<S> {
    fn clone(&self) -> Self {
        Self { job: self.job.clone(), storage: self.storage.clone(), worker: self.worker.clone() }
    }
}

impl<S: Backend> std::fmt::Debug for Pipe<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipe").field("job", &self.job).field("queue", &self.storage.queue()).finish()
    }
}

/// A schedule's state, for listings (the board, the command line): what it is, when it last
/// pushed a tick and when the next one comes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScheduleInfo {
    /// The job's name.
    pub name: String,
    /// The queue its tasks go to.
    pub queue: String,
    /// The schedule, as written (`0 2 * * * (America/New_York)`, `every 60000 ms`).
    pub schedule: String,
    /// The newest tick pushed (or skipped for overlap) by any node, from the storage.
    pub last_tick: Option<DateTime<Utc>>,
    /// The task of the newest pushed tick.
    pub last_task: Option<TaskId>,
    /// The next tick after now; `None` when the schedule has no more.
    pub next_tick: Option<DateTime<Utc>>,
}

impl<S> Pipe<S>
where
    S: PushTicks,
{
    pub(crate) fn new(job: CronJob<S::Job>, storage: S) -> Self {
        let worker = format!("cron:{}", job.name).into();
        Self { job, storage, worker }
    }

    /// The recurring job.
    pub fn job(&self) -> &CronJob<S::Job> {
        &self.job
    }

    /// The storage the ticks go to.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Push the ticks due at `now`, oldest first, given the schedule's stored last tick and
    /// the catch-up policy; returns each tick with what became of it. The loop calls this at
    /// each tick; call it yourself to drive a schedule on a clock of your own (tests).
    pub async fn step(&self, now: DateTime<Utc>) -> Result<Vec<(DateTime<Utc>, TickPushed)>, BackendError> {
        let record = self.storage.tick_record(&self.job.name).await?;
        let due = self.job.schedule.due(record.map(|r| r.last_tick), now, self.job.catch_up);
        let mut results = Vec::with_capacity(due.len());
        for tick in due {
            let job = (self.job.make)(Tick::at_time(tick));
            let mut task = NewTask::new(S::Codec::encode(&job)?, self.job.options.clone());
            task.id = tick_id(self.storage.queue(), &self.job.name, tick).ok_or_else(|| {
                BackendError::Unsupported(format!(
                    "schedule `{}` has a tick outside 1970..10889: {tick}",
                    self.job.name
                ))
            })?;
            let push = TickPush::new(self.job.name.as_ref(), tick, task).overlap(self.job.overlap);
            let pushed = self.storage.push_tick(push).await?;
            match pushed {
                TickPushed::Pushed(id) => {
                    tracing::debug!(schedule = %self.job.name, %tick, task = %id, "pushed a tick")
                }
                TickPushed::Overlapped(id) => tracing::info!(
                    schedule = %self.job.name, %tick, running = %id,
                    "skipped a tick: the previous tick's task is unfinished (Overlap::Skip)"
                ),
                _ => {}
            }
            results.push((tick, pushed));
        }
        Ok(results)
    }

    /// The schedule's state at `now`: its last tick from the storage and its next one.
    pub async fn info_at(&self, now: DateTime<Utc>) -> Result<ScheduleInfo, BackendError> {
        let record = self.storage.tick_record(&self.job.name).await?;
        Ok(ScheduleInfo {
            name: self.job.name.to_string(),
            queue: self.storage.queue().to_owned(),
            schedule: self.job.schedule.to_string(),
            last_tick: record.as_ref().map(|r| r.last_tick),
            last_task: record.and_then(|r| r.last_task),
            next_tick: self.job.schedule.next_after(now),
        })
    }

    /// The schedule's state now.
    pub async fn info(&self) -> Result<ScheduleInfo, BackendError> {
        self.info_at(Utc::now()).await
    }

    /// Push ticks as they come until `signal` completes. Storage errors are reported as
    /// [`Event::BackendError`] (to `tracing`) and retried with backoff; nothing is lost while
    /// the storage is down beyond what the catch-up policy drops.
    pub async fn run_until<F: Future + Send>(self, signal: F) -> Result<(), Error> {
        self.drive(EventSink::tracing(), signal).await
    }

    async fn drive<F: Future>(self, events: EventSink, stop: F) -> Result<(), Error> {
        tokio::pin!(stop);
        events.emit(&Event::WorkerStarted { worker: self.worker.clone(), run_id: 0 });
        let mut backoff = FIRST_ERROR_BACKOFF;
        loop {
            let now = Utc::now();
            let wait = match self.step(now).await {
                Ok(_) => {
                    backoff = FIRST_ERROR_BACKOFF;
                    match self.job.schedule.next_after(now) {
                        Some(next) => (next - Utc::now()).to_std().unwrap_or(Duration::ZERO),
                        None => {
                            tracing::info!(schedule = %self.job.name, "the schedule has no more ticks");
                            stop.await;
                            break;
                        }
                    }
                }
                Err(error) => {
                    let retry_in = backoff;
                    backoff = (backoff * 2).min(MAX_ERROR_BACKOFF);
                    events.emit(&Event::BackendError {
                        worker: self.worker.clone(),
                        operation: "push a schedule's tick",
                        error: Arc::new(error),
                        retry_in: Some(retry_in),
                    });
                    retry_in
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut stop => break,
            }
        }
        events.emit(&Event::WorkerStopped { worker: self.worker.clone(), abandoned: 0 });
        Ok(())
    }
}

impl<S> RunnableWorker for Pipe<S>
where
    S: PushTicks,
{
    fn name(&self) -> &str {
        &self.worker
    }

    /// A pipe has no tasks of its own to wait for: it stops at once.
    fn set_shutdown_timeout(&mut self, _timeout: Duration) {}

    fn run(self: Box<Self>, run: RunContext) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> {
        Box::pin(async move {
            let events = run.events().clone();
            self.drive(events, run.shutdown_requested()).await
        })
    }
}

/// Marks [`IntoWorkerFactory`] for a [`Pipe`].
#[derive(Debug)]
pub enum PipeMarker {}

impl<S> IntoWorkerFactory<PipeMarker> for Pipe<S>
where
    S: PushTicks,
{
    fn into_factory(self) -> (String, WorkerFactory) {
        (self.worker.to_string(), Box::new(move |_| Box::new(self.clone())))
    }
}
