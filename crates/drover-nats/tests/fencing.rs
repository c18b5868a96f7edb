//! Acks fenced by delivery, and unique keys and inspection across two storages (two
//! connections, as two processes would have), against the server at `NATS_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use drover_conformance::{claim, claim_n, TestJob};
use drover_core::{Backend, Completion, Enqueue, Inspect, Outcome, PushOptions, Status};
use drover_nats::NatsStorage;

/// Process A's claim outlives the server's ack_wait (no heartbeat), the server redelivers the
/// message to process B, then A completes: A's ack must not ack B's delivery, and its retry
/// must not publish a copy. B's completion is the one that counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_after_the_servers_ack_wait_does_not_ack_the_redelivery() {
    let config = common::config("fence").set_ack_wait(Duration::from_secs(1));
    let a: NatsStorage<TestJob> = common::connect(config.clone()).await;
    let b: NatsStorage<TestJob> = common::connect(config).await;
    let id = a.push(TestJob::ok(1)).await.unwrap();
    let first = claim(&a, 1, Duration::from_secs(60)).await;
    assert_eq!(first.len(), 1);

    // The server's ack_wait (1 s) runs out; B gets the redelivery.
    let second = claim_n(&b, 1, Duration::from_secs(60), Duration::from_secs(5)).await;
    assert_eq!(second.iter().map(|t| (t.id, t.attempt)).collect::<Vec<_>>(), vec![(id, 2)]);

    // A's completions (a retry and a done) are dropped: nothing acked, nothing copied.
    let retry = Outcome::Retry { delay: Duration::from_secs(600), error: "late".into() };
    a.complete(vec![Completion { lease: first[0].lease(), outcome: retry }]).await.unwrap();
    a.complete(vec![Completion { lease: first[0].lease(), outcome: Outcome::Done }]).await.unwrap();
    a.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let depths = a.depths().await.unwrap();
    assert_eq!((depths.ack_pending, depths.delayed), (1, 0), "A's stale completion reached the server: {depths:?}");
    let seen = a.get(id).await.unwrap().map(|i| (i.status, i.attempt));
    assert_eq!(seen, Some((Status::Running, 1)), "another process's claim reads as running");
    let held = b.get(id).await.unwrap().map(|i| (i.status, i.attempt, i.lease_expires_at.is_some()));
    assert_eq!(held, Some((Status::Running, 2, true)));

    // B's ack is honoured.
    b.complete(vec![Completion { lease: second[0].lease(), outcome: Outcome::Done }]).await.unwrap();
    b.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.depths().await.unwrap().ack_pending, 0);
    assert_eq!(a.get(id).await.unwrap().map(|i| i.status), Some(Status::Done));
    a.delete_streams().await.unwrap();
}

/// Twenty pushes of one key from two storages at once store one task, and every push returns
/// its id; once it is done, the key is free in both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_pushes_of_one_key_from_two_processes_store_one_task() {
    let config = common::config("uniq");
    let a: NatsStorage<TestJob> = common::connect(config.clone()).await;
    let b: NatsStorage<TestJob> = common::connect(config).await;
    let pushes = (0..20u64).map(|n| {
        let storage = if n % 2 == 0 { a.clone() } else { b.clone() };
        async move { storage.push_with(TestJob::ok(n), PushOptions::new().unique_key("one")).await.unwrap() }
    });
    let ids = futures_util::future::join_all(pushes).await;
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "pushes of one key returned different ids: {ids:?}");
    let claimed = claim_n(&a, 20, Duration::from_secs(30), Duration::from_secs(1)).await;
    assert_eq!(claimed.len(), 1, "one key, one stored task");
    let info = b.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(info.unique_key.as_deref(), Some("one"));
    a.complete(vec![Completion { lease: claimed[0].lease(), outcome: Outcome::Done }]).await.unwrap();
    let again = b.push_with(TestJob::ok(99), PushOptions::new().unique_key("one")).await.unwrap();
    assert_ne!(again, ids[0], "the key of a done task must be free in every process");
    a.delete_streams().await.unwrap();
}

/// Counts and pages see tasks pushed and claimed by another storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspection_sees_another_processs_tasks() {
    let config = common::config("insp");
    let a: NatsStorage<TestJob> = common::connect(config.clone()).await;
    let b: NatsStorage<TestJob> = common::connect(config).await;
    a.push_bulk((0..5).map(TestJob::ok)).await.unwrap();
    a.push_with(TestJob::ok(9), PushOptions::new().delay(Duration::from_secs(3600))).await.unwrap();
    let claimed = claim_n(&a, 2, Duration::from_secs(30), Duration::from_secs(2)).await;
    assert_eq!(claimed.len(), 2);
    let stats = b.stats().await.unwrap();
    assert_eq!((stats.pending, stats.scheduled, stats.running), (4, 1, 2), "{stats:?}");
    let running = b.list(drover_core::ListQuery::new(Some(Status::Running), 10)).await.unwrap();
    let mut ids: Vec<_> = running.iter().map(|t| t.id).collect();
    ids.sort();
    let mut want: Vec<_> = claimed.iter().map(|t| t.id).collect();
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(b.list(drover_core::ListQuery::new(Some(Status::Pending), 10)).await.unwrap().len(), 4);
    a.delete_streams().await.unwrap();
    assert_eq!(b.queue(), a.queue());
}

/// `enqueue` called again with the same keyed task (same id, say after a lost answer) stores
/// it once, without message ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_task_enqueued_twice_is_stored_once() {
    use drover_core::{Codec, JsonCodec, NewTask};
    let storage: NatsStorage<TestJob> = common::connect(common::config("uniq2")).await;
    let payload = <JsonCodec as Codec<TestJob>>::encode(&TestJob::ok(1)).unwrap();
    let task = NewTask::new(payload, PushOptions::new().unique_key("again"));
    let first = storage.enqueue(vec![task.clone()]).await.unwrap();
    let again = storage.enqueue(vec![task.clone()]).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first, vec![task.id]);
    assert_eq!(claim_n(&storage, 2, Duration::from_secs(30), Duration::from_secs(1)).await.len(), 1);
    storage.delete_streams().await.unwrap();
}
