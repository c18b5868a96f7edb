//! Recurring schedules' ticks: each (schedule, tick) pushed exactly once (`PushTicks`).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use drover_core::{
    Backend, Codec, Completion, NewTask, Outcome, Overlap, PushOptions, PushTicks, TaskId, TickPush, TickPushed,
};

use crate::harness::{claim, claim_n, ok, Factory, TestJob};

/// A tick `n` seconds (and some milliseconds, to check they are kept) into 2030.
fn tick(n: i64) -> DateTime<Utc> {
    let base = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("a valid date");
    base + chrono::TimeDelta::milliseconds(n * 1000 + 123)
}

fn task<B: Backend<Job = TestJob>>(n: u64) -> NewTask {
    NewTask::new(ok("encode", B::Codec::encode(&TestJob::ok(n))), PushOptions::default())
}

async fn push<B: PushTicks<Job = TestJob>>(
    backend: &B,
    schedule: &str,
    at: DateTime<Utc>,
    overlap: Overlap,
) -> TickPushed {
    let push = TickPush::new(schedule, at, task::<B>(at.timestamp().unsigned_abs())).overlap(overlap);
    ok("push_tick", backend.push_tick(push).await)
}

fn pushed(result: TickPushed, what: &str) -> TaskId {
    match result {
        TickPushed::Pushed(id) => id,
        other => panic!("conformance: {what} must push its task, got {other:?}"),
    }
}

/// Claim the `n` tasks expected, then check that nothing else is claimable.
async fn claim_exactly<B: PushTicks<Job = TestJob>>(backend: &B, n: usize) -> Vec<drover_core::ClaimedTask> {
    let lease = Duration::from_secs(30);
    let mut claimed = claim_n(backend, n, lease, Duration::from_secs(5)).await;
    claimed.extend(claim(backend, 8, lease).await);
    claimed
}

async fn finish<B: PushTicks<Job = TestJob>>(backend: &B, expect: TaskId) {
    let claimed = claim_exactly(backend, 1).await;
    let ids: Vec<TaskId> = claimed.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![expect], "conformance: exactly the tick's one task must be claimable");
    let done = claimed.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    ok("complete", backend.complete(done).await);
}

/// A tick is pushed once: again, earlier, after its task finished or from many callers at once,
/// it is taken. Records are per schedule and per queue, keep the tick to the millisecond, and
/// the overlap policy skips ticks while the last pushed task is unfinished.
pub async fn push_ticks<B: PushTicks<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    assert_eq!(ok("tick_record", backend.tick_record("nightly").await), None, "no record before the first tick");

    let first = pushed(push(&backend, "nightly", tick(1), Overlap::Allow).await, "the first tick");
    let record = ok("tick_record", backend.tick_record("nightly").await).expect("a record after the first tick");
    assert_eq!(record.last_tick, tick(1), "the record keeps the tick to the millisecond");
    assert_eq!(record.last_task, Some(first), "the record names the tick's task");
    for (at, what) in [(tick(1), "the same tick again"), (tick(0), "an earlier tick")] {
        assert_eq!(
            push(&backend, "nightly", at, Overlap::Allow).await,
            TickPushed::Taken,
            "conformance: {what} must be taken"
        );
    }
    finish(&backend, first).await;
    assert_eq!(
        push(&backend, "nightly", tick(1), Overlap::Allow).await,
        TickPushed::Taken,
        "conformance: a tick whose task finished must stay taken (the record outlives the task)"
    );

    // Eight nodes at once, each with its own task for the same tick: one push wins.
    let racers = (0..8).map(|_| push(&backend, "nightly", tick(2), Overlap::Allow));
    let results = futures_util::future::join_all(racers).await;
    let winners: Vec<TaskId> =
        results.iter().filter_map(|r| if let TickPushed::Pushed(id) = r { Some(*id) } else { None }).collect();
    assert_eq!(
        winners.len(),
        1,
        "conformance: 8 concurrent pushes of one tick must push exactly one task, got {results:?}"
    );
    assert!(results.iter().all(|r| matches!(r, TickPushed::Pushed(_) | TickPushed::Taken)), "{results:?}");
    let second = winners[0];

    // Overlap: while tick 2's task is pending, then running, ticks 3 and 4 are skipped.
    assert_eq!(
        push(&backend, "nightly", tick(3), Overlap::Skip).await,
        TickPushed::Overlapped(second),
        "conformance: Overlap::Skip must skip a tick while the last task is pending"
    );
    let record = ok("tick_record", backend.tick_record("nightly").await).expect("a record");
    assert_eq!(
        (record.last_tick, record.last_task),
        (tick(3), Some(second)),
        "a skipped tick is recorded, its task is not"
    );
    let running = claim_exactly(&backend, 1).await;
    assert_eq!(running.iter().map(|t| t.id).collect::<Vec<_>>(), vec![second], "only the winning push's task exists");
    assert_eq!(
        push(&backend, "nightly", tick(4), Overlap::Skip).await,
        TickPushed::Overlapped(second),
        "conformance: Overlap::Skip must skip a tick while the last task is running"
    );
    let done = running.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    ok("complete", backend.complete(done).await);
    let fifth =
        pushed(push(&backend, "nightly", tick(5), Overlap::Skip).await, "Overlap::Skip once the last task is done");
    let sixth = pushed(
        push(&backend, "nightly", tick(6), Overlap::Allow).await,
        "Overlap::Allow while the last task is pending",
    );

    // Another schedule of the queue, and the same schedule in another queue, are their own.
    let other = pushed(push(&backend, "hourly", tick(1), Overlap::Allow).await, "another schedule's first tick");
    let elsewhere = make().await;
    pushed(push(&elsewhere, "nightly", tick(1), Overlap::Allow).await, "the same schedule name in another queue");
    let records = ok("tick_records", backend.tick_records().await);
    let listed: Vec<(&str, DateTime<Utc>, Option<TaskId>)> =
        records.iter().map(|r| (r.schedule.as_str(), r.last_tick, r.last_task)).collect();
    assert_eq!(
        listed,
        vec![("hourly", tick(1), Some(other)), ("nightly", tick(6), Some(sixth))],
        "tick_records lists this queue's schedules by name"
    );
    let left = claim_exactly(&backend, 3).await;
    let mut left: Vec<TaskId> = left.iter().map(|t| t.id).collect();
    left.sort();
    let mut expected = vec![fifth, sixth, other];
    expected.sort();
    assert_eq!(left, expected, "conformance: the pushed ticks' tasks, and only they, are claimable");
}
