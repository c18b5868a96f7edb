//! Limits across worker processes, against the real server (`MYSQL_URL`), and the claim's
//! count of live leases when it had to wait for the queue's settings row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use drover_conformance::TestJob;
use drover_core::{Backend, ClaimRequest, Enqueue, GlobalConcurrency, GlobalRate, Inspect, Rate};
use drover_mysql::{MysqlConfig, MysqlStorage};

/// The multi-process tests take turns: each starts 4 worker processes, and three at once on a
/// 2-core machine (12 workers, the server and the parents) starved the rate test's claims of
/// CPU for whole tens of milliseconds, which a rate cannot make up for (one second at 176 of
/// 200). Child processes run one test each, so they take this lock uncontended.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// 4 processes x concurrency 20 on a queue capped at 5, one killed with SIGKILL midway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_concurrency_across_processes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    drover_conformance::processes::global_concurrency("global_concurrency_across_processes", |queue| async move {
        MysqlStorage::<TestJob>::new_with_config(support::pool().await, MysqlConfig::new(queue))
    })
    .await;
}

/// 4 processes x concurrency 20 on a queue limited to 200 starts a second, for 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_rate_across_processes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    drover_conformance::processes::global_rate("global_rate_across_processes", |queue| async move {
        MysqlStorage::<TestJob>::new_with_config(support::pool().await, MysqlConfig::new(queue))
    })
    .await;
}

/// 1,000 jobs over 10 keys with one running per key, on 4 processes x concurrency 20, one
/// killed with SIGKILL midway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_concurrency_across_processes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    drover_conformance::processes::key_concurrency("key_concurrency_across_processes", |queue| async move {
        MysqlStorage::<TestJob>::new_with_config(support::pool().await, MysqlConfig::new(queue))
    })
    .await;
}

