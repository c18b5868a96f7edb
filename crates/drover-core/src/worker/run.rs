//! The worker loop. One `select!` turns what happened (a job ended, a claim returned, a tick)
//! into a [`Happened`] value; one small method per value acts on it. The parts own their state:
//! the [`Claimer`] its claim in flight and prefetch, the [`Completer`] its batches, the
//! heartbeat its interval. Read this first when debugging delivery.

use std::collections::{HashMap, VecDeque};
use std::future::{pending, poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::OptionFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant, Interval};

use super::claimer::Claimer;
use super::completer::Completer;
use super::prefetch::hold;
use super::timing::deadline_in;
use super::{outcome_of, Worker, WorkerConfig};
use crate::backend::{Backend, Wakeup};
use crate::codec::Codec;
use crate::context::{Extensions, TaskContext, WorkerContext};
use crate::error::{BackendError, BoxDynError, Error};
use crate::event::{Event, EventSink};
use crate::panic::PanicError;
use crate::registry::{WorkerRecord, WorkerRegistry, REGISTRY_HEARTBEAT};
use crate::request::{JobService, Request};
use crate::run_context::RunContext;
use crate::task::{ClaimedTask, Completion, Lease, LeaseToken, Outcome, TaskId};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Run `worker` until its shutdown signal and a clean stop, its shutdown timeout, or a failure
/// of its service.
pub(crate) async fn run<B, S>(worker: Worker<B, S>, run: RunContext) -> Result<(), Error>
where
    B: Backend,
    S: JobService<B::Job>,
{
    let mut worker = Loop::new(worker, run);
    let result = match worker.turn().await {
        End::Drained => {
            worker.emit(Event::WorkerStopped { worker: worker.name.clone(), abandoned: 0 });
            Ok(())
        }
        End::OutOfTime => worker.out_of_time().await,
        End::Failed(error) => {
            worker.abandon().await;
            Err(error)
        }
    };
    worker.deregister().await;
    result
}

/// Why the loop ended.
enum End {
    /// Stopping, and nothing is left to run or report.
    Drained,
    /// The shutdown timeout passed with jobs still running.
    OutOfTime,
    /// The service failed.
    Failed(Error),
}

/// What the loop does after an event.
enum Next {
    Turn,
    /// Hand these claims back, then turn.
    HandBack(VecDeque<Waiting>),
    End(End),
}

/// What the loop's `select!` saw.
enum Happened {
    /// The shutdown signal changed (`false`: its sender is gone).
    Shutdown(bool),
    /// Jobs finished; their outcomes are in the done buffer.
    Finished(usize),
    /// A job run on the loop's own task (no spawner) ended.
    LocalJobEnded,
    Claimed(Result<Vec<ClaimedTask>, BackendError>),
    ServiceReady(Result<(), BoxDynError>),
    Acked(Result<(), BackendError>, Vec<Completion>),
    AckRetryDue,
    /// A wake-up came (`false`: the wake-up channel closed).
    Woke(bool),
    IdleOver,
    /// A task claimed ahead waited too long.
    Overdue,
    HeartbeatDue,
    /// Time to refresh the worker's registration.
    RegistrationDue,
    OutOfTime,
}

/// Wait until `at`; never, without one.
async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => pending().await,
    }
}

/// The next wake-up; never, without a channel.
async fn woken(wakeup: &mut Option<Wakeup>) -> bool {
    match wakeup {
        Some(w) => w.changed().await,
        None => pending().await,
    }
}

/// The next tick of `interval`; never, without one.
async fn tick_opt(interval: Option<&mut Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => pending().await,
    }
}

/// The worker's record in its storage's registry, refreshed every `REGISTRY_HEARTBEAT`, one
/// call at a time.
struct Registration {
    registry: Arc<dyn WorkerRegistry>,
    record: WorkerRecord,
    interval: Interval,
    busy: Arc<AtomicBool>,
}

/// A claimed task waiting for a slot, and since when.
struct Waiting {
    task: ClaimedTask,
    since: Instant,
}

/// The running jobs: their leases, the jobs run on the loop's own task, and the channel their
/// outcomes come back on.
struct Slots {
    running: HashMap<TaskId, LeaseToken>,
    local: FuturesUnordered<BoxFuture<()>>,
    done_tx: mpsc::UnboundedSender<(Lease, Outcome)>,
    done_rx: mpsc::UnboundedReceiver<(Lease, Outcome)>,
    done_buf: Vec<(Lease, Outcome)>,
}

/// Lease extensions: an interval, and at most one call in flight.
struct Heartbeat {
    interval: Interval,
    every: Duration,
    busy: Arc<AtomicBool>,
}

