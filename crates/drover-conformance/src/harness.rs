//! The job type, recorder and helpers the checks share.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_core::{
    Attempt, Backend, Backoff, BoxDynError, ClaimRequest, ClaimedTask, Data, Request, Worker, WorkerBuilder,
};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::layer::util::Identity;

/// What the test handler does with a job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Return `Ok(())`.
    #[default]
    Succeed,
    /// Return an error.
    Fail,
    /// Panic.
    Panic,
    /// Sleep this many milliseconds, then succeed.
    Sleep(u64),
}

/// The job every check pushes. Backends under test are made for this job type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestJob {
    /// A number identifying the job within a check.
    pub n: u64,
    /// What the handler does.
    #[serde(default)]
    pub action: Action,
}

impl TestJob {
    /// A job that succeeds.
    pub fn ok(n: u64) -> Self {
        Self { n, action: Action::Succeed }
    }

    /// A job with an action.
    pub fn with(n: u64, action: Action) -> Self {
        Self { n, action }
    }
}

/// Records which jobs ran, with which attempt, and which finished.
#[derive(Clone, Default, Debug)]
pub struct Recorder {
    inner: Arc<Mutex<RecorderState>>,
}

#[derive(Default, Debug)]
struct RecorderState {
    started: Vec<(u64, u32)>,
    finished: Vec<u64>,
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many times job `n` started.
    pub fn runs(&self, n: u64) -> usize {
        self.lock().started.iter().filter(|(m, _)| *m == n).count()
    }

    /// Attempts seen for job `n`, in order.
    pub fn attempts(&self, n: u64) -> Vec<u32> {
        self.lock().started.iter().filter(|(m, _)| *m == n).map(|(_, a)| *a).collect()
    }

    /// Jobs that finished successfully, counted by number.
    pub fn finished_counts(&self) -> HashMap<u64, usize> {
        let mut counts = HashMap::new();
        for n in &self.lock().finished {
            *counts.entry(*n).or_insert(0) += 1;
        }
        counts
    }

    /// How many successful finishes in all.
    pub fn finished(&self) -> usize {
        self.lock().finished.len()
    }
}

/// The handler of every worker-level check.
pub async fn handle(job: TestJob, recorder: Data<Recorder>, attempt: Attempt) -> Result<(), BoxDynError> {
    recorder.lock().started.push((job.n, attempt.0));
    match job.action {
        Action::Succeed => {}
        Action::Fail => return Err(format!("job {} failed on purpose", job.n).into()),
        Action::Panic => panic!("job {} panicked on purpose", job.n),
        Action::Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
    }
    recorder.lock().finished.push(job.n);
    Ok(())
}

/// The lease checks use: short, so expiry is observable quickly.
pub const SHORT_LEASE: Duration = Duration::from_millis(400);

/// A worker builder tuned for tests (quick polling, 5 s lease, constant 50 ms backoff, 5 s
/// shutdown timeout) with `recorder` as data. Add `.backend(b).build_fn(handle)`.
pub fn test_builder(name: &str, recorder: &Recorder, concurrency: usize) -> WorkerBuilder<(), Identity> {
    WorkerBuilder::new(name)
        .concurrency(concurrency)
        .lease(Duration::from_secs(5))
        .poll_interval(Duration::from_millis(100))
        .backoff(Backoff::constant(Duration::from_millis(50)))
        .shutdown_timeout(Duration::from_secs(5))
        .data(recorder.clone())
}

/// Start a test worker on `backend` running [`handle`].
pub fn start_worker<B: Backend<Job = TestJob>>(
    name: &str,
    backend: B,
    recorder: &Recorder,
    concurrency: usize,
) -> Running {
    Running::start(test_builder(name, recorder, concurrency).backend(backend).build_fn(handle))
}

/// A worker running in the background until [`Running::stop`].
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<drover_core::Result<()>>,
}

impl Running {
    /// Start `worker` on the runtime.
    pub fn start<B, S>(worker: Worker<B, S>) -> Self
    where
        B: Backend,
        S: tower::Service<Request<B::Job>> + Send + 'static,
        S::Future: Send + 'static,
        S::Response: Send + 'static,
        S::Error: Into<BoxDynError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(worker.run_until(async move {
            let _ = rx.await;
        }));
        Self { stop: Some(tx), handle }
    }

    /// Signal shutdown and wait for the worker to stop.
    pub async fn stop(mut self) -> drover_core::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.handle.await {
            Ok(result) => result,
            Err(e) => panic!("the worker task panicked or was cancelled: {e}"),
        }
    }
}

/// Wait until `condition` holds, checking every 20 ms; fail the check after `timeout`.
pub async fn wait_until<F: FnMut() -> bool>(what: &str, timeout: Duration, mut condition: F) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition() {
        if tokio::time::Instant::now() > deadline {
            panic!("conformance: timed out after {timeout:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Claim up to `max` tasks as `worker` with `lease`.
pub async fn claim<B: Backend>(backend: &B, max: usize, lease: Duration) -> Vec<ClaimedTask> {
    match backend.claim(ClaimRequest::new("conformance", max, lease)).await {
        Ok(tasks) => tasks,
        Err(e) => panic!("conformance: claim failed: {e}"),
    }
}

/// Claim until `n` tasks are collected or `timeout` passes (backends may return short batches).
pub async fn claim_n<B: Backend>(backend: &B, n: usize, lease: Duration, timeout: Duration) -> Vec<ClaimedTask> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut all = Vec::new();
    while all.len() < n && tokio::time::Instant::now() < deadline {
        let got = claim(backend, n - all.len(), lease).await;
        if got.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        all.extend(got);
    }
    all
}

/// Decode a claimed payload as a [`TestJob`].
pub fn decode(task: &ClaimedTask) -> TestJob {
    match serde_json::from_slice(&task.payload) {
        Ok(job) => job,
        Err(e) => panic!("conformance: claimed payload is not the pushed TestJob: {e}"),
    }
}

/// Unwrap a backend result with a message naming the step.
pub fn ok<T, E: std::fmt::Display>(step: &str, result: Result<T, E>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("conformance: {step} failed: {e}"),
    }
}

/// Make a fresh, isolated backend.
pub trait Factory<B>: Fn() -> Self::Fut + Send + Sync {
    /// The future making it.
    type Fut: Future<Output = B> + Send;
}

impl<B, F, Fut> Factory<B> for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = B> + Send,
{
    type Fut = Fut;
}