/// The queue's name as the claim's text queries spell it (`X'…'`), to find them among the
/// server's transactions.
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Another transaction holds the queue's settings row, leases tasks and commits only once a
/// limited claim waits for that row: the claim, granted the lock after that commit, counts
/// those leases (its count runs in a statement with a snapshot taken after the lock) and takes
/// nothing past the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_waiting_for_the_lock_counts_leases_committed_meanwhile() {
    let pool = support::pool().await;
    let queue = support::queue("lock-wait");
    let storage: MysqlStorage<TestJob> = MysqlStorage::new_with_config(pool.clone(), MysqlConfig::new(queue.clone()));
    storage.set_max_running(Some(3)).await.unwrap();
    storage.push_bulk((0..6).map(TestJob::ok)).await.unwrap();

    let mut other = pool.acquire().await.unwrap();
    sqlx::query("START TRANSACTION").execute(&mut *other).await.unwrap();
    sqlx::query("SELECT queue FROM drover_queue_settings WHERE queue = ? FOR UPDATE")
        .bind(&queue)
        .fetch_one(&mut *other)
        .await
        .unwrap();
    let leased = sqlx::query(
        "UPDATE drover_tasks SET status = 'running', attempt = attempt + 1, token = 1, worker = 'other', \
         lease_expires_at = UTC_TIMESTAMP(6) + INTERVAL 60 SECOND, updated_at = UTC_TIMESTAMP(6) \
         WHERE queue = ? AND status = 'pending' ORDER BY id LIMIT 3",
    )
    .bind(&queue)
    .execute(&mut *other)
    .await
    .unwrap();
    assert_eq!(leased.rows_affected(), 3);

    let claimer = storage.clone();
    let claim =
        tokio::spawn(async move { claimer.claim(ClaimRequest::new("waiter", 5, Duration::from_secs(30))).await });
    // Until the claim runs its locking read of the settings row, which cannot pass `other`'s
    // lock. (MariaDB 10.11 waits for that lock of a primary key lookup while optimizing, in
    // state "Statistics", before INNODB_TRX lists the transaction: the process list it is.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE '%FROM drover_queue_settings%' AND INFO LIKE '%FOR UPDATE%' AND INFO LIKE ?",
        )
        .bind(format!("%{}%", hex(&queue)))
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        if claim.is_finished() || tokio::time::Instant::now() >= deadline {
            if claim.is_finished() {
                let got = claim.await.unwrap().map(|t| t.len());
                panic!("the claim ended before the lock was released: {got:?}");
            }
            let trx: Vec<(Option<String>, Option<String>)> =
                sqlx::query_as("SELECT STATE, INFO FROM information_schema.PROCESSLIST")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            panic!("the claim never waited for the settings row's lock: {trx:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sqlx::query("COMMIT").execute(&mut *other).await.unwrap();

    let claimed = claim.await.unwrap().unwrap();
    assert!(claimed.is_empty(), "3 leases committed while the claim waited, cap 3: it took {} more", claimed.len());
    assert_eq!(storage.stats().await.unwrap().running, 3);
}

/// A cap and a rate together: the rate's first grant is its burst (1 at 10/s), the cap holds
/// after that; removing both makes every task claimable again by the plain claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_and_rate_together_then_neither() {
    let storage: MysqlStorage<TestJob> = support::storage("cap-rate").await;
    storage.set_max_running(Some(2)).await.unwrap();
    storage.set_rate(Some(Rate::new(10, Duration::from_secs(1)))).await.unwrap();
    storage.push_bulk((0..10).map(TestJob::ok)).await.unwrap();
    let request = || ClaimRequest::new("w", 10, Duration::from_secs(30));
    let first = storage.claim(request()).await.unwrap();
    assert_eq!(first.len(), 1, "a rate of 10/s grants its burst of 1 at first");
    let second = storage.claim(request()).await.unwrap();
    assert_eq!(second.len(), 1, "the next start comes 100 ms later (the claim waits for it)");
    let third = storage.claim(request()).await.unwrap();
    assert!(third.is_empty(), "the cap of 2 holds: {} more", third.len());
    storage.set_max_running(None).await.unwrap();
    storage.set_rate(None).await.unwrap();
    let rest = storage.claim(request()).await.unwrap();
    assert_eq!(rest.len(), 8, "without limits the rest is claimable at once");
    let payload: serde_json::Value = serde_json::from_slice(&first[0].payload).unwrap();
    assert!(payload.is_object(), "a limited claim returns the payloads: {payload}");
}

/// One per key, 500 tasks of key `a` pushed before one of key `b`: a claim takes the first
/// of each (the per-key filter runs before the claim's candidate window is cut, so a key
/// behind a long run of another's tasks is not starved), then nothing more while they run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_behind_a_long_run_of_another_key_is_claimed() {
    use drover_core::{KeyConcurrency, NewTask, PushOptions};
    let storage: MysqlStorage<TestJob> = support::storage("keys-block").await;
    storage.set_max_running_per_key(Some(1)).await.unwrap();
    let task = |n: u64, key: &str| {
        NewTask::new(serde_json::to_vec(&TestJob::ok(n)).unwrap(), PushOptions::new().concurrency_key(key))
    };
    storage.enqueue((0..500).map(|n| task(n, "a")).collect()).await.unwrap();
    storage.enqueue(vec![task(1_000, "b")]).await.unwrap();
    let request = || ClaimRequest::new("w", 10, Duration::from_secs(30));
    let claimed = storage.claim(request()).await.unwrap();
    let mut numbers: Vec<u64> =
        claimed.iter().map(|t| serde_json::from_slice::<TestJob>(&t.payload).unwrap().n).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, vec![0, 1_000], "the first task of each key");
    assert!(storage.claim(request()).await.unwrap().is_empty(), "one per key, both keys running");
    let listed = storage.get(claimed[0].id).await.unwrap().unwrap();
    assert!(listed.concurrency_key.is_some(), "the key is stored and read back: {listed:?}");
}
