//! Per-key concurrency: at most K running tasks per concurrency key, in push order.

use std::collections::BTreeSet;
use std::time::Duration;

use drover_core::{BackendError, ClaimedTask, Completion, Enqueue, KeyConcurrency, Outcome, PushOptions};

use crate::harness::{claim, claim_n, decode, ok, Factory, TestJob, SHORT_LEASE};

const LEASE: Duration = Duration::from_secs(30);

fn numbers(tasks: &[ClaimedTask]) -> BTreeSet<u64> {
    tasks.iter().map(|t| decode(t).n).collect()
}

async fn push_keyed<B: Enqueue<Job = TestJob>>(backend: &B, n: u64, key: Option<&str>) {
    let options = match key {
        Some(key) => PushOptions::new().concurrency_key(key),
        None => PushOptions::new(),
    };
    ok("push_with concurrency_key", backend.push_with(TestJob::ok(n), options).await);
}

async fn done<B: Enqueue<Job = TestJob>>(backend: &B, tasks: &[&ClaimedTask]) {
    let batch = tasks.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    ok("complete", backend.complete(batch).await);
}

/// Claim what the backend gives within `wait` and check it is exactly `expected` (by job
/// number), then that nothing more is claimable.
async fn expect_claim<B: Enqueue<Job = TestJob>>(
    backend: &B,
    expected: &[u64],
    lease: Duration,
    why: &str,
) -> Vec<ClaimedTask> {
    let got = claim_n(backend, expected.len(), lease, Duration::from_secs(2)).await;
    let extra = claim(backend, 10, lease).await;
    let mut all_numbers = numbers(&got);
    all_numbers.extend(numbers(&extra));
    let expected: BTreeSet<u64> = expected.iter().copied().collect();
    assert_eq!(all_numbers, expected, "conformance: {why}: claimed {all_numbers:?}, expected {expected:?}");
    got
}

