//! The worker runtime and monitor on the memory backend: restarts, in-process retries,
//! timeouts, missing data, shutdown timeouts, backend errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use drover_core::layers::retry::{RetryLayer, RetryPolicy};
use drover_core::{
    Backend, BackendError, Backoff, BoxDynError, ClaimRequest, ClaimedTask, Completion, Data, Enqueue, Event, Inspect,
    JsonCodec, Lease, MemoryStorage, Monitor, Request, Status, TaskId, WorkerBuilder,
};

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn status(storage: &MemoryStorage<u32>, id: TaskId) -> (Status, u32, Option<String>) {
    let info = storage.get(id).await.unwrap().unwrap();
    (info.status, info.attempt, info.last_error)
}

/// A service that fails readiness once, which crashes the worker run.
#[derive(Clone)]
struct FailOnce {
    failed: Arc<AtomicBool>,
}

impl tower::Service<Request<u32>> for FailOnce {
    type Response = ();
    type Error = BoxDynError;
    type Future = std::future::Ready<Result<(), BoxDynError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxDynError>> {
        if self.failed.swap(true, Ordering::SeqCst) {
            Poll::Ready(Ok(()))
        } else {
            Poll::Ready(Err("the service is broken".into()))
        }
    }

    fn call(&mut self, _req: Request<u32>) -> Self::Future {
        std::future::ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_restarts_a_crashed_worker_and_reports_it() {
    let storage = MemoryStorage::<u32>::new();
    let id = storage.push(1).await.unwrap();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = events.clone();
    let check = storage.clone();
    Monitor::new()
        .register(WorkerBuilder::new("crashy").backend(storage.clone()).build(FailOnce { failed: Arc::default() }))
        .restart_backoff(Duration::from_millis(50), Duration::from_millis(100))
        .on_event(move |e| seen.lock().unwrap().push(e.to_string()))
        .run_with_signal(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if check.get(id).await.unwrap().is_some_and(|t| t.status == Status::Done) {
                    break;
                }
            }
        })
        .await
        .unwrap();
    let events = events.lock().unwrap().join("\n");
    assert!(events.contains("worker crashy crashed: the job service failed"), "{events}");
    assert!(events.contains("worker crashy restarted (run 1)"), "{events}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_retries_do_not_count_attempts() {
    let storage = MemoryStorage::<u32>::new();
    let id = storage.push(1).await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    async fn flaky(_job: u32, calls: Data<Arc<AtomicU32>>) -> Result<(), BoxDynError> {
        if calls.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err("blip".into());
        }
        Ok(())
    }
    let worker = WorkerBuilder::new("retry")
        .layer(RetryLayer::new(RetryPolicy::retries(3)))
        .data(calls.clone())
        .backend(storage.clone())
        .build_fn(flaky);
    let check = storage.clone();
    worker.run_until(async move { wait_for_done(&check, id).await }).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(status(&storage, id).await, (Status::Done, 1, None));
}

