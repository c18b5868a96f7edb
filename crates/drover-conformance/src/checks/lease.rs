use std::time::Duration;

use drover_core::{Completion, Enqueue, Outcome};

use crate::harness::{
    claim, claim_n, handle, ok, start_worker, test_builder, wait_until, Action, Factory, Recorder, Running, TestJob,
    SHORT_LEASE,
};

/// A claim that is neither acked nor extended expires, and the task is claimed again with the
/// next attempt and a new token.
pub async fn lease_expiry_redelivers<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let id = ok("push", backend.push(TestJob::ok(1)).await);
    let first = claim(&backend, 1, SHORT_LEASE).await;
    assert_eq!(first.len(), 1);
    assert!(claim(&backend, 1, SHORT_LEASE).await.is_empty(), "claimable again before the lease expired");
    let again = claim_n(&backend, 1, SHORT_LEASE, SHORT_LEASE * 4).await;
    assert_eq!(again.len(), 1, "a task whose lease expired was never claimable again: it is lost");
    assert_eq!(again[0].id, id);
    assert_eq!(again[0].attempt, 2, "re-delivery after lease expiry is a new attempt");
    assert_ne!(again[0].token, first[0].token, "a new claim needs a new token");
}

/// A task whose lease expires on its last attempt is dead, not re-run forever (a job that
/// kills its worker, say with an out-of-memory abort, must not loop).
pub async fn lease_expiry_on_last_attempt_is_dead<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    ok("push", backend.push_with(TestJob::ok(1), drover_core::PushOptions::new().max_attempts(2)).await);
    let first = claim(&backend, 1, SHORT_LEASE).await;
    assert_eq!(first.len(), 1);
    let second = claim_n(&backend, 1, SHORT_LEASE, SHORT_LEASE * 4).await;
    assert_eq!(second.len(), 1, "with attempts left, an expired lease must re-deliver the task");
    assert_eq!(second[0].attempt, 2);
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(300)).await;
    assert!(
        claim(&backend, 1, SHORT_LEASE).await.is_empty(),
        "a task whose lease expired on its last attempt was claimed again: it must be dead"
    );
}

/// After a lease expired and another worker took the task, the first worker's completion is
/// ignored and the second one's applies.
pub async fn stale_ack_ignored<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    ok("push", backend.push(TestJob::ok(1)).await);
    let a = claim(&backend, 1, SHORT_LEASE).await;
    assert_eq!(a.len(), 1);
    let b = claim_n(&backend, 1, Duration::from_secs(30), SHORT_LEASE * 4).await;
    assert_eq!(b.len(), 1, "the expired task must be claimable by a second worker");
    // The first worker, late, says done: must be ignored.
    ok("stale complete", backend.complete(vec![Completion { lease: a[0].lease(), outcome: Outcome::Done }]).await);
    // The second worker's retry must apply, so the task comes back.
    ok(
        "current complete",
        backend
            .complete(vec![Completion {
                lease: b[0].lease(),
                outcome: Outcome::Retry { delay: Duration::ZERO, error: "again".into() },
            }])
            .await,
    );
    let c = claim_n(&backend, 1, Duration::from_secs(30), Duration::from_secs(3)).await;
    assert_eq!(c.len(), 1, "a stale ack (old token) was applied: it overwrote the current claim");
    assert_eq!(c[0].attempt, 3);
}

/// A job running longer than the lease keeps its claim through heartbeats: a second worker
/// never gets it, and it runs exactly once.
pub async fn heartbeat_keeps_long_task<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let recorder = Recorder::default();
    ok("push", backend.push(TestJob::with(1, Action::Sleep(1500))).await);
    let lease = Duration::from_millis(500);
    let w1 = Running::start(
        test_builder("hb-1", &recorder, 2)
            .lease(lease)
            .heartbeat(Duration::from_millis(100))
            .backend(backend.clone())
            .build_fn(handle),
    );
    wait_until("the long job started", Duration::from_secs(5), || recorder.runs(1) == 1).await;
    let w2 = start_worker("hb-2", backend.clone(), &recorder, 2);
    wait_until("the long job finished", Duration::from_secs(10), || recorder.finished() == 1).await;
    tokio::time::sleep(lease * 2).await;
    ok("stop", w1.stop().await);
    ok("stop", w2.stop().await);
    assert_eq!(recorder.runs(1), 1, "a heartbeated task was claimed by another worker while still running");
}
