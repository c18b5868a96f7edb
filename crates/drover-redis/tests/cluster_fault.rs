//! A master killed mid-drain on a Redis Cluster (three masters, three replicas, loopback ports
//! 7110-7115; see `support/cluster.rs`): three queues on three different masters, 3,000 jobs
//! pushed with `WAIT` for one replica, a worker per queue draining; the master of one queue's
//! slot gets SIGKILL while its queue is part done. Its replica takes over, every job id
//! completes (at least once: a completion the dead master took but had not replicated runs its
//! task again), and the workers keep going: jobs pushed after the failover complete too.
#![cfg(feature = "cluster")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/cluster.rs"]
mod cluster;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use drover_conformance::{handle, test_builder, Recorder, Running, TestJob};
use drover_core::{Enqueue, Inspect};
use drover_redis::{Config, RedisStorage};

const BASE_PORT: u16 = 7110;
const JOBS_PER_QUEUE: u64 = 1_000;
const QUEUES: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_killed_mid_drain_loses_nothing() {
    let started = Instant::now();
    let mut cluster = tokio::task::spawn_blocking(|| cluster::TestCluster::start(BASE_PORT))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot start the test cluster: {e}"));
    eprintln!("cluster up after {:?}", started.elapsed());

    // Three queues whose slots lie on three different masters.
    let run = drover_core::TaskId::new().to_string().to_lowercase();
    let mut queues: Vec<(String, u16, u16)> = Vec::new();
    for i in 0.. {
        let name = format!("fault-{run}-{i}");
        let slot = cluster.slot_of(&format!("drover:{{{name}}}:ready")).unwrap();
        let master = cluster.master_of_slot(slot).unwrap();
        if queues.iter().all(|(_, _, m)| *m != master) {
            queues.push((name, slot, master));
        }
        if queues.len() == QUEUES as usize {
            break;
        }
        assert!(i < 1_000, "no three queue names on three masters");
    }

    let conn = drover_redis::connect_cluster(&cluster.urls()).await.unwrap();
    let storages: Vec<RedisStorage<TestJob>> = queues
        .iter()
        .map(|(name, _, _)| {
            let config = Config::new(name.as_str()).set_wait_for_replicas(1, Duration::from_secs(2));
            RedisStorage::new_with_config(conn.clone(), config)
        })
        .collect();
    for (q, storage) in storages.iter().enumerate() {
        let first = q as u64 * JOBS_PER_QUEUE;
        // Each job sleeps 2 ms: a drain of a few seconds at concurrency 10, time to kill mid-way.
        let jobs = (first..first + JOBS_PER_QUEUE).map(|n| TestJob::with(n, drover_conformance::Action::Sleep(2)));
        storage.push_bulk(jobs).await.unwrap();
    }

    let recorder = Recorder::default();
    let workers: Vec<Running> = storages
        .iter()
        .enumerate()
        .map(|(q, storage)| {
            let worker = test_builder(&format!("fault-worker-{q}"), &recorder, 10)
                .lease(Duration::from_secs(2))
                .backend(storage.clone())
                .build_fn(handle);
            Running::start(worker)
        })
        .collect();

    // Kill the master of the first queue once about a third of the jobs are done.
    let (victim_queue, victim_slot, victim) = queues[0].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while recorder.finished() < (QUEUES * JOBS_PER_QUEUE / 3) as usize {
        assert!(Instant::now() < deadline, "the drain did not get a third of the way in 30 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done_at_kill = recorder.finished();
    cluster.kill_node(victim);
    // Queue 0 holds jobs 0..JOBS_PER_QUEUE: it is mid-drain, not finished.
    let victim_done = recorder.finished_counts().into_keys().filter(|n| *n < JOBS_PER_QUEUE).count();
    assert!(victim_done < JOBS_PER_QUEUE as usize, "the victim's queue was already drained");
    eprintln!(
        "killed master {victim} (slot {victim_slot}, queue {victim_queue}) after {done_at_kill} jobs, \
         {victim_done} of its queue's"
    );
    let new_master = {
        let cluster = &cluster;
        tokio::task::block_in_place(|| cluster.wait_for_slot(victim_slot, Duration::from_secs(20))).unwrap()
    };
    assert_ne!(new_master, victim);
    eprintln!("replica {new_master} took over after {:?}", started.elapsed());

    // After the failover the new master has no replica, so a push that waits for one would
    // fail: push more work to the failed-over queue without WAIT.
    let extra = RedisStorage::<TestJob>::new_with_config(conn.clone(), Config::new(victim_queue.as_str()));
    let first_extra = QUEUES * JOBS_PER_QUEUE;
    push_retrying(&extra, first_extra..first_extra + 100).await;

    let all: HashSet<u64> = (0..first_extra + 100).collect();
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let done: HashSet<u64> = recorder.finished_counts().into_keys().collect();
        let missing: Vec<u64> = all.difference(&done).copied().collect();
        if missing.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let mut sample = missing.clone();
            sample.sort_unstable();
            sample.truncate(20);
            panic!("{} jobs never completed after the failover, for example {sample:?}", missing.len());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reruns = recorder.finished() - all.len();
    eprintln!("every job done after {:?}; {reruns} ran more than once", started.elapsed());

    // A task whose completion died with the master runs again once its lease expires: wait
    // until no queue holds pending or running work, the workers still running.
    for storage in &storages {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let stats = storage.stats().await.unwrap();
            if stats.pending == 0 && stats.running == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "work left in {:?}: {stats:?}", storage.config().namespace());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for worker in workers {
        worker.stop().await.unwrap();
    }
    eprintln!("fault test done after {:?}", started.elapsed());
    drop(cluster);
}

/// Push jobs `ns`, retrying while the cluster settles after the failover.
async fn push_retrying(storage: &RedisStorage<TestJob>, ns: std::ops::Range<u64>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match storage.push_bulk(ns.clone().map(TestJob::ok)).await {
            Ok(_) => return,
            Err(e) if Instant::now() < deadline => {
                eprintln!("push after the failover failed, retrying: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot push after the failover: {e}"),
        }
    }
}
