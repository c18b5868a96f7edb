//! A message that becomes deliverable just as the pull waiting for it expires. nats-server
//! before 2.9.16 (CI runs 2.9.10) then drops the pull without the 408 that ends it
//! (nats-server#3942), and async-nats waits for the pull's expiry plus 5 s: a delay pump in
//! such a pull started a 2 s delayed job 7.0 s after its push (tests/delays.rs, once in CI),
//! and a claim in one took 5.1 s. The storage gives a pull up shortly after its expiry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use drover_conformance::{Action, TestJob};
use drover_core::{Backend, ClaimRequest, ClaimedTask, Completion, Enqueue, Outcome};
use drover_nats::NatsStorage;
use tokio::time::Instant;

async fn claim(storage: &NatsStorage<TestJob>) -> (Option<ClaimedTask>, Duration) {
    let started = Instant::now();
    let mut tasks = storage.claim(ClaimRequest::new("pull-expiry", 1, Duration::from_secs(30))).await.unwrap();
    (tasks.pop(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_due_as_the_claim_waiting_for_it_expires_does_not_stall_it() {
    let claim_wait = Duration::from_millis(100);
    let storage: NatsStorage<TestJob> = common::connect(common::config("pullexp").set_claim_wait(claim_wait)).await;
    let mut slowest = Duration::ZERO;
    for round in 0..32u64 {
        storage.push(TestJob::with(round, Action::Succeed)).await.unwrap();
        let task = loop {
            if let (Some(task), _) = claim(&storage).await {
                break task;
            }
        };
        // A delayed Nak due within a few milliseconds of the next claim's expiry (the claim's
        // pull reaches the server a little after the Nak): -3 ms to +0.75 ms.
        let delay = claim_wait - Duration::from_millis(3) + Duration::from_micros(250 * (round % 16));
        let retry = Outcome::Retry { delay, error: "again".into() };
        storage.complete(vec![Completion { lease: task.lease(), outcome: retry }]).await.unwrap();
        let back = loop {
            let (task, took) = claim(&storage).await;
            slowest = slowest.max(took);
            if let Some(task) = task {
                break task;
            }
        };
        storage.complete(vec![Completion { lease: back.lease(), outcome: Outcome::Done }]).await.unwrap();
    }
    eprintln!("32 retries due as a {claim_wait:?} claim expired: the slowest claim took {slowest:?}");
    assert!(
        slowest < claim_wait + Duration::from_secs(1),
        "a claim must end soon after its {claim_wait:?} wait, not after {slowest:?} (a pull the server dropped)"
    );
    storage.delete_streams().await.unwrap();
}
