//! Behaviour beyond the conformance suite: retention, listing pending and running tasks past
//! the first scan window, workers and queues, large transactions, pushes of many chunks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use drover_core::{
    Backend, ClaimRequest, Completion, Enqueue, EnqueueBatch, Inspect, ListQuery, Outcome, PushOptions, Status, TaskId,
};
use drover_redis::RedisStorage;

fn ns(name: &str) -> String {
    format!("{name}-{}", TaskId::new())
}

async fn finish_all(storage: &RedisStorage<u32>, outcome: Outcome) -> usize {
    let mut n = 0;
    loop {
        let claimed = storage.claim(ClaimRequest::new("t", 1000, Duration::from_secs(30))).await.unwrap();
        if claimed.is_empty() {
            return n;
        }
        n += claimed.len();
        let batch = claimed.iter().map(|t| Completion { lease: t.lease(), outcome: outcome.clone() }).collect();
        storage.complete(batch).await.unwrap();
    }
}

#[tokio::test]
async fn done_tasks_are_capped_oldest_first() {
    let storage: RedisStorage<u32> = common::storage(&ns("cap"), |c| c.set_done_cap(100)).await;
    let mut ids = storage.push_bulk(0..2_500).await.unwrap();
    ids.sort();
    assert_eq!(finish_all(&storage, Outcome::Done).await, 2_500);
    let stats = storage.stats().await.unwrap();
    assert_eq!(stats.done, 100, "{stats:?}");
    assert!(storage.get(ids[0]).await.unwrap().is_none(), "the oldest done task must be deleted");
    let newest = storage.get(ids[2_499]).await.unwrap().unwrap();
    assert_eq!(newest.status, Status::Done);
    let all = storage.list(ListQuery::new(None, 1000)).await.unwrap();
    assert_eq!(all.len(), 100, "deleted tasks must leave the id index too");
    storage.purge().await.unwrap();
}

#[tokio::test]
async fn finished_tasks_expire_after_their_ttl() {
    let storage: RedisStorage<u32> = common::storage(&ns("ttl"), |c| {
        c.set_done_ttl(Duration::from_millis(300)).set_dead_ttl(Duration::from_millis(300))
    })
    .await;
    let done = storage.push(1).await.unwrap();
    let dead = storage.push(2).await.unwrap();
    let claimed = storage.claim(ClaimRequest::new("t", 10, Duration::from_secs(30))).await.unwrap();
    let outcome = |id| if id == done { Outcome::Done } else { Outcome::Dead { error: "x".into() } };
    storage
        .complete(claimed.iter().map(|t| Completion { lease: t.lease(), outcome: outcome(t.id) }).collect())
        .await
        .unwrap();
    assert_eq!(storage.get(dead).await.unwrap().unwrap().status, Status::Dead);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // An idle claim does the age-based upkeep.
    assert!(storage.claim(ClaimRequest::new("t", 10, Duration::from_secs(30))).await.unwrap().is_empty());
    assert!(storage.get(done).await.unwrap().is_none(), "a done task past its TTL must be deleted");
    assert!(storage.get(dead).await.unwrap().is_none(), "a dead task past its TTL must be deleted");
    let stats = storage.stats().await.unwrap();
    assert_eq!((stats.done, stats.dead), (0, 0), "{stats:?}");
    storage.purge().await.unwrap();
}

#[tokio::test]
async fn pending_and_running_pages_scan_past_the_first_window() {
    let storage: RedisStorage<u32> = common::storage(&ns("pages"), |c| c).await;
    // 12,000 tasks; the 3 oldest are claimed, so running tasks sit behind more than two scan
    // windows (5,000 ids each) of pending ones.
    let mut ids = storage.push_bulk(0..12_000).await.unwrap();
    // Ids made in one millisecond are not ordered among themselves: compare with id order.
    ids.sort();
    // The claim takes the oldest by run time (the server's clock, which may tick between the
    // push's chunks), then id; listings go newest id first.
    let claimed = storage.claim(ClaimRequest::new("t", 3, Duration::from_secs(30))).await.unwrap();
    let mut taken: Vec<_> = claimed.iter().map(|t| t.id).collect();
    assert_eq!(taken.len(), 3);
    taken.sort();
    let running = storage.list(ListQuery::new(Some(Status::Running), 10)).await.unwrap();
    assert_eq!(running.iter().map(|t| t.id).collect::<Vec<_>>(), vec![taken[2], taken[1], taken[0]]);
    let page = storage.list(ListQuery::new(Some(Status::Running), 10).offset(2)).await.unwrap();
    assert_eq!(page.iter().map(|t| t.id).collect::<Vec<_>>(), vec![taken[0]]);
    let mut waiting: Vec<_> = ids.iter().copied().filter(|id| !taken.contains(id)).collect();
    waiting.reverse();
    let pending = storage.list(ListQuery::new(Some(Status::Pending), 3).offset(6_000)).await.unwrap();
    assert_eq!(pending.iter().map(|t| t.id).collect::<Vec<_>>(), waiting[6_000..6_003].to_vec());
    let stats = storage.stats().await.unwrap();
    assert_eq!((stats.pending, stats.running), (11_997, 3));
    storage.purge().await.unwrap();
}