/// Tasks of one concurrency key run at most K at a time and start in push order, across
/// retries and expired leases; keyless tasks are not held back; raising K lets more run,
/// removing the limit lets every due task run, and a lowered limit holds at the next claim.
///
/// Jobs: 1, 2, 3, 4, 5, 6 under key `a`; 11, 12, 13, 14, 15 under key `b`; 100 without a key.
pub async fn key_concurrency<B: KeyConcurrency + Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    assert_eq!(
        ok("max_running_per_key", backend.max_running_per_key().await),
        None,
        "a new queue has no per-key limit"
    );
    ok("set_max_running_per_key", backend.set_max_running_per_key(Some(1)).await);
    assert_eq!(ok("max_running_per_key", backend.max_running_per_key().await), Some(1));
    for (n, key) in [(1, Some("a")), (11, Some("b")), (2, Some("a")), (100, None), (3, Some("a")), (12, Some("b"))] {
        push_keyed(&backend, n, key).await;
    }

    // Concurrent claimers take each key's first task and the keyless one, nothing more.
    let claims = (0..4).map(|_| claim(&backend, 5, LEASE));
    let first: Vec<ClaimedTask> = futures_util::future::join_all(claims).await.into_iter().flatten().collect();
    let more = claim(&backend, 10, LEASE).await;
    let mut got = numbers(&first);
    got.extend(numbers(&more));
    assert_eq!(
        got,
        BTreeSet::from([1, 11, 100]),
        "conformance: with one running per key, concurrent claims must take the first task of each key and the keyless one"
    );
    let a1 = first.iter().chain(&more).find(|t| decode(t).n == 1).cloned();
    let b1 = first.iter().chain(&more).find(|t| decode(t).n == 11).cloned();
    let plain = first.iter().chain(&more).find(|t| decode(t).n == 100).cloned();
    let (Some(a1), Some(b1), Some(plain)) = (a1, b1, plain) else { unreachable!("checked above") };

    // A retry keeps its key's turn: job 1 runs again before job 2.
    let retry = Outcome::Retry { delay: Duration::ZERO, error: "conformance: retry".into() };
    ok("complete (retry)", backend.complete(vec![Completion { lease: a1.lease(), outcome: retry }]).await);
    let again = expect_claim(&backend, &[1], LEASE, "a retried task must run before the next task of its key").await;
    assert_eq!(again[0].attempt, 2, "conformance: the retried task's second attempt");

    // Done, it frees the key for job 2 (not job 3); the keyless job does not count.
    done(&backend, &[&again[0], &plain]).await;
    let a2 = expect_claim(&backend, &[2], SHORT_LEASE, "the key's next task in push order").await;

    // Key b moves on by itself.
    done(&backend, &[&b1]).await;
    let b2 = expect_claim(&backend, &[12], LEASE, "another key is not held back by key a").await;

    // Job 2's lease expires (its worker died): job 2 runs again, still before job 3.
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;
    let a2_again =
        expect_claim(&backend, &[2], LEASE, "after an expired lease the same task must run again first").await;
    assert_eq!(a2_again[0].attempt, 2, "conformance: the expired task's second attempt");
    let stale = Completion { lease: a2[0].lease(), outcome: Outcome::Done };
    ok("complete (stale)", backend.complete(vec![stale]).await);
    assert!(claim(&backend, 10, LEASE).await.is_empty(), "conformance: a stale completion must not free the key");
    done(&backend, &[&a2_again[0], &b2[0]]).await;
    let a3 = expect_claim(&backend, &[3], LEASE, "the key's next task once the expired one finished").await;

    // Two per key: with job 3 running, job 4 may start but not job 5; then job 5 once 3 is done.
    ok("set_max_running_per_key", backend.set_max_running_per_key(Some(2)).await);
    for n in [4, 5, 6] {
        push_keyed(&backend, n, Some("a")).await;
    }
    let a4 = expect_claim(&backend, &[4], LEASE, "with two per key and one running, one more").await;
    done(&backend, &[&a3[0]]).await;
    let a5 = expect_claim(&backend, &[5], LEASE, "two per key: the next in push order once one finished").await;

    // Without the limit, keys are ignored: job 6 runs beside 4 and 5.
    ok("set_max_running_per_key", backend.set_max_running_per_key(None).await);
    assert_eq!(ok("max_running_per_key", backend.max_running_per_key().await), None);
    let a6 = expect_claim(&backend, &[6], LEASE, "without a per-key limit every due task is claimable").await;
    done(&backend, &[&a4[0], &a5[0], &a6[0]]).await;

    // A lowered limit holds from the next claim on, even in a process whose claims of the
    // queue kept finding work: two of key b run, the limit drops to one, one finishes, and
    // the third must still wait.
    ok("set_max_running_per_key", backend.set_max_running_per_key(Some(2)).await);
    for n in [13, 14, 15] {
        push_keyed(&backend, n, Some("b")).await;
    }
    let two = claim_n(&backend, 2, LEASE, Duration::from_secs(2)).await;
    assert_eq!(numbers(&two), BTreeSet::from([13, 14]), "conformance: two per key: the key's first two");
    ok("set_max_running_per_key", backend.set_max_running_per_key(Some(1)).await);
    let first = two.iter().find(|t| decode(t).n == 13).cloned();
    let second = two.iter().find(|t| decode(t).n == 14).cloned();
    let (Some(first), Some(second)) = (first, second) else { unreachable!("checked above") };
    done(&backend, &[&first]).await;
    let early = claim(&backend, 10, LEASE).await;
    assert!(
        early.is_empty(),
        "conformance: with the limit lowered to one and one of the key running, a claim took {:?}",
        numbers(&early)
    );
    done(&backend, &[&second]).await;
    let last = expect_claim(&backend, &[15], LEASE, "the key's last task once the running one finished").await;
    done(&backend, &[&last[0]]).await;
}

/// A backend without per-key concurrency refuses a push with a concurrency key, with
/// [`BackendError::Unsupported`] naming it, and stores nothing.
pub async fn refuses_concurrency_keys<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let refused = backend.push_with(TestJob::ok(1), PushOptions::new().concurrency_key("customer:7")).await;
    match refused {
        Err(BackendError::Unsupported(message)) => assert!(
            message.contains("concurrency key") && message.contains("customer:7"),
            "conformance: the refusal must name the concurrency key: {message}"
        ),
        Err(other) => panic!("conformance: a concurrency key must be refused as Unsupported, got: {other}"),
        Ok(id) => panic!("conformance: a push with a concurrency key was accepted ({id}) by a backend without them"),
    }
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "conformance: a refused push stored a task");
}
