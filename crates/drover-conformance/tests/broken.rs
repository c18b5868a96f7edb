//! The suite must fail for backends that break the contract: each test wraps the memory
//! backend with one fault and expects the matching check to panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use drover_conformance::{checks, TestJob};
use drover_core::{
    Backend, BackendError, ClaimRequest, ClaimedTask, Completion, Enqueue, EnqueueBatch, GlobalConcurrency, GlobalRate,
    Inspect, JsonCodec, KeyConcurrency, Lease, MemoryBatch, MemoryStorage, NewTask, Pause, Prune, PushOptions,
    PushTicks, Rate, Status, TaskId, TickPush, TickPushed, TickRecord,
};

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `complete` does nothing.
    DropAcks,
    /// `release` does nothing.
    DropReleases,
    /// `extend_leases` does nothing.
    NoHeartbeat,
    /// Pushes lose their run time.
    IgnoreRunAt,
    /// Retries are applied at once, ignoring the delay.
    IgnoreRetryDelay,
    /// Pushes lose their attempt limit.
    IgnoreMaxAttempts,
    /// Declares a claim limit of 10 and returns more.
    ExceedClaimLimit,
    /// Pruning ignores the age it is given.
    PruneIgnoresAge,
    /// A batch stores each push at once instead of at commit.
    BatchStoresEarly,
    /// A tick's task is pushed without comparing the tick with the schedule's last one.
    TicksNotCompared,
    /// Ticks are pushed whatever the overlap policy.
    OverlapIgnored,
    /// The pause flag is kept, but claims ignore it.
    PauseIgnored,
    /// The cap is counted per claim, not across claims.
    CapPerClaim,
    /// The rate is kept, but claims ignore it.
    RateIgnored,
    /// The per-key limit is kept, but claims ignore it.
    KeysIgnored,
    /// The per-key limit is applied within each claim, not across claims.
    KeyPerClaim,
}

#[derive(Clone)]
struct Broken {
    inner: MemoryStorage<TestJob>,
    fault: Fault,
}

impl Backend for Broken {
    type Job = TestJob;
    type Codec = JsonCodec;

    fn queue(&self) -> &str {
        self.inner.queue()
    }

    fn claim_limit(&self) -> usize {
        match self.fault {
            Fault::ExceedClaimLimit => 10,
            _ => usize::MAX,
        }
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        if matches!(self.fault, Fault::PauseIgnored) && self.inner.is_paused().await? {
            self.inner.set_paused(false).await?;
            let claimed = self.inner.claim(request).await;
            self.inner.set_paused(true).await?;
            return claimed;
        }
        if matches!(self.fault, Fault::RateIgnored) {
            if let Some(rate) = self.inner.rate().await? {
                self.inner.set_rate(None).await?;
                let claimed = self.inner.claim(request).await;
                self.inner.set_rate(Some(rate)).await?;
                return claimed;
            }
        }
        if matches!(self.fault, Fault::KeysIgnored | Fault::KeyPerClaim) {
            if let Some(k) = self.inner.max_running_per_key().await? {
                self.inner.set_max_running_per_key(None).await?;
                let claimed = self.inner.claim(request).await;
                self.inner.set_max_running_per_key(Some(k)).await?;
                if matches!(self.fault, Fault::KeysIgnored) {
                    return claimed;
                }
                let (mut keep, mut back, mut seen) = (Vec::new(), Vec::new(), std::collections::HashMap::new());
                for task in claimed? {
                    let key = self.inner.get(task.id).await?.and_then(|info| info.concurrency_key);
                    let over = key.is_some_and(|key| {
                        let count = seen.entry(key).or_insert(0u32);
                        *count += 1;
                        *count > k
                    });
                    if over {
                        back.push(task.lease());
                    } else {
                        keep.push(task);
                    }
                }
                self.inner.release(back).await?;
                return Ok(keep);
            }
        }
        if matches!(self.fault, Fault::CapPerClaim) {
            if let Some(cap) = self.inner.max_running().await? {
                // Each claim alone respects the cap; together they exceed it.
                self.inner.set_max_running(None).await?;
                let claimed =
                    self.inner.claim(ClaimRequest::new("broken", request.max.min(cap as usize), request.lease)).await;
                self.inner.set_max_running(Some(cap)).await?;
                return claimed;
            }
        }
        self.inner.claim(request).await
    }