async fn wait_for_done(storage: &MemoryStorage<u32>, id: TaskId) {
    for _ in 0..500 {
        if storage.get(id).await.unwrap().is_some_and(|t| t.status.is_final()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("task {id} never finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_a_recorded_failure() {
    let storage = MemoryStorage::<u32>::new();
    let id = storage.push_with(1, drover_core::PushOptions::new().max_attempts(1)).await.unwrap();
    async fn slow(_job: u32) -> Result<(), BoxDynError> {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(())
    }
    let check = storage.clone();
    WorkerBuilder::new("timeout")
        .timeout(Duration::from_millis(50))
        .backend(storage.clone())
        .build_fn(slow)
        .run_until(async move { wait_for_done(&check, id).await })
        .await
        .unwrap();
    let (state, _, error) = status(&storage, id).await;
    assert_eq!(state, Status::Dead);
    assert!(error.unwrap().contains("timed out"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_data_says_how_to_fix_it() {
    let storage = MemoryStorage::<u32>::new();
    let id = storage.push_with(1, drover_core::PushOptions::new().max_attempts(1)).await.unwrap();
    async fn needs_data(_job: u32, _s: Data<String>) -> Result<(), BoxDynError> {
        Ok(())
    }
    let check = storage.clone();
    WorkerBuilder::new("data")
        .backend(storage.clone())
        .build_fn(needs_data)
        .run_until(async move { wait_for_done(&check, id).await })
        .await
        .unwrap();
    let error = status(&storage, id).await.2.unwrap();
    assert!(error.contains("Data<alloc::string::String>") && error.contains("WorkerBuilder::data"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_timeout_leaves_the_task_to_its_lease() {
    let storage = MemoryStorage::<u32>::new();
    let id = storage.push(1).await.unwrap();
    let started = Arc::new(AtomicBool::new(false));
    async fn stuck(_job: u32, started: Data<Arc<AtomicBool>>) -> Result<(), BoxDynError> {
        started.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    }
    let flag = started.clone();
    let begun = std::time::Instant::now();
    let result = Monitor::new()
        .register(
            WorkerBuilder::new("stuck")
                .parallelize(tokio::spawn)
                .data(started.clone())
                .backend(storage.clone())
                .build_fn(stuck),
        )
        .shutdown_timeout(Duration::from_millis(200))
        .run_with_signal(async move { wait_for("the job to start", || flag.load(Ordering::SeqCst)).await })
        .await;
    assert!(begun.elapsed() < Duration::from_secs(5));
    let error = result.unwrap_err().to_string();
    assert!(error.contains("1 task(s) still running"), "{error}");
    assert_eq!(
        status(&storage, id).await.0,
        Status::Running,
        "the task stays leased, to be re-run when the lease expires"
    );
}

/// The memory backend behind a network: its first `failures` claims fail (as during a server
/// restart), every claim takes `claim_delay` and returns at most `claim_cap` tasks, and the
/// largest claim asked for is recorded.
#[derive(Clone)]
struct Remote {
    inner: MemoryStorage<u32>,
    failures: Arc<AtomicU32>,
    claim_delay: Duration,
    claim_cap: usize,
    largest_claim: Arc<std::sync::atomic::AtomicUsize>,
    complete_delay: Duration,
    /// Completion calls still to hang without an answer (a connection that stalls).
    complete_hangs: Arc<AtomicU32>,
}

impl Remote {
    fn new(inner: MemoryStorage<u32>) -> Self {
        Self {
            inner,
            failures: Arc::default(),
            claim_delay: Duration::ZERO,
            claim_cap: usize::MAX,
            largest_claim: Arc::default(),
            complete_delay: Duration::ZERO,
            complete_hangs: Arc::default(),
        }
    }
}

impl Backend for Remote {
    type Job = u32;
    type Codec = JsonCodec;
    fn queue(&self) -> &str {
        self.inner.queue()
    }
    fn claim_limit(&self) -> usize {
        self.claim_cap
    }
    async fn claim(&self, mut request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        self.largest_claim.fetch_max(request.max, Ordering::SeqCst);
        request.max = request.max.min(self.claim_cap);
        if !self.claim_delay.is_zero() {
            tokio::time::sleep(self.claim_delay).await;
        }
        if self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(BackendError::connection("claim", "connection refused"));
        }
        self.inner.claim(request).await
    }
    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        if !self.complete_delay.is_zero() {
            tokio::time::sleep(self.complete_delay).await;
        }
        if self.complete_hangs.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            std::future::pending::<()>().await;
        }
        self.inner.complete(batch).await
    }
    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        self.inner.extend_leases(leases, lease).await
    }
    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        self.inner.release(leases).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_call_that_never_answers_is_given_up_and_sent_again() {
    // The first completion call hangs (a connection that stalls instead of breaking). The
    // worker gives up on it after twice the lease (at least 5 s), sends its outcomes again,
    // and goes on claiming: every job ends done (those whose lease ran out meanwhile ran again).
    const JOBS: u32 = 3_000;
    let storage = MemoryStorage::<u32>::new();
    storage.push_bulk(0..JOBS).await.unwrap();
    let remote = Remote { complete_hangs: Arc::new(AtomicU32::new(1)), ..Remote::new(storage.clone()) };
    let runs = Arc::new(AtomicU32::new(0));
    async fn counted(_job: u32, runs: Data<Arc<AtomicU32>>) -> Result<(), BoxDynError> {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    let check = storage.clone();
    let started = std::time::Instant::now();
    WorkerBuilder::new("hung-ack")
        .concurrency(10)
        .lease(Duration::from_secs(2))
        .data(runs.clone())
        .backend(remote)
        .build_fn(counted)
        .run_until(async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while check.stats().await.unwrap().done < u64::from(JOBS) {
                assert!(std::time::Instant::now() < deadline, "stuck: {:?}", check.stats().await.unwrap());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(4), "the hung call was given up early, after {took:?}");
    assert!(runs.load(Ordering::SeqCst) >= JOBS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_slow_to_record_completions_holds_claims_back() {
    // Instant jobs, fast claims, and completions that take 100 ms a call (a database whose
    // completion statement got a bad plan): without a bound the worker leased the whole
    // backlog within a second while outcomes queued up unsent, their leases running out.
    const JOBS: u32 = 12_000;
    let storage = MemoryStorage::<u32>::new();
    storage.push_bulk(0..JOBS).await.unwrap();
    let remote = Remote { complete_delay: Duration::from_millis(100), ..Remote::new(storage.clone()) };
    async fn instant(_job: u32) -> Result<(), BoxDynError> {
        Ok(())
    }
    let check = storage.clone();
    let most = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = most.clone();
    WorkerBuilder::new("slow-acks")
        .concurrency(10)
        .backend(remote)
        .build_fn(instant)
        .run_until(async move {
            loop {
                let stats = check.stats().await.unwrap();
                seen.fetch_max(stats.running, Ordering::SeqCst);
                if stats.done == u64::from(JOBS) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
    let most_running = most.load(Ordering::SeqCst);
    // Four calls' worth (2,000) waiting, one call (500) in flight, and what one claim adds.
    assert!(most_running <= 4_000, "at most {most_running} of {JOBS} tasks were leased at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_errors_are_reported_and_the_worker_goes_on() {
    let inner = MemoryStorage::<u32>::new();
    let id = inner.push(1).await.unwrap();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = events.clone();
    async fn ok(_job: u32) -> Result<(), BoxDynError> {
        Ok(())
    }
    let check = inner.clone();
    Monitor::new()
        .register(
            WorkerBuilder::new("flaky")
                .backoff(Backoff::constant(Duration::from_millis(10)))
                .backend(Remote { failures: Arc::new(AtomicU32::new(2)), ..Remote::new(inner.clone()) })
                .build_fn(ok),
        )
        .on_event(move |e| {
            if matches!(e, Event::BackendError { .. }) {
                seen.lock().unwrap().push(e.to_string());
            }
        })
        .run_with_signal(async move { wait_for_done(&check, id).await })
        .await
        .unwrap();
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].contains("claim failed") && events[0].contains("connection refused"), "{events:?}");
    assert_eq!(status(&inner, id).await.0, Status::Done);
}

#[tokio::test]
async fn a_monitor_without_workers_says_so() {
    let error = Monitor::new().run_with_signal(async {}).await.unwrap_err().to_string();
    assert!(error.contains("Monitor::register"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetched_tasks_are_held_and_handed_back() {
    let storage = MemoryStorage::<u32>::new();
    storage.push_bulk(0..5).await.unwrap();
    let started = Arc::new(AtomicU32::new(0));
    async fn slow(_job: u32, started: Data<Arc<AtomicU32>>) -> Result<(), BoxDynError> {
        started.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(())
    }
    let check = storage.clone();
    let seen = started.clone();
    WorkerBuilder::new("prefetch")
        .concurrency(1)
        .prefetch(4)
        .data(started.clone())
        .backend(storage.clone())
        .build_fn(slow)
        .run_until(async move {
            wait_for("the first job to start", || seen.load(Ordering::SeqCst) == 1).await;
            let stats = check.stats().await.unwrap();
            assert_eq!(stats.running, 5, "one running and four prefetched claims: {stats:?}");
        })
        .await
        .unwrap();
    let stats = storage.stats().await.unwrap();
    assert_eq!((stats.done, stats.pending, stats.running), (1, 4, 0), "{stats:?}");
    assert_eq!(started.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_prefetch_claims_ahead_and_hands_back_when_jobs_slow_down() {
    // 2,000 instant jobs, then slow ones: the worker must claim far ahead while jobs are
    // instant, and hand back what it claimed ahead once they are slow.
    let storage = MemoryStorage::<u32>::new();
    storage.push_bulk(0..3_000).await.unwrap();
    let remote = Remote { claim_delay: Duration::from_millis(5), ..Remote::new(storage.clone()) };
    let started = Arc::new(AtomicU32::new(0));
    async fn job(n: u32, started: Data<Arc<AtomicU32>>) -> Result<(), BoxDynError> {
        started.fetch_add(1, Ordering::SeqCst);
        if n >= 2_000 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(())
    }
    let check = storage.clone();
    let seen = started.clone();
    let largest = remote.largest_claim.clone();
    WorkerBuilder::new("adaptive")
        .concurrency(2)
        .lease(Duration::from_millis(400))
        .data(started.clone())
        .backend(remote)
        .build_fn(job)
        .run_until(async move {
            wait_for("the slow jobs to start", || seen.load(Ordering::SeqCst) > 2_000).await;
            let asked = largest.load(Ordering::SeqCst);
            assert!(asked > 50, "instant jobs behind a 5 ms claim should claim far ahead; largest claim {asked}");
            // Claimed ahead, the rest waits at most a quarter of the lease (100 ms) before it
            // is handed back: only the two running jobs (and perhaps a claim in flight) stay.
            let mut last = None;
            for _ in 0..300 {
                let stats = check.stats().await.unwrap();
                if stats.running <= 4 {
                    return;
                }
                last = Some(stats);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("tasks claimed ahead were not handed back: {last:?}");
        })
        .await
        .unwrap();
    let stats = storage.stats().await.unwrap();
    assert_eq!(stats.running, 0, "{stats:?}");
    assert_eq!(stats.done + stats.pending, 3_000, "no task lost: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_claim_is_not_taken_for_an_empty_queue() {
    // The backend returns at most 100 tasks a claim. A worker that asked for more and took the
    // full 100 for a queue running short would idle for its 30 s poll interval between claims.
    let storage = MemoryStorage::<u32>::new();
    storage.push_bulk(0..2_000).await.unwrap();
    let remote = Remote { claim_cap: 100, claim_delay: Duration::from_millis(2), ..Remote::new(storage.clone()) };
    let largest = remote.largest_claim.clone();
    let started = Arc::new(AtomicU32::new(0));
    async fn job(_n: u32, started: Data<Arc<AtomicU32>>) -> Result<(), BoxDynError> {
        started.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    let seen = started.clone();
    let drained = tokio::time::timeout(
        Duration::from_secs(10),
        WorkerBuilder::new("capped")
            .concurrency(50)
            .poll_interval(Duration::from_secs(30))
            .data(started.clone())
            .backend(remote)
            .build_fn(job)
            .run_until(async move { wait_for("all 2,000 jobs", || seen.load(Ordering::SeqCst) == 2_000).await }),
    )
    .await;
    assert!(drained.is_ok(), "the worker idled between full claims: {} of 2,000 ran", started.load(Ordering::SeqCst));
    assert!(largest.load(Ordering::SeqCst) <= 100, "the worker asked for more than the backend's claim limit");
}
