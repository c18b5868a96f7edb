//! The worker loop: claim up to free capacity, run, coalesce completions, heartbeat, shut down.

use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

use super::prefetch::{hold, Prefetch, PrefetchState};
use super::{outcome_of, Worker, WorkerContext};
use crate::backend::{Backend, ClaimRequest};
use crate::codec::Codec;
use crate::error::{BackendError, BoxDynError, Error};
use crate::layers::catch_panic::PanicError;
use crate::monitor::{Event, EventSink};
use crate::request::{Request, TaskContext};
use crate::task::{ClaimedTask, Completion, Lease, LeaseToken, Outcome, TaskId};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A completion call in flight; it gives its batch back so a failed call can be retried.
type AckFuture = BoxFuture<(Result<(), BackendError>, Vec<Completion>)>;

/// What the monitor hands a worker run: the shutdown signal, where events go, the run number.
#[doc(hidden)]
#[derive(Debug)]
pub struct RunContext {
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) events: EventSink,
    pub(crate) run_id: usize,
}

/// Now plus `d`, saturating far in the future instead of overflowing.
fn deadline_in(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// Backoff after a failed backend call: 100 ms doubling to 30 s.
fn error_backoff(consecutive: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << consecutive.min(9))).min(Duration::from_secs(30))
}

