//! nats-server killed with SIGKILL in the middle of a drain and started again on the same port
//! and file store: the worker reconnects by itself, every job completes (at least once), and
//! only jobs held, or just acked, at the moment of the kill may run twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use drover_conformance::{start_worker, wait_until, Action, Recorder, TestJob};
use drover_core::{Enqueue, TaskId};
use drover_nats::{NatsConfig, NatsStorage, NatsStorageType};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_survives_a_server_restart() {
    let mut server = common::PrivateNats::start("restart");
    let config = NatsConfig::new(server.url())
        .set_queue(format!("restart{}", TaskId::new()))
        .set_storage(NatsStorageType::File)
        .set_ack_wait(Duration::from_secs(5));
    let storage: NatsStorage<TestJob> = NatsStorage::connect(config).await.expect("connect to the private nats-server");
    let n = 3_000u64;
    storage.push_bulk((0..n).map(|i| TestJob::with(i, Action::Sleep(5)))).await.expect("push");
    let recorder = Recorder::default();
    let worker = start_worker("restart", storage.clone(), &recorder, 10);
    wait_until("the drain is under way", Duration::from_secs(30), || recorder.finished() >= 300).await;

    // Claims held while the server is down (running, claimed ahead, or with an ack on its
    // way): their acks may be lost, so these may run twice. The most held at any moment of
    // the outage bounds the re-runs.
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn({
        let (storage, sampling) = (storage.clone(), sampling.clone());
        async move {
            let mut most = storage.held_claims();
            while sampling.load(Ordering::Relaxed) {
                most = most.max(storage.held_claims());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            most
        }
    });
    let half_a_second_ago = recorder.finished();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = recorder.finished();
    server.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = recorder.finished();
    server.restart();
    let restarted = tokio::time::Instant::now();
    sampling.store(false, Ordering::Relaxed);
    let in_flight = sampler.await.expect("the sampler ran");
    assert!((before as u64) < n, "the drain finished before the server was killed; the test proves nothing");

    let deadline = restarted + Duration::from_secs(30);
    while (recorder.finished_counts().len() as u64) < n {
        if tokio::time::Instant::now() > deadline {
            let missing = n - recorder.finished_counts().len() as u64;
            let depths = storage.depths().await;
            panic!(
                "{missing} of {n} jobs never completed within 30 s of the restart; the storage holds {} claims; \
                 depths {depths:?}",
                storage.held_claims()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained_in = restarted.elapsed();
    // Deliveries whose acks the outage lost come back after ack_wait: wait for the server to
    // hold nothing (no ready and no unacked message), so those re-runs are counted too.
    let settle = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let depths = storage.depths().await;
        if matches!(depths, Ok(d) if d.ready == 0 && d.ack_pending == 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < settle,
            "the server still holds messages 20 s after the drain: {depths:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.stop().await.expect("the worker ran through the restart and stops cleanly");
    let counts = recorder.finished_counts();
    assert_eq!(counts.len() as u64, n, "every job must complete at least once");
    assert!(counts.keys().all(|k| *k < n), "only the pushed jobs ran");
    let again = counts.values().filter(|c| **c > 1).count();
    let most = counts.values().max().copied().unwrap_or(0);
    eprintln!(
        "{n} jobs: {before} done before the kill, {during} when the server came back, all done {drained_in:.1?} after \
         the restart; {again} ran twice (at most {most} runs of one job); at most {in_flight} claims held during the outage"
    );
    let depths = storage.depths().await.expect("depths after the drain");
    assert_eq!((depths.ready, depths.delayed, depths.dead), (0, 0, 0), "nothing left behind: {depths:?}");
    // SIGKILL also loses what the server had not yet written: nats-server writes a consumer's
    // acks and a work-queue stream's deletions to its file store asynchronously, so jobs acked
    // before the kill can come back after ack_wait as if never acked. Usually those are the
    // jobs held during the outage plus those finished in the half second before the kill (the
    // bound printed below); under load nats-server 2.9.10 sometimes comes back with far older
    // state (3 of 32 runs beside a busy loop, with this crate's code before and after the pull
    // grace: 726, 951 and 952 re-runs of about 700-990 done before the kill). So the hard
    // bound is every job done or held at the kill, each at most once more.
    let unwritten = before - half_a_second_ago;
    let usual = in_flight + unwritten + 20;
    let bound = before + in_flight + 20;
    eprintln!(
        "re-runs {again}: usually at most {usual} ({in_flight} held + {unwritten} finished in the 500 ms before the \
         kill + 20), at most {bound} ({before} done before the kill + {in_flight} held + 20)"
    );
    assert!(again <= bound, "only jobs done or held at the kill may run twice: {again} ran twice, bound {bound}");
    assert!(most <= 2, "one outage makes a job run at most twice; one ran {most} times");
    storage.delete_streams().await.unwrap();
}