    async fn complete(&self, mut batch: Vec<Completion>) -> Result<(), BackendError> {
        match self.fault {
            Fault::DropAcks => Ok(()),
            Fault::IgnoreRetryDelay => {
                for c in &mut batch {
                    if let drover_core::Outcome::Retry { delay, .. } = &mut c.outcome {
                        *delay = Duration::ZERO;
                    }
                }
                self.inner.complete(batch).await
            }
            _ => self.inner.complete(batch).await,
        }
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        match self.fault {
            Fault::NoHeartbeat => Ok(()),
            _ => self.inner.extend_leases(leases, lease).await,
        }
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        match self.fault {
            Fault::DropReleases => Ok(()),
            _ => self.inner.release(leases).await,
        }
    }
}

impl EnqueueBatch for Broken {
    type Batch = MemoryBatch;

    async fn begin_batch(&self) -> Result<MemoryBatch, BackendError> {
        self.inner.begin_batch().await
    }

    async fn push_to(
        &self,
        batch: &mut MemoryBatch,
        job: TestJob,
        options: PushOptions,
    ) -> Result<TaskId, BackendError> {
        if matches!(self.fault, Fault::BatchStoresEarly) {
            return self.inner.push_with(job, options).await;
        }
        self.inner.push_to(batch, job, options).await
    }

    async fn commit_batch(&self, batch: MemoryBatch) -> Result<(), BackendError> {
        self.inner.commit_batch(batch).await
    }
}

impl GlobalRate for Broken {
    async fn set_rate(&self, rate: Option<Rate>) -> Result<(), BackendError> {
        self.inner.set_rate(rate).await
    }

    async fn rate(&self) -> Result<Option<Rate>, BackendError> {
        self.inner.rate().await
    }
}

impl KeyConcurrency for Broken {
    async fn set_max_running_per_key(&self, k: Option<u32>) -> Result<(), BackendError> {
        self.inner.set_max_running_per_key(k).await
    }

    async fn max_running_per_key(&self) -> Result<Option<u32>, BackendError> {
        self.inner.max_running_per_key().await
    }
}

impl GlobalConcurrency for Broken {
    async fn set_max_running(&self, max: Option<u32>) -> Result<(), BackendError> {
        self.inner.set_max_running(max).await
    }

    async fn max_running(&self) -> Result<Option<u32>, BackendError> {
        self.inner.max_running().await
    }
}

impl Pause for Broken {
    async fn set_paused(&self, paused: bool) -> Result<(), BackendError> {
        self.inner.set_paused(paused).await
    }

    async fn is_paused(&self) -> Result<bool, BackendError> {
        self.inner.is_paused().await
    }
}

impl PushTicks for Broken {
    async fn push_tick(&self, mut push: TickPush) -> Result<TickPushed, BackendError> {
        match self.fault {
            Fault::TicksNotCompared => {
                // Records the tick, but pushes the task whatever the stored tick was.
                let task = push.task.clone();
                match self.inner.push_tick(push).await? {
                    TickPushed::Taken => Ok(TickPushed::Pushed(self.inner.enqueue(vec![task]).await?[0])),
                    pushed => Ok(pushed),
                }
            }
            Fault::OverlapIgnored => {
                push.overlap = drover_core::Overlap::Allow;
                self.inner.push_tick(push).await
            }
            _ => self.inner.push_tick(push).await,
        }
    }

    async fn tick_record(&self, schedule: &str) -> Result<Option<TickRecord>, BackendError> {
        self.inner.tick_record(schedule).await
    }

    async fn tick_records(&self) -> Result<Vec<TickRecord>, BackendError> {
        self.inner.tick_records().await
    }
}

impl Prune for Broken {
    async fn delete_finished(&self, status: Status, older_than: Duration, limit: usize) -> Result<u64, BackendError> {
        let older_than = if matches!(self.fault, Fault::PruneIgnoresAge) { Duration::ZERO } else { older_than };
        self.inner.prune_batch(status, older_than, limit).await
    }
}

