//! Checks beyond the conformance suite: many workers on separate pools (as separate processes
//! would be) with retries, concurrent setup, concurrent unique pushes, chunked bulk pushes,
//! retention, configuration errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_core::{
    Attempt, Backend, BackendError, Backoff, BoxDynError, ClaimRequest, Completion, Data, Enqueue, Inspect, ListQuery,
    Outcome, PushOptions, Status, WorkerBuilder,
};
use drover_mysql::{MysqlConfig, MysqlStorage, Retention};

type Runs = Arc<Mutex<HashMap<u64, Vec<u32>>>>;

/// Every fifth job fails on its first attempt; every job is recorded with its attempt.
async fn flaky(job: u64, attempt: Attempt, runs: Data<Runs>) -> Result<(), BoxDynError> {
    runs.lock().unwrap().entry(job).or_default().push(attempt.0);
    if job.is_multiple_of(5) && attempt.0 == 1 {
        return Err("first attempt fails".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_workers_on_separate_pools_process_each_job_once() {
    let queue = support::queue("many");
    let producer: MysqlStorage<u64> =
        MysqlStorage::new_with_config(support::pool().await, MysqlConfig::new(queue.clone()));
    let n = 1_500u64;
    producer.push_bulk(0..n).await.unwrap();
    let runs: Runs = Arc::default();
    let mut stops = Vec::new();
    let mut handles = Vec::new();
    for w in 0..4 {
        let storage: MysqlStorage<u64> =
            MysqlStorage::new_with_config(support::pool().await, MysqlConfig::new(queue.clone()));
        let worker = WorkerBuilder::new(format!("many-{w}"))
            .backend(storage)
            .concurrency(12)
            .poll_interval(Duration::from_millis(20))
            .backoff(Backoff::constant(Duration::from_millis(10)))
            .data(runs.clone())
            .build_fn(flaky);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        handles.push(tokio::spawn(worker.run_until(async move {
            let _ = stopped.await;
        })));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stats = producer.stats().await.unwrap();
        if stats.done == n {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not finished: {stats:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for stop in stops {
        let _ = stop.send(());
    }
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), n as usize, "every job ran");
    for (job, attempts) in runs.iter() {
        let expected = if job.is_multiple_of(5) { vec![1, 2] } else { vec![1] };
        assert_eq!(attempts, &expected, "job {job} ran with attempts {attempts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_runs_concurrently_and_repeatedly() {
    let pool = support::pool().await;
    let mut handles = Vec::new();
    for _ in 0..4 {
        let pool = pool.clone();
        handles.push(tokio::spawn(async move { MysqlStorage::setup(&pool).await }));
    }
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    let versions: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM drover_migrations ORDER BY version").fetch_all(&pool).await.unwrap();
    assert_eq!(versions, vec![(1,), (2,), (3,), (4,), (5,), (6,), (7,)], "each migration is recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_of_one_unique_key_store_one_task() {
    let storage = support::storage::<u64>("unique").await;
    let mut handles = Vec::new();
    for i in 0..8u64 {
        let storage = storage.clone();
        handles.push(tokio::spawn(async move {
            storage.push_with(i, PushOptions::new().unique_key("same")).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for handle in handles {
        ids.push(handle.await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "every push must return the one task's id: {ids:?}");
    assert_eq!(storage.stats().await.unwrap().pending, 1);

    // In one batch, a repeated key gives the first task's id; keys are case-sensitive.
    let batch = storage
        .enqueue(vec![
            drover_core::NewTask::new(b"1".to_vec(), PushOptions::new().unique_key("b")),
            drover_core::NewTask::new(b"2".to_vec(), PushOptions::new().unique_key("b")),
            drover_core::NewTask::new(b"3".to_vec(), PushOptions::new().unique_key("B")),
            drover_core::NewTask::new(b"4".to_vec(), PushOptions::new().unique_key("same")),
        ])
        .await
        .unwrap();
    assert_eq!(batch[0], batch[1]);
    assert_ne!(batch[0], batch[2]);
    assert_eq!(batch[3], ids[0]);
    let too_long = storage.push_with(1, PushOptions::new().unique_key("k".repeat(300))).await.unwrap_err();
    assert!(too_long.to_string().contains("255"), "{too_long}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_push_in_chunks_is_all_there_in_order() {
    let pool = support::pool().await;
    let storage: MysqlStorage<u64> =
        MysqlStorage::new_with_config(pool, MysqlConfig::new(support::queue("chunks")).set_enqueue_chunk(7));
    let ids = storage.push_bulk(0..100u64).await.unwrap();
    assert_eq!(ids.len(), 100);
    let listed = storage.list(ListQuery::new(None, 200)).await.unwrap();
    assert_eq!(listed.len(), 100);
    // Ids made in the same millisecond are not ordered among themselves (ULIDs), so compare
    // sets, and check the listing order by id.
    let mut pushed = ids.clone();
    pushed.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), pushed, "listed newest (highest id) first");
    let mut payloads: Vec<u64> = listed.iter().map(|t| serde_json::from_slice(&t.payload).unwrap()).collect();
    payloads.sort_unstable();
    assert_eq!(payloads, (0..100).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_old_finished_tasks_in_batches() {
    let pool = support::pool().await;
    let retention = Retention::default().done(Some(Duration::ZERO)).dead(None).cancelled(Some(Duration::ZERO)).batch(3);
    let storage: MysqlStorage<u64> =
        MysqlStorage::new_with_config(pool, MysqlConfig::new(support::queue("prune")).set_retention(retention));
    storage.push_bulk(0..10u64).await.unwrap();
    let claimed = drover_conformance::claim(&storage, 10, Duration::from_secs(30)).await;
    let mut batch: Vec<Completion> =
        claimed[..7].iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    batch.push(Completion { lease: claimed[7].lease(), outcome: Outcome::Dead { error: "bad".into() } });
    storage.complete(batch).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(storage.prune().await.unwrap().done, 7, "the 7 done tasks go, 3 rows at a time");
    let stats = storage.stats().await.unwrap();
    assert_eq!((stats.done, stats.dead, stats.running), (0, 1, 2), "{stats:?}");
    let refused = drover_core::Prune::prune_batch(&storage, Status::Running, Duration::ZERO, 10).await.unwrap_err();
    assert!(refused.to_string().contains("finished"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_and_missing_tables_say_what_to_do() {
    let pool = support::pool().await;
    let long = MysqlStorage::<u64>::new_with_config(pool.clone(), MysqlConfig::new("q".repeat(192)));
    let error = long.push(1).await.unwrap_err();
    assert!(matches!(error, BackendError::Config(_)) && error.to_string().contains("191"), "{error}");
    let claimed = long.claim(ClaimRequest::new("t", 1, Duration::from_secs(1))).await.unwrap_err();
    assert!(claimed.to_string().contains("set_queue"), "{claimed}");
    assert!(MysqlStorage::<u64>::new_with_config(pool, MysqlConfig::new("")).push(1).await.is_err());

    // A database without Drover's tables.
    let url = support::url();
    let admin = sqlx::MySqlPool::connect(&url).await.unwrap();
    sqlx::query("CREATE DATABASE IF NOT EXISTS drover_empty").execute(&admin).await.unwrap();
    let base = url.rsplit_once('/').map(|(base, _)| base.to_owned()).unwrap();
    let empty = sqlx::MySqlPool::connect(&format!("{base}/drover_empty")).await.unwrap();
    let storage: MysqlStorage<u64> = MysqlStorage::new(empty);
    let error = storage.push(1).await.unwrap_err();
    assert!(error.to_string().contains("MysqlStorage::setup"), "{error}");
    assert_eq!(storage.queue(), "u64");
}
