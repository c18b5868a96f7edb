use std::collections::HashSet;
use std::time::Duration;

use drover_core::{Completion, Enqueue, Outcome, PushOptions};

use crate::harness::{claim, claim_n, decode, ok, Factory, TestJob, SHORT_LEASE};

/// A pushed job is claimed once, with attempt 1 and its payload intact; once acked it is
/// never claimed again, even after its lease would have expired.
pub async fn push_claim_ack<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let id = ok("push", backend.push(TestJob::ok(7)).await);
    let claimed = claim(&backend, 10, SHORT_LEASE).await;
    assert_eq!(claimed.len(), 1, "one push must give exactly one claimable task");
    let task = &claimed[0];
    assert_eq!(task.id, id, "the claimed task must have the id push returned");
    assert_eq!(task.attempt, 1, "the first claim is attempt 1");
    assert_eq!(decode(task), TestJob::ok(7), "payload must round-trip");
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "a claimed task must not be claimable while leased");
    ok("complete", backend.complete(vec![Completion { lease: task.lease(), outcome: Outcome::Done }]).await);
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(300)).await;
    assert!(
        claim(&backend, 10, SHORT_LEASE).await.is_empty(),
        "an acked task came back after its lease: the ack was lost"
    );
}

/// `push_bulk` stores every job in order and each is claimed exactly once.
pub async fn bulk_push<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let n = 250u64;
    let ids = ok("push_bulk", backend.push_bulk((0..n).map(TestJob::ok)).await);
    assert_eq!(ids.len(), n as usize, "push_bulk must return one id per job");
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "push_bulk returned duplicate ids");
    let claimed = claim_n(&backend, n as usize + 10, Duration::from_secs(30), Duration::from_secs(3)).await;
    assert_eq!(claimed.len(), n as usize, "every bulk-pushed job must be claimable, once");
    let numbers: HashSet<u64> = claimed.iter().map(|t| decode(t).n).collect();
    assert_eq!(numbers.len(), n as usize, "a job was claimed twice or lost");
    let claimed_ids: HashSet<_> = claimed.iter().map(|t| t.id).collect();
    assert_eq!(claimed_ids, unique.into_iter().copied().collect(), "claimed ids must be the pushed ids");
}

/// A backend that declares a claim limit returns exactly that many tasks when asked for more
/// and more are due: the worker asks for no more than the limit and takes a short claim for a
/// queue running dry. (Skipped for backends without a limit, or with one above 10,000.)
pub async fn claim_limit_is_honoured<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let limit = backend.claim_limit();
    if limit > 10_000 {
        return;
    }
    let n = limit as u64 + 5;
    ok("push_bulk", backend.push_bulk((0..n).map(TestJob::ok)).await);
    let claimed = claim(&backend, limit + 5, Duration::from_secs(30)).await;
    assert!(
        claimed.len() <= limit,
        "a claim returned {} tasks, more than the declared claim limit {limit}",
        claimed.len()
    );
    assert_eq!(
        claimed.len(),
        limit,
        "with {n} tasks due, a claim asked for more than the limit must return a full {limit}"
    );
}

/// A job pushed with a delay is not claimed before its run time, and is after; one pushed with
/// a past run time is claimable at once.
pub async fn scheduling<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let later = ok(
        "push_with delay",
        backend.push_with(TestJob::ok(1), PushOptions::new().delay(Duration::from_millis(1200))).await,
    );
    let past = chrono::Utc::now() - chrono::Duration::seconds(5);
    let now = ok("push_with past run_at", backend.push_with(TestJob::ok(2), PushOptions::new().run_at(past)).await);
    let first = claim(&backend, 10, Duration::from_secs(30)).await;
    assert_eq!(
        first.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![now],
        "only the due job may be claimed before the delay"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        claim(&backend, 10, Duration::from_secs(30)).await.is_empty(),
        "a delayed job was claimed before its run time"
    );
    let due = claim_n(&backend, 1, Duration::from_secs(30), Duration::from_secs(3)).await;
    assert_eq!(
        due.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![later],
        "the delayed job must be claimable after its run time"
    );
}
