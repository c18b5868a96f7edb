use std::time::Duration;

use drover_core::{Completion, Enqueue, Outcome, PushOptions};

use crate::harness::{claim, claim_n, ok, start_worker, wait_until, Action, Factory, Recorder, TestJob, SHORT_LEASE};

/// A retry outcome is persisted: the task is pending again only after the delay, and the next
/// claim has the next attempt.
pub async fn persisted_retry_with_backoff<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    ok("push", backend.push_with(TestJob::ok(1), PushOptions::new().max_attempts(5)).await);
    let first = claim(&backend, 1, SHORT_LEASE).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].max_attempts, 5, "max_attempts must be stored");
    let delay = Duration::from_millis(800);
    ok(
        "complete with retry",
        backend
            .complete(vec![Completion {
                lease: first[0].lease(),
                outcome: Outcome::Retry { delay, error: "boom".into() },
            }])
            .await,
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        claim(&backend, 1, Duration::from_secs(30)).await.is_empty(),
        "a retried task came back before its backoff delay"
    );
    let second = claim_n(&backend, 1, Duration::from_secs(30), Duration::from_secs(3)).await;
    assert_eq!(second.len(), 1, "a retried task never came back");
    assert_eq!(second[0].attempt, 2, "the retry must count as the next attempt");
}

/// A job that always fails runs exactly `max_attempts` times through a worker, then is dead:
/// never claimed again.
pub async fn dead_after_max_attempts<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let recorder = Recorder::default();
    ok("push", backend.push_with(TestJob::with(1, Action::Fail), PushOptions::new().max_attempts(3)).await);
    ok("push", backend.push(TestJob::ok(2)).await);
    let worker = start_worker("dead", backend.clone(), &recorder, 4);
    wait_until("the failing job ran 3 times", Duration::from_secs(10), || recorder.runs(1) >= 3).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    ok("stop", worker.stop().await);
    assert_eq!(recorder.attempts(1), vec![1, 2, 3], "a job with max_attempts 3 must run attempts 1, 2, 3 and no more");
    assert_eq!(recorder.runs(2), 1, "the good job must run once");
    tokio::time::sleep(SHORT_LEASE).await;
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "a dead task was claimable");
}
