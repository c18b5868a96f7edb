//! The pipe on a controlled clock (`Pipe::step`), against the memory storage: two nodes share
//! ticks, a node back from a downtime follows the catch-up policy from the stored last tick,
//! overlap skips ticks; and, in real time, the Tick extractor and the in-memory CronSource.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use drover_core::{
    Backend, BoxDynError, ClaimRequest, Completion, Data, Inspect, ListQuery, MemoryStorage, Outcome, PushTicks,
    TickPushed, WorkerBuilder,
};
use drover_cron::{CatchUp, CronJob, CronSource, Overlap, Schedule, ScheduleError, Tick};

#[derive(Default, Debug, serde::Serialize, serde::Deserialize)]
struct Beat;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, s).unwrap()
}

fn minutely(name: &str) -> CronJob<Beat> {
    CronJob::new(name, Schedule::cron("* * * * *").unwrap()).unwrap()
}

fn pushed(results: &[(DateTime<Utc>, TickPushed)]) -> Vec<DateTime<Utc>> {
    results.iter().filter(|(_, p)| matches!(p, TickPushed::Pushed(_))).map(|(t, _)| *t).collect()
}

#[tokio::test]
async fn two_nodes_push_each_tick_once() {
    let storage = MemoryStorage::<Beat>::named("two-nodes");
    let a = minutely("m").pipe_to(storage.clone());
    let b = minutely("m").pipe_to(storage.clone());
    for minute in 1..=5 {
        let now = at(10, minute, 0) + chrono::TimeDelta::milliseconds(5);
        let first = a.step(now).await.unwrap();
        let second = b.step(now + chrono::TimeDelta::milliseconds(3)).await.unwrap();
        assert_eq!(pushed(&first), vec![at(10, minute, 0)], "the first node pushes the tick");
        assert!(second.is_empty(), "the second node finds the tick pushed: {second:?}");
    }
    assert_eq!(storage.stats().await.unwrap().pending, 5, "five ticks, five tasks");
}

async fn back_after_downtime(catch_up: CatchUp) -> Vec<DateTime<Utc>> {
    let storage = MemoryStorage::<Beat>::named("downtime");
    let pipe = minutely("m").catch_up(catch_up).pipe_to(storage);
    assert_eq!(pushed(&pipe.step(at(10, 0, 0)).await.unwrap()), vec![at(10, 0, 0)]);
    // Down from 10:00:30 to 10:05:30: the ticks of 10:01 to 10:05 were missed.
    pushed(&pipe.step(at(10, 5, 30)).await.unwrap())
}

#[tokio::test]
async fn a_node_back_from_downtime_follows_its_catch_up_policy() {
    assert_eq!(back_after_downtime(CatchUp::Skip).await, Vec::<DateTime<Utc>>::new());
    assert_eq!(back_after_downtime(CatchUp::Last).await, vec![at(10, 5, 0)]);
    assert_eq!(
        back_after_downtime(CatchUp::All { max: 3 }).await,
        vec![at(10, 3, 0), at(10, 4, 0), at(10, 5, 0)],
        "the newest 3 missed ticks, oldest first"
    );
    assert_eq!(back_after_downtime(CatchUp::All { max: 10 }).await.len(), 5);
}

#[tokio::test]
async fn overlap_skip_waits_for_the_previous_ticks_task() {
    let storage = MemoryStorage::<Beat>::named("overlap");
    let pipe = minutely("m").overlap(Overlap::Skip).pipe_to(storage.clone());
    let first = pipe.step(at(10, 1, 0)).await.unwrap();
    let TickPushed::Pushed(id) = first[0].1 else { panic!("{first:?}") };
    let skipped = pipe.step(at(10, 2, 0)).await.unwrap();
    assert_eq!(skipped, vec![(at(10, 2, 0), TickPushed::Overlapped(id))]);
    let claimed = storage.claim(ClaimRequest::new("w", 10, Duration::from_secs(30))).await.unwrap();
    assert_eq!(claimed.len(), 1, "the skipped tick pushed nothing");
    storage.complete(vec![Completion { lease: claimed[0].lease(), outcome: Outcome::Done }]).await.unwrap();
    assert_eq!(pushed(&pipe.step(at(10, 3, 0)).await.unwrap()), vec![at(10, 3, 0)], "done: the next tick runs");
}