pub(crate) async fn run<B, S>(worker: Worker<B, S>, mut run: RunContext) -> Result<(), Error>
where
    B: Backend,
    S: tower::Service<Request<B::Job>> + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxDynError> + Send + 'static,
{
    let Worker { name, backend, mut service, config, data } = worker;
    let context = WorkerContext::new(name.clone(), backend.queue().into());
    let events = run.events.clone();
    events.emit(&Event::WorkerStarted { worker: name.clone(), run_id: run.run_id });

    let concurrency = config.concurrency.max(1);
    let mut prefetch = PrefetchState::new(config.prefetch);
    let claim_limit = backend.claim_limit().max(1);
    let adaptive = matches!(config.prefetch, Prefetch::Adaptive { .. });
    let hold = hold(config.lease);
    // Jobs started so far, and the slots that fell idle while a claim was in flight with no
    // task at hand for them: what the adaptive prefetch measures. The worker starved when at
    // least `starved_at` slots (a quarter, as for claiming) fell idle, not when one job
    // happened to end during a short claim.
    let mut started: u64 = 0;
    let mut idle_slots = 0usize;
    let mut starved_at = 1usize;
    let mut wakeup = backend.wakeup();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Lease, Outcome)>();
    let mut done_buf: Vec<(Lease, Outcome)> = Vec::with_capacity(concurrency);
    let mut local: FuturesUnordered<BoxFuture<()>> = FuturesUnordered::new();
    let mut running: HashMap<TaskId, LeaseToken> = HashMap::with_capacity(concurrency);
    let mut unstarted: VecDeque<Waiting> = VecDeque::new();
    let mut acks: Vec<Completion> = Vec::new();
    let mut claim_fut: Option<BoxFuture<Result<Vec<ClaimedTask>, BackendError>>> = None;
    let mut claim_asked = 0usize;
    let mut ack_fut: Option<AckFuture> = None;
    let mut idle_until: Option<Instant> = None;
    let mut ack_retry_at: Option<Instant> = None;
    let mut claim_errors = 0u32;
    let mut ack_errors = 0u32;
    let mut stop_deadline: Option<Instant> = None;
    // A heartbeat at or beyond the lease would let live claims expire; keep it well inside.
    let heartbeat_every = if config.heartbeat.is_zero() || config.heartbeat >= config.lease {
        tracing::warn!(worker = %name, heartbeat = ?config.heartbeat, lease = ?config.lease, "heartbeat must be shorter than the lease; using a third of the lease");
        config.lease / 3
    } else {
        config.heartbeat
    };
    let heartbeat_busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut heartbeat = tokio::time::interval(heartbeat_every.max(Duration::from_millis(10)));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown_open = true;
    if *run.shutdown.borrow() {
        stop_deadline = Some(deadline_in(config.shutdown_timeout));
    }

    let failure: Result<(), Error> = 'run: loop {
        let stopping = stop_deadline.is_some();

        // Start as many unstarted tasks as the service accepts right now.
        while !stopping && !unstarted.is_empty() && running.len() < concurrency {
            match poll_fn(|cx| service.poll_ready(cx)).now_or_never() {
                None => break,
                Some(Err(e)) => {
                    let e: BoxDynError = e.into();
                    break 'run Err(service_failed(e));
                }
                Some(Ok(())) => {
                    if let Some(Waiting { task, .. }) = unstarted.pop_front() {
                        started += 1;
                        dispatch::<B, S>(
                            task,
                            &mut service,
                            &context,
                            &data,
                            &config.backoff,
                            &done_tx,
                            config.spawner.as_ref(),
                            &mut local,
                            &mut running,
                            &mut acks,
                            &events,
                        );
                    }
                }
            }
        }
        context.set_running(running.len());

        // Flush completions, one batch call at a time; more pile up while it is in flight.
        if ack_fut.is_none() && !acks.is_empty() && ack_retry_at.is_none_or(|at| at <= Instant::now()) {
            ack_retry_at = None;
            let take = acks.len().min(config.completion_batch.max(1));
            let batch: Vec<Completion> = acks.drain(..take).collect();
            let b = backend.clone();
            ack_fut = Some(Box::pin(async move {
                let result = b.complete(batch.clone()).await;
                (result, batch)
            }));
        }

        // Claim up to free capacity when not idle and no claim is in flight. While jobs run,
        // wait until a quarter of the slots are free, so claims come in batches rather than
        // one round trip per finished job.
        // Prefetched tasks wait in `unstarted` (leases held by heartbeats, handed back on
        // shutdown), so the next jobs are at hand while the following claim is in flight.
        let ahead = prefetch.ahead();
        let free = (concurrency + ahead).saturating_sub(running.len() + unstarted.len()).min(claim_limit);
        let claim_batch_floor = ((concurrency + ahead) / 4).max(1);
        let worth_claiming = free > 0 && (free >= claim_batch_floor || running.is_empty());
        if !stopping && claim_fut.is_none() && idle_until.is_none() && worth_claiming {
            if let Some(w) = wakeup.as_mut() {
                w.mark_seen();
            }
            prefetch.claim_sent(Instant::now());
            idle_slots = 0;
            starved_at = claim_batch_floor;
            let b = backend.clone();
            let request = ClaimRequest::new(name.clone(), free, config.lease);
            claim_asked = free;
            claim_fut = Some(Box::pin(async move { b.claim(request).await }));
        }

        if stopping
            && running.is_empty()
            && claim_fut.is_none()
            && unstarted.is_empty()
            && acks.is_empty()
            && ack_fut.is_none()
        {
            break 'run Ok(());
        }

        // The first task claimed ahead (beyond the free slots) that waited longer than `hold`.
        let overdue = if adaptive && !stopping && unstarted.len() > concurrency.saturating_sub(running.len()) {
            unstarted.get(concurrency.saturating_sub(running.len())).map(|w| w.since + hold)
        } else {
            None
        };

        tokio::select! {
                    changed = run.shutdown.changed(), if shutdown_open && !stopping => {
                        if changed.is_err() || *run.shutdown.borrow() {
                            shutdown_open = changed.is_ok();
                            stop_deadline = Some(deadline_in(config.shutdown_timeout));
                            context.set_stopping();
                            events.emit(&Event::WorkerStopping { worker: name.clone(), running: running.len() });
                            release(&backend, &mut unstarted, &events, &name).await;
                        }
                    }
                    n = done_rx.recv_many(&mut done_buf, 1024) => {
                        if n > 0 {
                            for (lease, outcome) in done_buf.drain(..) {
                                running.remove(&lease.id);
                                if let Outcome::Retry { error, .. } | Outcome::Dead { error } = &outcome {
                                    events.emit(&Event::TaskFailed {
                                        worker: name.clone(),
                                        task_id: lease.id,
                                        error: error.clone(),
                                        dead: matches!(outcome, Outcome::Dead { .. }),
                                    });
                                }
                                acks.push(Completion { lease, outcome });
                            }
                            if claim_fut.is_some() && unstarted.is_empty() {
                                idle_slots += n;
                            }
                        }
                    }
                    Some(()) = local.next(), if !local.is_empty() => {}
                    claimed = async { match claim_fut.as_mut() { Some(f) => f.await, None => std::future::pending().await } }, if claim_fut.is_some() => {
                        claim_fut = None;
                        match claimed {
                            Ok(tasks) => {
                                claim_errors = 0;
                                let now = Instant::now();
                                prefetch.claim_returned(now, started, claim_asked, tasks.len(), idle_slots >= starved_at);
                                if tasks.len() < claim_asked {
                                    idle_until = Some(deadline_in(config.poll_interval));
                                }
                                unstarted.extend(tasks.into_iter().map(|task| Waiting { task, since: now }));
                                if stop_deadline.is_some() {
                                    release(&backend, &mut unstarted, &events, &name).await;
                                }
                            }
                            Err(error) => {
                                claim_errors = claim_errors.saturating_add(1);
                                let retry_in = error_backoff(claim_errors);
                                events.emit(&Event::BackendError { worker: name.clone(), operation: "claim", error: error.to_string(), retry_in });
                                idle_until = Some(deadline_in(retry_in));
                            }
                        }
                    }
                    ready = poll_fn(|cx| service.poll_ready(cx)), if !stopping && !unstarted.is_empty() && running.len() < concurrency => {
                        match ready {
                            Ok(()) => {
                                if let Some(Waiting { task, .. }) = unstarted.pop_front() {
                                    started += 1;
                                    dispatch::<B, S>(
                                        task, &mut service, &context, &data, &config.backoff, &done_tx,
                                        config.spawner.as_ref(), &mut local, &mut running, &mut acks, &events,
                                    );
                                }
                            }
                            Err(e) => {
                                let e: BoxDynError = e.into();
                                break 'run Err(service_failed(e));
                            }
                        }
                    }
                    acked = async { match ack_fut.as_mut() { Some(f) => f.await, None => std::future::pending().await } }, if ack_fut.is_some() => {
                        ack_fut = None;
                        let (result, batch) = acked;
                        match result {
                            Ok(()) => ack_errors = 0,
                            Err(error) => {
                                ack_errors = ack_errors.saturating_add(1);
                                let retry_in = error_backoff(ack_errors);
                                events.emit(&Event::BackendError { worker: name.clone(), operation: "complete", error: error.to_string(), retry_in });
                                // Keep the batch, in front of newer completions, and try again later.
                                acks.splice(0..0, batch);
                                ack_retry_at = Some(deadline_in(retry_in));
                            }
                        }
                    }
                    _ = async { match ack_retry_at { Some(at) => sleep_until(at).await, None => std::future::pending().await } }, if ack_retry_at.is_some() && ack_fut.is_none() => {
                        ack_retry_at = None;
                    }
                    woke = async { match wakeup.as_mut() { Some(w) => w.changed().await, None => std::future::pending().await } }, if idle_until.is_some() && wakeup.is_some() && claim_errors == 0 => {
                        if !woke {
                            wakeup = None;
                        }
                        idle_until = None;
                    }
                    _ = async { match idle_until { Some(at) => sleep_until(at).await, None => std::future::pending().await } }, if idle_until.is_some() => {
                        idle_until = None;
                    }
                    _ = async { match overdue { Some(at) => sleep_until(at).await, None => std::future::pending().await } }, if overdue.is_some() => {
                        // Claimed ahead and still waiting: the pace changed. Hand the tasks
                        // beyond the free slots back so other workers can take them.
                        let slots = concurrency.saturating_sub(running.len());
                        let mut excess = unstarted.split_off(slots.min(unstarted.len()));
                        release(&backend, &mut excess, &events, &name).await;
                        prefetch.handed_back();
                    }
                    _ = heartbeat.tick() => {
                        // One extension call at a time: a slow backend must not pile them up.
                        if (!running.is_empty() || !unstarted.is_empty()) && !heartbeat_busy.swap(true, std::sync::atomic::Ordering::AcqRel) {
                            // Claimed tasks waiting for the service (a rate limit) are held too.
                            let leases: Vec<Lease> = running
                                .iter()
                                .map(|(id, token)| Lease { id: *id, token: *token })
                                .chain(unstarted.iter().map(|w| w.task.lease()))
                                .collect();
                            let b = backend.clone();
                            let lease = config.lease;
                            let events = events.clone();
        let name = name.clone();
                            let busy = heartbeat_busy.clone();
                            tokio::spawn(async move {
                                if let Err(error) = b.extend_leases(leases, lease).await {
                                    events.emit(&Event::BackendError {
                                        worker: name,
                                        operation: "extend leases",
                                        error: error.to_string(),
                                        retry_in: heartbeat_every,
                                    });
                                }
                                busy.store(false, std::sync::atomic::Ordering::Release);
                            });
                        }
                    }
                    _ = async { match stop_deadline { Some(at) => sleep_until(at).await, None => std::future::pending().await } }, if stop_deadline.is_some() => {
                        // Out of time: flush what finished, leave the rest to their leases.
                        if let Some(f) = ack_fut.take() {
                            let (result, batch) = f.await;
                            if result.is_err() {
                                acks.splice(0..0, batch);
                            }
                        }
                        if !acks.is_empty() {
                            if let Err(error) = backend.complete(std::mem::take(&mut acks)).await {
                                events.emit(&Event::BackendError { worker: name.clone(), operation: "complete", error: error.to_string(), retry_in: Duration::ZERO });
                            }
                        }
                        let left = running.len();
                        events.emit(&Event::WorkerStopped { worker: name.clone(), abandoned: left });
                        return if left == 0 {
                            Ok(())
                        } else {
                            Err(Error::ShutdownTimeout { timeout: config.shutdown_timeout, running: left })
                        };
                    }
                }
    };
    if failure.is_err() {
        // The run is ending early: hand back what never started and record what finished, so
        // only the tasks still running wait for their leases.
        release(&backend, &mut unstarted, &events, &name).await;
        if let Some(f) = claim_fut.take() {
            if let Ok(tasks) = f.await {
                unstarted.extend(tasks.into_iter().map(|task| Waiting { task, since: Instant::now() }));
                release(&backend, &mut unstarted, &events, &name).await;
            }
        }
        if let Some(f) = ack_fut.take() {
            let (result, batch) = f.await;
            if result.is_err() {
                acks.splice(0..0, batch);
            }
        }
        if !acks.is_empty() {
            let _ = backend.complete(std::mem::take(&mut acks)).await;
        }
        return failure;
    }
    events.emit(&Event::WorkerStopped { worker: name.clone(), abandoned: 0 });
    Ok(())
}