impl Enqueue for Broken {
    async fn enqueue(&self, mut tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        for t in &mut tasks {
            match self.fault {
                Fault::IgnoreRunAt => t.run_at = None,
                Fault::IgnoreMaxAttempts => t.max_attempts = 1000,
                _ => {}
            }
        }
        self.inner.enqueue(tasks).await
    }
}

fn broken(fault: Fault) -> impl Fn() -> std::future::Ready<Broken> + Send + Sync {
    move || std::future::ready(Broken { inner: MemoryStorage::named("broken"), fault })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "the ack was lost")]
async fn dropped_acks_fail_push_claim_ack() {
    checks::push_claim_ack(broken(Fault::DropAcks)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "the failing job ran 3 times")]
async fn dropped_acks_fail_dead_after_max_attempts() {
    checks::dead_after_max_attempts(broken(Fault::DropAcks)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "unstarted claims must be claimable at once")]
async fn dropped_releases_fail_shutdown_hand_back() {
    checks::shutdown_hands_back_unstarted(broken(Fault::DropReleases)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "claimed by another worker while still running")]
async fn missing_heartbeats_fail_long_task() {
    checks::heartbeat_keeps_long_task(broken(Fault::NoHeartbeat)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "only the due job may be claimed")]
async fn ignored_run_at_fails_scheduling() {
    checks::scheduling(broken(Fault::IgnoreRunAt)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "came back before its backoff delay")]
async fn ignored_retry_delay_fails_persisted_retry() {
    checks::persisted_retry_with_backoff(broken(Fault::IgnoreRetryDelay)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "expired on its last attempt was claimed again")]
async fn ignored_max_attempts_fail_lease_expiry_on_last_attempt() {
    checks::lease_expiry_on_last_attempt_is_dead(broken(Fault::IgnoreMaxAttempts)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "more than the declared claim limit")]
async fn exceeded_claim_limit_fails_claim_limit_check() {
    checks::claim_limit_is_honoured(broken(Fault::ExceedClaimLimit)).await;
}

/// A backend that silently accepts priorities it cannot honour must fail the refusal check
/// (the memory backend honours them, so from the check's view it "accepted" one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "was accepted")]
async fn accepting_a_priority_fails_refuses_priorities() {
    checks::refuses_priorities(|| async { MemoryStorage::<TestJob>::named(format!("b-{}", TaskId::new())) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "was accepted")]
async fn accepting_a_unique_key_fails_refuses_unique_keys() {
    checks::refuses_unique_keys(|| async { MemoryStorage::<TestJob>::named(format!("b-{}", TaskId::new())) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "tasks within their age must stay")]
async fn pruning_regardless_of_age_fails_prune() {
    checks::prune(broken(Fault::PruneIgnoresAge)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "a task pushed in an open batch was visible")]
async fn a_batch_that_stores_early_fails_batched_enqueue() {
    checks::batched_enqueue(broken(Fault::BatchStoresEarly)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "the same tick again must be taken")]
async fn uncompared_ticks_fail_push_ticks() {
    checks::push_ticks(broken(Fault::TicksNotCompared)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "Overlap::Skip must skip a tick while the last task is pending")]
async fn ignored_overlap_fails_push_ticks() {
    checks::push_ticks(broken(Fault::OverlapIgnored)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "a paused queue's claim returned")]
async fn ignored_pause_fails_pause() {
    checks::pause(broken(Fault::PauseIgnored)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "with a cap of 3, concurrent claims took")]
async fn a_cap_per_claim_fails_global_concurrency() {
    checks::global_concurrency(broken(Fault::CapPerClaim)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "starts in 1.5 s at 20 per second (at most about 31 expected)")]
async fn an_ignored_rate_fails_global_rate() {
    checks::global_rate(broken(Fault::RateIgnored)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "with one running per key")]
async fn ignored_key_limit_fails_key_concurrency() {
    checks::key_concurrency(broken(Fault::KeysIgnored)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "with one running per key")]
async fn key_limit_per_claim_fails_key_concurrency() {
    checks::key_concurrency(broken(Fault::KeyPerClaim)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "concurrency key was accepted")]
async fn accepted_concurrency_key_fails_refusal() {
    checks::refuses_concurrency_keys(broken(Fault::KeysIgnored)).await;
}