#[tokio::test]
async fn info_lists_last_and_next_ticks() {
    let storage = MemoryStorage::<Beat>::named("info");
    let pipe = minutely("m").pipe_to(storage.clone());
    let info = pipe.info_at(at(10, 0, 30)).await.unwrap();
    assert_eq!((info.last_tick, info.next_tick), (None, Some(at(10, 1, 0))));
    pipe.step(at(10, 1, 0)).await.unwrap();
    let info = pipe.info_at(at(10, 1, 0)).await.unwrap();
    assert_eq!((info.name.as_str(), info.queue.as_str(), info.schedule.as_str()), ("m", "info", "* * * * * (UTC)"));
    assert_eq!((info.last_tick, info.next_tick), (Some(at(10, 1, 0)), Some(at(10, 2, 0))));
    assert_eq!(info.last_task, storage.tick_record("m").await.unwrap().and_then(|r| r.last_task));
}

#[test]
fn bad_names_are_refused_with_the_rule() {
    for name in ["", "   ", "a\nb", &"x".repeat(192)] {
        let error = CronJob::<Beat>::new(name, Schedule::cron("* * * * *").unwrap()).unwrap_err();
        assert!(matches!(error, ScheduleError::Name(_)), "{error}");
        assert!(error.to_string().contains("1 to 191 bytes"), "{error}");
    }
}

type Seen = Arc<Mutex<Vec<DateTime<Utc>>>>;

async fn record(_job: Beat, tick: Tick, seen: Data<Seen>) -> Result<(), BoxDynError> {
    seen.lock().unwrap().push(tick.at());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piped_tick_reaches_its_handler_through_the_extractor() {
    let storage = MemoryStorage::<Beat>::named("extract");
    let pipe = minutely("m").pipe_to(storage.clone());
    pipe.step(at(10, 7, 0)).await.unwrap();
    let seen: Seen = Arc::default();
    let worker = WorkerBuilder::new("w").backend(storage.clone()).data(seen.clone()).build_fn(record);
    let probe = storage.clone();
    worker
        .run_until(async move {
            while probe.stats().await.unwrap().done < 1 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![at(10, 7, 0)], "the handler sees the tick, not the run time");

    // A task no schedule pushed fails with an error that says so.
    use drover_core::Enqueue;
    let stray = storage.push(Beat).await.unwrap();
    let worker = WorkerBuilder::new("w").backend(storage.clone()).data(seen.clone()).build_fn(record);
    let probe = storage.clone();
    worker
        .run_until(async move {
            while probe.get(stray).await.unwrap().unwrap().last_error.is_none() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
    let error = storage.get(stray).await.unwrap().unwrap().last_error.unwrap();
    assert!(error.contains("was not pushed by a cron schedule"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_source_runs_its_ticks_in_this_process() {
    let job = CronJob::<Beat>::new("fast", Schedule::every(Duration::from_millis(100)).unwrap()).unwrap();
    let source = CronSource::new(job);
    let memory = source.storage().clone();
    let seen: Seen = Arc::default();
    let worker = WorkerBuilder::new("w").backend(source).data(seen.clone()).build_fn(record);
    worker.run_until(tokio::time::sleep(Duration::from_millis(650))).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 4, "about 6 ticks of 100 ms in 650 ms, got {seen:?}");
    for pair in seen.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::TimeDelta::milliseconds(100), "one run per tick, in order: {seen:?}");
    }
    let tasks = memory.list(ListQuery::new(None, 100)).await.unwrap();
    assert!(tasks.iter().all(|t| Tick::of(t.id).is_some()), "every task is a tick's");
}
