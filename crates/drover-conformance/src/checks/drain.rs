use std::collections::HashSet;
use std::time::{Duration, Instant};

use drover_core::{Completion, Enqueue, Outcome, PushOptions, TaskId};

use crate::harness::{claim, decode, ok, Factory, TestJob};

/// Tasks of the backlog in [`long_drain`].
const BACKLOG: u64 = 12_000;

/// How long a task that sorts before the backlog's may wait during a long drain.
const SEEN_WITHIN: Duration = Duration::from_secs(3);

/// A long drain keeps the claim's promises: 12,000 tasks claimed in batches and completed, each
/// exactly once. Midway — far enough for a backend to drain in a mode of its own, if it has
/// one — three tasks that sort before the rest appear while the backlog is still large: one of
/// a higher priority, one due an hour ago, and one whose short lease expires. Each must be
/// claimed within 3 s (the expired one counted from its lease's end), while at least 1,000
/// backlog tasks are still unclaimed: a claim may take a moment to look behind the position
/// it drains from, but it must look.
pub async fn long_drain<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    for start in (0..BACKLOG).step_by(2_000) {
        ok("push_bulk", backend.push_bulk((start..start + 2_000).map(TestJob::ok)).await);
    }
    let lease = Duration::from_secs(60);
    let mut seen: HashSet<TaskId> = HashSet::new();
    let mut backlog_left = BACKLOG;
    // The first half at full speed.
    while backlog_left > BACKLOG / 2 {
        let got = claim(&backend, 500, lease).await;
        assert!(!got.is_empty(), "conformance: a claim returned nothing with {backlog_left} tasks pending");
        backlog_left -= got.len() as u64;
        let batch = got.iter().map(|task| first_claim(&mut seen, task)).collect();
        ok("complete", backend.complete(batch).await);
    }
    // Three tasks that sort before the backlog: a higher priority, an earlier run_at, an
    // expired lease. Claim numbers above the backlog's ids tell them apart.
    let urgent = ok("push urgent", backend.push_with(TestJob::ok(BACKLOG + 1), PushOptions::new().priority(10)).await);
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let overdue =
        ok("push overdue", backend.push_with(TestJob::ok(BACKLOG + 2), PushOptions::new().run_at(an_hour_ago)).await);
    let pushed = Instant::now();
    let short = Duration::from_millis(500);
    let mut expiring = None;
    let mut found: [Option<(Duration, u64)>; 3] = [None; 3];
    // The second half paced, so that the backlog lasts well beyond the deadlines.
    while backlog_left > 0 || found.iter().any(Option::is_none) {
        let got = claim(&backend, 20, lease).await;
        let mut batch = Vec::new();
        for task in got {
            let i = if task.id == urgent {
                Some(0)
            } else if task.id == overdue {
                Some(1)
            } else if Some(task.id) == expiring.map(|(id, _)| id) {
                Some(2)
            } else {
                None
            };
            if let Some(i) = i {
                let since = match i {
                    2 => expiring.map_or(Duration::ZERO, |(_, at): (TaskId, Instant)| at.elapsed()),
                    _ => pushed.elapsed(),
                };
                found[i].get_or_insert((since, backlog_left));
                batch.push(Completion { lease: task.lease(), outcome: Outcome::Done });
                continue;
            }
            if expiring.is_none() {
                // The first backlog task of the paced half keeps a short lease and is left to expire.
                let again = claim(&backend, 1, short).await;
                if let Some(t) = again.into_iter().next() {
                    assert!(decode(&t).n < BACKLOG, "conformance: the urgent or overdue task came after the backlog's");
                    let _ = first_claim(&mut seen, &t);
                    expiring = Some((t.id, Instant::now() + short));
                    backlog_left -= 1;
                }
            }
            backlog_left -= 1;
            batch.push(first_claim(&mut seen, &task));
        }
        if !batch.is_empty() {
            ok("complete", backend.complete(batch).await);
        }
        assert!(
            pushed.elapsed() < Duration::from_secs(120),
            "conformance: the long drain did not finish in 120 s ({backlog_left} backlog tasks left, found {found:?})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let names = ["a task of a higher priority", "a task due an hour ago", "a task whose lease expired"];
    for (name, found) in names.iter().zip(found) {
        let Some((after, left)) = found else { unreachable!("the loop runs until all three are found") };
        assert!(
            after <= SEEN_WITHIN && left >= 1_000,
            "conformance: during a long drain, {name} was claimed {:.1} s after it appeared, with {left} backlog \
             tasks still pending (expected within {} s, with at least 1,000 left)",
            after.as_secs_f64(),
            SEEN_WITHIN.as_secs()
        );
    }
    assert_eq!(seen.len() as u64, BACKLOG, "conformance: every backlog task must be claimed once");
}

/// Record the first claim of a backlog task (a second one breaks the check) and its completion.
fn first_claim(seen: &mut HashSet<TaskId>, task: &drover_core::ClaimedTask) -> Completion {
    assert!(seen.insert(task.id), "conformance: task {} was claimed twice in a long drain", task.id);
    Completion { lease: task.lease(), outcome: Outcome::Done }
}