struct Loop<B: Backend, S> {
    name: Arc<str>,
    backend: B,
    service: S,
    config: WorkerConfig,
    data: Arc<Extensions>,
    context: WorkerContext,
    events: EventSink,
    shutdown: watch::Receiver<bool>,
    shutdown_open: bool,
    concurrency: usize,
    /// How long a task claimed ahead may wait before it is handed back.
    hold: Duration,
    slots: Slots,
    unstarted: VecDeque<Waiting>,
    claimer: Claimer,
    completer: Completer,
    heartbeat: Heartbeat,
    registration: Option<Registration>,
    stop_deadline: Option<Instant>,
}

impl<B, S> Loop<B, S>
where
    B: Backend,
    S: JobService<B::Job>,
{
    fn new(worker: Worker<B, S>, run: RunContext) -> Self {
        let Worker { name, backend, service, config, data } = worker;
        let context = WorkerContext::new(name.clone(), backend.queue().into());
        run.events.emit(&Event::WorkerStarted { worker: name.clone(), run_id: run.run_id });
        let concurrency = config.concurrency.max(1);
        let claimer = Claimer::new(config.prefetch, concurrency, backend.claim_limit(), backend.wakeup());
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let slots = Slots {
            running: HashMap::with_capacity(concurrency),
            local: FuturesUnordered::new(),
            done_tx,
            done_rx,
            done_buf: Vec::with_capacity(concurrency),
        };
        let heartbeat = Heartbeat::new(&name, &config);
        let registration = backend.worker_registry().map(|registry| {
            let concurrency = u32::try_from(concurrency).unwrap_or(u32::MAX);
            let record = WorkerRecord::new(name.as_ref(), vec![backend.queue().to_owned()], concurrency);
            let mut interval = tokio::time::interval(REGISTRY_HEARTBEAT);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            Registration { registry, record, interval, busy: Arc::new(AtomicBool::new(false)) }
        });
        let stop_deadline = run.shutdown.borrow().then(|| deadline_in(config.shutdown_timeout));
        Self {
            hold: hold(config.lease),
            completer: Completer::new(config.completion_batch, concurrency, config.lease),
            name,
            backend,
            service,
            data,
            context,
            events: run.events,
            shutdown: run.shutdown,
            shutdown_open: true,
            concurrency,
            slots,
            unstarted: VecDeque::new(),
            claimer,
            heartbeat,
            registration,
            stop_deadline,
            config,
        }
    }

    #[inline]
    fn stopping(&self) -> bool {
        self.stop_deadline.is_some()
    }

    #[inline]
    fn emit(&self, event: Event) {
        self.events.emit(&event);
    }

    /// Turn until the loop ends.
    async fn turn(&mut self) -> End {
        loop {
            if let Err(error) = self.start_ready_tasks() {
                return End::Failed(error);
            }
            self.context.set_running(self.slots.running.len());
            self.completer.send(&self.backend);
            self.claim_if_worth_it();
            if self.stopping() && self.drained() {
                return End::Drained;
            }
            let happened = self.next_happening().await;
            match self.on(happened) {
                Next::Turn => {}
                Next::HandBack(tasks) => self.release(tasks).await,
                Next::End(end) => return end,
            }
        }
    }

    /// Wait for the next thing to act on. Each arm only names what happened.
    async fn next_happening(&mut self) -> Happened {
        let stopping = self.stopping();
        let overdue = self.overdue_at();
        let can_start = !stopping && !self.unstarted.is_empty() && self.slots.running.len() < self.concurrency;
        let listens = self.claimer.listens();
        // Guards keep disabled arms from being polled at all.
        let (claiming, acking) = (self.claimer.in_flight.is_some(), self.completer.in_flight.is_some());
        let ack_retry = self.completer.retry_at.is_some() && !acking;
        let idle = self.claimer.idle_until.is_some();
        tokio::select! {
            changed = self.shutdown.changed(), if self.shutdown_open && !stopping => Happened::Shutdown(changed.is_ok()),
            n = self.slots.done_rx.recv_many(&mut self.slots.done_buf, 1024) => Happened::Finished(n),
            Some(()) = self.slots.local.next(), if !self.slots.local.is_empty() => Happened::LocalJobEnded,
            Some(claimed) = OptionFuture::from(self.claimer.in_flight.as_mut()), if claiming => Happened::Claimed(claimed),
            ready = poll_fn(|cx| self.service.poll_ready(cx)), if can_start => Happened::ServiceReady(ready.map_err(Into::into)),
            Some((result, batch)) = OptionFuture::from(self.completer.in_flight.as_mut()), if acking => Happened::Acked(result, batch),
            () = sleep_opt(self.completer.retry_at), if ack_retry => Happened::AckRetryDue,
            woke = woken(&mut self.claimer.wakeup), if listens => Happened::Woke(woke),
            () = sleep_opt(self.claimer.idle_until), if idle => Happened::IdleOver,
            () = sleep_opt(overdue), if overdue.is_some() => Happened::Overdue,
            _ = self.heartbeat.interval.tick() => Happened::HeartbeatDue,
            () = tick_opt(self.registration.as_mut().map(|r| &mut r.interval)), if self.registration.is_some() => Happened::RegistrationDue,
            () = sleep_opt(self.stop_deadline), if stopping => Happened::OutOfTime,
        }
    }

    /// Act on what happened. Every handler is synchronous; the one thing that waits, handing
    /// claims back, is returned for the loop to do.
    fn on(&mut self, happened: Happened) -> Next {
        match happened {
            Happened::Shutdown(open) => return self.on_shutdown(open),
            Happened::Finished(n) => self.on_finished(n),
            Happened::LocalJobEnded => {}
            Happened::Claimed(result) => return self.on_claimed(result),
            Happened::ServiceReady(Ok(())) => self.start_next(),
            Happened::ServiceReady(Err(e)) => return Next::End(End::Failed(Error::ServiceFailed(e))),
            Happened::Acked(result, batch) => self.on_acked(result, batch),
            Happened::AckRetryDue => self.completer.retry_due(),
            Happened::Woke(open) => self.claimer.idle_over(open),
            Happened::IdleOver => self.claimer.idle_over(true),
            Happened::Overdue => return self.on_overdue(),
            Happened::HeartbeatDue => self.on_heartbeat(),
            Happened::RegistrationDue => self.on_registration_due(),
            Happened::OutOfTime => return Next::End(End::OutOfTime),
        }
        Next::Turn
    }

    /// Start as many unstarted tasks as the service accepts right now.
    #[inline]
    fn start_ready_tasks(&mut self) -> Result<(), Error> {
        while !self.stopping() && !self.unstarted.is_empty() && self.slots.running.len() < self.concurrency {
            match poll_fn(|cx| self.service.poll_ready(cx)).now_or_never() {
                None => break,
                Some(Err(e)) => return Err(Error::ServiceFailed(e.into())),
                Some(Ok(())) => self.start_next(),
            }
        }
        Ok(())
    }

    /// Claim up to the free capacity, when that is worth a round trip. Tasks claimed ahead wait
    /// in `unstarted` (held by heartbeats, handed back on shutdown), so the next jobs are at
    /// hand while the following claim is in flight. Nothing is claimed while outcomes pile up
    /// unsent ([`Completer::backlogged`]).
    #[inline]
    fn claim_if_worth_it(&mut self) {
        if self.stopping() || self.completer.backlogged() {
            return;
        }
        if let Some(n) = self.claimer.wanted(self.slots.running.len(), self.unstarted.len()) {
            self.claimer.send(&self.backend, &self.name, n, self.config.lease);
        }
    }

    /// Stopping, and nothing is left to run, claim or report.
    #[inline]
    fn drained(&self) -> bool {
        self.slots.running.is_empty()
            && self.claimer.in_flight.is_none()
            && self.unstarted.is_empty()
            && self.completer.is_idle()
    }

    /// When the first task claimed ahead (beyond the free slots) has waited longer than the
    /// hold, if there is one.
    #[inline]
    fn overdue_at(&self) -> Option<Instant> {
        let free = self.concurrency.saturating_sub(self.slots.running.len());
        if !self.claimer.adaptive || self.stopping() || self.unstarted.len() <= free {
            return None;
        }
        self.unstarted.get(free).map(|w| w.since + self.hold)
    }

    /// The shutdown signal: stop claiming and hand back what never started.
    fn on_shutdown(&mut self, open: bool) -> Next {
        if open && !*self.shutdown.borrow() {
            return Next::Turn;
        }
        self.shutdown_open = open;
        self.stop_deadline = Some(deadline_in(self.config.shutdown_timeout));
        self.context.set_stopping();
        self.emit(Event::WorkerStopping { worker: self.name.clone(), running: self.slots.running.len() });
        Next::HandBack(std::mem::take(&mut self.unstarted))
    }

    #[inline]
    fn on_finished(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        for (lease, outcome) in self.slots.done_buf.drain(..) {
            self.slots.running.remove(&lease.id);
            let failed = match &outcome {
                Outcome::Done => None,
                Outcome::Retry { error, delay } => Some((error, Some(*delay))),
                Outcome::Dead { error } => Some((error, None)),
            };
            if let Some((error, retry_in)) = failed {
                let (worker, error) = (self.name.clone(), error.clone());
                self.events.emit(&Event::TaskFailed { worker, task_id: lease.id, error, retry_in });
            }
            self.completer.push(Completion { lease, outcome });
        }
        if self.unstarted.is_empty() {
            self.claimer.slots_idled(n);
        }
    }

    /// A claim returned; claims that arrive while stopping go straight back.
    fn on_claimed(&mut self, result: Result<Vec<ClaimedTask>, BackendError>) -> Next {
        let now = Instant::now();
        match self.claimer.returned(result, now, self.config.poll_interval) {
            Ok(tasks) => {
                self.unstarted.extend(tasks.into_iter().map(|task| Waiting { task, since: now }));
                if self.stopping() {
                    return Next::HandBack(std::mem::take(&mut self.unstarted));
                }
            }
            Err((error, retry_in)) => self.backend_error("claim", error, Some(retry_in)),
        }
        Next::Turn
    }

    fn on_acked(&mut self, result: Result<(), BackendError>, batch: Vec<Completion>) {
        if let Some((error, retry_in)) = self.completer.returned(result, batch, Instant::now()) {
            self.backend_error("complete", error, Some(retry_in));
        }
    }

    /// Claimed ahead and still waiting: the pace changed. Hand the tasks beyond the free slots
    /// back so other workers can take them.
    fn on_overdue(&mut self) -> Next {
        let free = self.concurrency.saturating_sub(self.slots.running.len());
        let excess = self.unstarted.split_off(free.min(self.unstarted.len()));
        self.claimer.handed_back();
        Next::HandBack(excess)
    }

    /// Extend the leases of running and waiting tasks (waiting ones may be held back by a rate
    /// limit), one call at a time: a slow backend must not pile them up.
    fn on_heartbeat(&mut self) {
        if self.slots.running.is_empty() && self.unstarted.is_empty() {
            return;
        }
        if self.heartbeat.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        let leases: Vec<Lease> = self
            .slots
            .running
            .iter()
            .map(|(id, token)| Lease { id: *id, token: *token })
            .chain(self.unstarted.iter().map(|w| w.task.lease()))
            .collect();
        let (backend, lease, events, worker) =
            (self.backend.clone(), self.config.lease, self.events.clone(), self.name.clone());
        let (busy, retry_in) = (self.heartbeat.busy.clone(), self.heartbeat.every);
        tokio::spawn(async move {
            if let Err(error) = backend.extend_leases(leases, lease).await {
                let (error, retry_in) = (Arc::new(error), Some(retry_in));
                events.emit(&Event::BackendError { worker, operation: "extend leases", error, retry_in });
            }
            busy.store(false, Ordering::Release);
        });
    }

    /// Register the worker, or refresh its record with the tasks running now; in the
    /// background, one call at a time (a slow storage delays the record, never the loop).
    fn on_registration_due(&mut self) {
        let running = u32::try_from(self.slots.running.len()).unwrap_or(u32::MAX);
        let Some(registration) = self.registration.as_mut() else { return };
        if registration.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        registration.record.running = running;
        let (registry, record) = (registration.registry.clone(), registration.record.clone());
        let (busy, events, worker) = (registration.busy.clone(), self.events.clone(), self.name.clone());
        tokio::spawn(async move {
            if let Err(error) = registry.beat(&record).await {
                let (error, retry_in) = (Arc::new(error), Some(REGISTRY_HEARTBEAT));
                events.emit(&Event::BackendError { worker, operation: "register worker", error, retry_in });
            }
            busy.store(false, Ordering::Release);
        });
    }

    /// The loop ended: remove the worker's record, so it leaves listings at once rather than
    /// after the age-out.
    async fn deregister(&mut self) {
        let Some(registration) = self.registration.take() else { return };
        // A refresh still in flight would otherwise put the record back after its removal.
        for _ in 0..100 {
            if !registration.busy.load(Ordering::Acquire) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Err(error) = registration.registry.leave(&registration.record.id).await {
            self.backend_error("deregister worker", error, None);
        }
    }

    /// Start the first unstarted task (the service said it is ready).
    #[inline]
    fn start_next(&mut self) {
        if let Some(Waiting { task, .. }) = self.unstarted.pop_front() {
            self.claimer.job_started();
            self.dispatch(task);
        }
    }

    /// The shutdown timeout passed: report what finished, leave the rest to their leases.
    async fn out_of_time(&mut self) -> Result<(), Error> {
        if let Err(error) = self.completer.flush_all(&self.backend).await {
            self.backend_error("complete", error, None);
        }
        let left = self.slots.running.len();
        self.emit(Event::WorkerStopped { worker: self.name.clone(), abandoned: left });
        if left == 0 {
            Ok(())
        } else {
            Err(Error::ShutdownTimeout { timeout: self.config.shutdown_timeout, running: left })
        }
    }

    /// The run is ending early: hand back what never started and record what finished, so only
    /// the tasks still running wait for their leases.
    async fn abandon(&mut self) {
        self.release_unstarted().await;
        if let Some(claim) = self.claimer.in_flight.take() {
            if let Ok(tasks) = claim.await {
                let now = Instant::now();
                self.unstarted.extend(tasks.into_iter().map(|task| Waiting { task, since: now }));
                self.release_unstarted().await;
            }
        }
        let _ = self.completer.flush_all(&self.backend).await;
    }

    async fn release_unstarted(&mut self) {
        let all = std::mem::take(&mut self.unstarted);
        self.release(all).await;
    }

    /// Hand back claimed tasks that never started.
    async fn release(&mut self, tasks: VecDeque<Waiting>) {
        if tasks.is_empty() {
            return;
        }
        let leases: Vec<Lease> = tasks.into_iter().map(|w| w.task.lease()).collect();
        if let Err(error) = self.backend.release(leases).await {
            self.backend_error("release", error, None);
        }
    }

    fn backend_error(&self, operation: &'static str, error: BackendError, retry_in: Option<Duration>) {
        let (worker, error) = (self.name.clone(), Arc::new(error));
        self.emit(Event::BackendError { worker, operation, error, retry_in });
    }

    /// Decode a claimed task and start it; an undecodable payload is recorded as dead at once.
    #[inline]
    fn dispatch(&mut self, task: ClaimedTask) {
        let lease = task.lease();
        let job = match B::Codec::decode(&task.payload) {
            Ok(job) => job,
            Err(error) => return self.undecodable(lease, error.to_string()),
        };
        let ctx = TaskContext {
            id: task.id,
            attempt: task.attempt,
            max_attempts: task.max_attempts,
            enqueued_at: task.enqueued_at.unwrap_or_else(|| task.id.created_at()),
            run_at: task.run_at,
            data: self.data.clone(),
            worker: self.context.clone(),
        };
        let call = std::panic::catch_unwind(AssertUnwindSafe(|| self.service.call(Request { job, ctx })));
        let (attempt, max_attempts, backoff) = (task.attempt, task.max_attempts, self.config.backoff);
        let tx = self.slots.done_tx.clone();
        let job_future = async move {
            let result: Result<(), BoxDynError> = match call {
                Ok(fut) => match AssertUnwindSafe(fut).catch_unwind().await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.into()),
                    Err(payload) => Err(Box::new(PanicError::from_payload(payload))),
                },
                Err(payload) => Err(Box::new(PanicError::from_payload(payload))),
            };
            let outcome = outcome_of(result, attempt, max_attempts, &backoff);
            // The receiver is gone only when the worker loop ended; the lease then decides.
            let _ = tx.send((lease, outcome));
        };
        self.slots.running.insert(lease.id, lease.token);
        match self.config.spawner.as_ref() {
            Some(spawn) => spawn(Box::pin(job_future)),
            None => self.slots.local.push(Box::pin(job_future)),
        }
    }

    /// A payload the codec cannot read: dead at once, with an error that says why.
    fn undecodable(&mut self, lease: Lease, error: String) {
        let error = format!(
            "{error}. Queue `{}` is read as `{}` jobs by worker `{}`: a task pushed into this queue as another \
             job type, or by another program in another form, cannot run here. Give each job type its own queue \
             (the default: each storage's queue is named after its job type) and push only that type into it.",
            self.context.queue(),
            std::any::type_name::<B::Job>(),
            self.name
        );
        self.emit(Event::TaskFailed {
            worker: self.name.clone(),
            task_id: lease.id,
            error: error.clone(),
            retry_in: None,
        });
        self.completer.push(Completion { lease, outcome: Outcome::Dead { error } });
    }
}

impl Heartbeat {
    /// A heartbeat at or beyond the lease would let live claims expire; keep it well inside.
    fn new(worker: &str, config: &WorkerConfig) -> Self {
        let every = config.effective_heartbeat();
        if every != config.heartbeat {
            tracing::warn!(worker, heartbeat = ?config.heartbeat, lease = ?config.lease,
                "heartbeat must be shorter than the lease; using a third of the lease");
        }
        let mut interval = tokio::time::interval(every.max(Duration::from_millis(10)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self { interval, every, busy: Arc::new(AtomicBool::new(false)) }
    }
}