#[tokio::test]
async fn workers_and_queues_are_listed() {
    let name = ns("seen");
    let storage: RedisStorage<u32> = common::storage(&name, |c| c).await;
    storage.push(1).await.unwrap();
    storage.claim(ClaimRequest::new("worker-a", 1, Duration::from_secs(30))).await.unwrap();
    let workers = storage.workers().await.unwrap();
    assert_eq!(workers.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), vec!["worker-a"]);
    let mut cursor = 0;
    let mut queues = Vec::new();
    loop {
        let (next, page) = storage.queues(cursor).await.unwrap();
        queues.extend(page);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(queues.contains(&name), "the queue must be registered on its first push");
    storage.purge().await.unwrap();
    assert!(storage.get(TaskId::new()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_transaction_of_many_chunks_commits_at_once() {
    let storage: RedisStorage<u32> = common::storage(&ns("tx"), |c| c).await;
    let mut tx = storage.begin_batch().await.unwrap();
    for n in 0..2_500 {
        storage.push_to(&mut tx, n, PushOptions::new()).await.unwrap();
    }
    assert_eq!(storage.stats().await.unwrap().pending, 0, "nothing is visible before commit");
    storage.commit_batch(tx).await.unwrap();
    assert_eq!(storage.stats().await.unwrap().pending, 2_500);
    storage.purge().await.unwrap();
}

#[tokio::test]
async fn unique_keys_hold_across_chunks_of_one_push() {
    let storage: RedisStorage<u32> = common::storage(&ns("uniq"), |c| c).await;
    let tasks: Vec<_> = (0..3_000u32)
        .map(|n| {
            let payload = serde_json::to_vec(&n).unwrap();
            drover_core::NewTask::new(payload, PushOptions::new().unique_key(format!("k{}", n % 1_500)))
        })
        .collect();
    let ids = storage.enqueue(tasks).await.unwrap();
    assert_eq!(ids.len(), 3_000);
    assert_eq!(ids[..1_500], ids[1_500..], "the second half must return the first half's ids");
    assert_eq!(storage.stats().await.unwrap().pending, 1_500);
    storage.purge().await.unwrap();
}

#[tokio::test]
async fn a_push_mixing_plain_and_other_tasks_keeps_each_tasks_options() {
    // Plain chunks go with two arguments per task, others with six: a push of 2,500 tasks
    // (three chunks) where only some tasks carry a priority, a delay or an attempt limit must
    // store every option of every task.
    let storage: RedisStorage<u32> = common::storage(&ns("mixed"), |c| c).await;
    let tasks: Vec<_> = (0..2_500u32)
        .map(|n| {
            let payload = serde_json::to_vec(&n).unwrap();
            let options = match n {
                // The second chunk (1,000..2,000) is all plain; the others mix.
                1_000..2_000 => PushOptions::new(),
                _ if n % 10 == 1 => PushOptions::new().priority(5),
                _ if n % 10 == 2 => PushOptions::new().delay(Duration::from_secs(3600)),
                _ if n % 10 == 3 => PushOptions::new().max_attempts(2),
                _ => PushOptions::new(),
            };
            drover_core::NewTask::new(payload, options)
        })
        .collect();
    let ids = storage.enqueue(tasks).await.unwrap();
    assert_eq!(ids.len(), 2_500);
    let stats = storage.stats().await.unwrap();
    // 1,500 tasks outside the plain chunk, a tenth of them delayed.
    assert_eq!((stats.pending, stats.scheduled), (2_500, 150), "{stats:?}");
    let claimed = storage.claim(ClaimRequest::new("t", 1_000, Duration::from_secs(30))).await.unwrap();
    assert_eq!(claimed.len(), 1_000);
    let firsts: Vec<u32> = claimed[..150].iter().map(|t| serde_json::from_slice(&t.payload).unwrap()).collect();
    assert!(firsts.iter().all(|n| n % 10 == 1 && !(1_000..2_000).contains(n)), "priority 5 first: {firsts:?}");
    for task in &claimed {
        let n: u32 = serde_json::from_slice(&task.payload).unwrap();
        let expected = if n % 10 == 3 && !(1_000..2_000).contains(&n) { 2 } else { 25 };
        assert_eq!(task.max_attempts, expected, "task {n}");
        assert!(n % 10 != 2 || (1_000..2_000).contains(&n), "task {n} was delayed an hour");
    }
    storage.purge().await.unwrap();
}
