use std::time::Duration;

use drover_core::{Enqueue, NewTask, PushOptions};

use crate::harness::{
    claim, claim_n, handle, ok, start_worker, test_builder, wait_until, Action, Factory, Recorder, Running, TestJob,
};

/// On shutdown a worker hands back claimed tasks it had not started, at once (not after their
/// leases), without counting an attempt; the running task finishes.
pub async fn shutdown_hands_back_unstarted<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let recorder = Recorder::default();
    ok("push_bulk", backend.push_bulk((0..5).map(|n| TestJob::with(n, Action::Sleep(300)))).await);
    // One job may start per minute, so four claimed tasks wait unstarted.
    let worker = Running::start(
        test_builder("handback", &recorder, 5)
            .lease(Duration::from_secs(60))
            .rate_limit(1, Duration::from_secs(60))
            .backend(backend.clone())
            .build_fn(handle),
    );
    wait_until("one job started", Duration::from_secs(5), || (0..5).any(|n| recorder.runs(n) == 1)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    ok("stop", worker.stop().await);
    assert_eq!(recorder.finished(), 1, "the running job must finish during graceful shutdown");
    // A broker hands the tasks back asynchronously, so collect for a moment rather than
    // trusting one claim; a backend that waits for the 60 s lease still gets none.
    let back = claim_n(&backend, 10, Duration::from_secs(30), Duration::from_millis(1500)).await;
    assert_eq!(back.len(), 4, "unstarted claims must be claimable at once after shutdown (not after their 60 s lease)");
    assert!(
        back.iter().all(|t| t.attempt == 1),
        "a handed-back task's attempt must not count: {:?}",
        back.iter().map(|t| t.attempt).collect::<Vec<_>>()
    );
}

/// Several workers with several slots each process every job exactly once.
pub async fn no_double_processing<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let recorder = Recorder::default();
    let n = 300u64;
    ok("push_bulk", backend.push_bulk((0..n).map(|i| TestJob::with(i, Action::Sleep(i % 3)))).await);
    let workers: Vec<Running> =
        (0..3).map(|i| start_worker(&format!("many-{i}"), backend.clone(), &recorder, 8)).collect();
    wait_until("every job finished", Duration::from_secs(60), || recorder.finished() >= n as usize).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for w in workers {
        ok("stop", w.stop().await);
    }
    let counts = recorder.finished_counts();
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).map(|(n, _)| *n).collect();
    assert!(twice.is_empty(), "jobs processed more than once: {twice:?}");
    assert_eq!(counts.len(), n as usize, "jobs never processed");
}

/// A payload that does not decode ends the task (dead, not retried) and the worker goes on.
pub async fn undecodable_payload<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let recorder = Recorder::default();
    ok(
        "enqueue raw",
        backend.enqueue(vec![NewTask::new(b"{not json".to_vec(), PushOptions::new().max_attempts(3))]).await,
    );
    ok("push", backend.push(TestJob::ok(2)).await);
    let worker = start_worker("bad-payload", backend.clone(), &recorder, 1);
    wait_until("the good job finished", Duration::from_secs(5), || recorder.finished() == 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    ok("stop", worker.stop().await);
    assert!(
        claim(&backend, 10, Duration::from_secs(1)).await.is_empty(),
        "an undecodable task must be dead, not retried or left pending"
    );
}

/// A panicking handler is recorded as a failure; the worker keeps processing.
pub async fn panicking_handler<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let recorder = Recorder::default();
    ok("push", backend.push_with(TestJob::with(1, Action::Panic), PushOptions::new().max_attempts(1)).await);
    ok("push", backend.push(TestJob::ok(2)).await);
    let worker = start_worker("panics", backend.clone(), &recorder, 1);
    wait_until("the job after the panic finished", Duration::from_secs(5), || {
        recorder.runs(2) == 1 && recorder.finished() == 1
    })
    .await;
    ok("stop", worker.stop().await);
    assert_eq!(recorder.runs(1), 1, "the panicking job must run once (max_attempts 1)");
    assert!(
        claim(&backend, 10, Duration::from_secs(1)).await.is_empty(),
        "a panicked job with no attempts left must be dead"
    );
}