fn service_failed(e: BoxDynError) -> Error {
    Error::Config(format!("the job service failed and cannot take more jobs: {e}"))
}

/// A claimed task waiting for a slot, and since when.
struct Waiting {
    task: ClaimedTask,
    since: Instant,
}

/// Hand back claimed tasks that never started.
async fn release<B: Backend>(backend: &B, unstarted: &mut VecDeque<Waiting>, events: &EventSink, name: &Arc<str>) {
    if unstarted.is_empty() {
        return;
    }
    let leases: Vec<Lease> = unstarted.drain(..).map(|w| w.task.lease()).collect();
    if let Err(error) = backend.release(leases).await {
        events.emit(&Event::BackendError {
            worker: name.clone(),
            operation: "release",
            error: format!("{error}; the tasks will be claimable again when their leases expire"),
            retry_in: Duration::ZERO,
        });
    }
}

/// Decode a claimed task and start it; an undecodable payload is recorded as dead at once.
#[allow(clippy::too_many_arguments)]
fn dispatch<B, S>(
    task: ClaimedTask,
    service: &mut S,
    context: &WorkerContext,
    data: &Arc<crate::request::Extensions>,
    backoff: &crate::Backoff,
    done_tx: &mpsc::UnboundedSender<(Lease, Outcome)>,
    spawner: Option<&super::Spawner>,
    local: &mut FuturesUnordered<BoxFuture<()>>,
    running: &mut HashMap<TaskId, LeaseToken>,
    acks: &mut Vec<Completion>,
    events: &EventSink,
) where
    B: Backend,
    S: tower::Service<Request<B::Job>> + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxDynError> + Send + 'static,
{
    let lease = task.lease();
    let job = match B::Codec::decode(&task.payload) {
        Ok(job) => job,
        Err(error) => {
            let error = format!(
                "{error}. Queue `{}` is read as `{}` jobs by worker `{}`: a task pushed into this queue as another \
                 job type, or by another program in another form, cannot run here. Give each job type its own queue \
                 (the default: each storage's queue is named after its job type) and push only that type into it.",
                context.queue(),
                std::any::type_name::<B::Job>(),
                context.name()
            );
            events.emit(&Event::TaskFailed {
                worker: context.name().into(),
                task_id: lease.id,
                error: error.clone(),
                dead: true,
            });
            acks.push(Completion { lease, outcome: Outcome::Dead { error } });
            return;
        }
    };
    let request = Request {
        job,
        ctx: TaskContext {
            id: task.id,
            attempt: task.attempt,
            max_attempts: task.max_attempts,
            enqueued_at: task.enqueued_at.unwrap_or_else(|| task.id.created_at()),
            run_at: task.run_at,
            data: data.clone(),
            worker: context.clone(),
        },
    };
    let (attempt, max_attempts, backoff) = (task.attempt, task.max_attempts, *backoff);
    let call = std::panic::catch_unwind(AssertUnwindSafe(|| service.call(request)));
    let tx = done_tx.clone();
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
    running.insert(lease.id, lease.token);
    match spawner {
        Some(spawn) => spawn(Box::pin(job_future)),
        None => local.push(Box::pin(job_future)),
    }
}
