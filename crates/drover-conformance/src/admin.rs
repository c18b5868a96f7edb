//! Conformance of the admin contract ([`drover_core::Admin`]) the board and the `drover` tool
//! use: searches with filters and stable pages, deleting a task, running a scheduled one now,
//! bulk actions by filter, throughput per minute, each task's attempt history, and workers'
//! self-registration.
//!
//! A backend crate runs them from one test file, with a factory that returns its admin and a
//! queue name no other test uses:
//!
//! ```ignore
//! // tests/conformance_admin.rs
//! async fn admin() -> (MyAdmin, String) {
//!     (MyAdmin::new(pool().await), unique_queue())
//! }
//! drover_conformance::admin_conformance_tests!(admin);
//! ```

use std::future::Future;
use std::time::Duration;

use drover_core::{
    Admin, AdminBackend, Backend, BulkAction, ClaimRequest, Completion, Enqueue, NewTask, Outcome, PushOptions, Status,
    TaskFilter, TaskId, TaskInfo,
};

use crate::harness::ok;

/// Make a fresh admin and the name of a queue only this check uses.
pub trait AdminFactory<A>: Fn() -> Self::Fut + Send + Sync {
    /// The future making them.
    type Fut: Future<Output = (A, String)> + Send;
}

impl<A, F, Fut> AdminFactory<A> for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = (A, String)> + Send,
{
    type Fut = Fut;
}

/// Generate one `#[tokio::test]` per admin check, in a module `admin`, for the admin and queue
/// made by the async function `$factory` (see [the module](self)).
#[macro_export]
macro_rules! admin_conformance_tests {
    ($factory:ident) => {
        mod admin {
            $crate::admin_conformance_tests!(@tests $factory; admin_search, admin_delete_and_run_now, admin_bulk, admin_throughput, admin_attempts, admin_workers);
        }
    };
    (@tests $factory:ident; $($check:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::admin::$check(|| super::$factory()).await;
            }
        )+
    };
}

fn payload(n: u64) -> Vec<u8> {
    format!("{{\"n\":{n}}}").into_bytes()
}

async fn push<A: Admin>(admin: &A, queue: &str, n: u64, options: PushOptions) -> TaskId {
    ok("push", admin.push(queue, payload(n), options).await)
}

/// Claim one due task of `queue` and finish it with `outcome`; the claimed task's id.
async fn finish<A: AdminBackend>(admin: &A, queue: &str, outcome: Outcome) -> TaskId {
    let storage = admin.storage(queue);
    let claimed = ok("claim", storage.claim(ClaimRequest::new("conformance-admin", 1, Duration::from_secs(30))).await);
    let Some(task) = claimed.into_iter().next() else { panic!("conformance: no due task to claim in {queue}") };
    ok("complete", storage.complete(vec![Completion { lease: task.lease(), outcome }]).await);
    task.id
}

fn dead(error: &str) -> Outcome {
    Outcome::Dead { error: error.to_owned() }
}

fn ids(tasks: &[TaskInfo]) -> Vec<TaskId> {
    tasks.iter().map(|t| t.id).collect()
}

/// Every page of a search, following `next`.
async fn all_pages<A: Admin>(admin: &A, queue: &str, filter: &TaskFilter, limit: usize) -> Vec<TaskId> {
    let mut found = Vec::new();
    let mut before = None;
    for _ in 0..100 {
        let page = ok("search", admin.search(queue, filter, before, limit).await);
        assert!(page.tasks.len() <= limit, "conformance: a search page must hold at most its limit");
        found.extend(ids(&page.tasks));
        match page.next {
            Some(next) => before = Some(next),
            None => return found,
        }
    }
    panic!("conformance: a search kept returning a next page")
}

/// Searches: every filter (status, id, text in the error without case), newest first, and
/// pages that stay stable while tasks are pushed between them.
pub async fn admin_search<A: AdminBackend>(make: impl AdminFactory<A>) {
    let (admin, queue) = make().await;
    let q = queue.as_str();
    // Oldest first: two dead ones, a done one, two pending, a scheduled one.
    let mut pushed = Vec::new();
    for n in 0..6 {
        let options = if n == 5 { PushOptions::new().delay(Duration::from_secs(3600)) } else { PushOptions::new() };
        pushed.push(push(&admin, q, n, options).await);
    }
    let full = finish(&admin, q, dead("SMTP 550: Mailbox FULL")).await;
    let timeout = finish(&admin, q, dead("connection timed out")).await;
    let done = finish(&admin, q, Outcome::Done).await;
    let newest_first: Vec<TaskId> = pushed.iter().rev().copied().collect();

    let everything = ok("search", admin.search(q, &TaskFilter::new(), None, 50).await);
    assert_eq!(ids(&everything.tasks), newest_first, "conformance: a search lists every task, newest first");
    assert_eq!(everything.next, None, "conformance: a search that returned everything has no next page");

    let dead_ones = ok("search dead", admin.search(q, &TaskFilter::new().status(Status::Dead), None, 50).await);
    let mut expected = vec![full, timeout];
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids(&dead_ones.tasks), expected, "conformance: status filter");
    assert!(dead_ones.tasks.iter().all(|t| t.status == Status::Dead));

    let smtp = TaskFilter::new().error_contains("smtp 550: mailbox full");
    let by_error = ok("search error", admin.search(q, &smtp, None, 50).await);
    assert_eq!(ids(&by_error.tasks), vec![full], "conformance: text in the error, ASCII letters without case");
    let nothing = TaskFilter::new().error_contains("no such error");
    assert!(ok("search", admin.search(q, &nothing, None, 50).await).tasks.is_empty());

    let by_id = ok("search id", admin.search(q, &TaskFilter::new().id(done), None, 50).await);
    assert_eq!(ids(&by_id.tasks), vec![done], "conformance: id filter");
    assert_eq!(by_id.tasks[0].status, Status::Done);
    let wrong = TaskFilter::new().id(done).status(Status::Pending);
    assert!(ok("search", admin.search(q, &wrong, None, 50).await).tasks.is_empty(), "conformance: filters combine");
    let unknown = TaskFilter::new().id(TaskId::new());
    assert!(ok("search", admin.search(q, &unknown, None, 50).await).tasks.is_empty());

    // Pages of 2: the first, then a push, then the rest: nothing is repeated or skipped.
    let first = ok("search page", admin.search(q, &TaskFilter::new(), None, 2).await);
    assert_eq!(ids(&first.tasks), newest_first[..2], "conformance: the first page");
    let Some(next) = first.next else { panic!("conformance: a page short of the end must say where the next starts") };
    let later = push(&admin, q, 6, PushOptions::new()).await;
    let mut rest = Vec::new();
    let mut before = Some(next);
    // Four tasks are left: a search still going after 10 pages repeats itself.
    for _ in 0..10 {
        let Some(cursor) = before else { break };
        let page = ok("search page", admin.search(q, &TaskFilter::new(), Some(cursor), 2).await);
        rest.extend(ids(&page.tasks));
        before = page.next;
    }
    assert_eq!(rest, newest_first[2..], "conformance: pages after the first are not shifted by a new push");
    let all = all_pages(&admin, q, &TaskFilter::new(), 3).await;
    assert_eq!(all.first(), Some(&later), "conformance: a new search starts at the newest task");
    assert_eq!(all.len(), 7);
}

/// Deleting one task (not while it runs) and making a scheduled one due now.
pub async fn admin_delete_and_run_now<A: AdminBackend>(make: impl AdminFactory<A>) {
    let (admin, queue) = make().await;
    let q = queue.as_str();
    let storage = admin.storage(q);
    let get = |id| {
        let storage = storage.clone();
        async move { ok("get", drover_core::Inspect::get(&storage, id).await) }
    };

    // Run now: a task scheduled an hour ahead becomes due and is claimed.
    let later = push(&admin, q, 1, PushOptions::new().delay(Duration::from_secs(3600))).await;
    let none = ok("claim", storage.claim(ClaimRequest::new("conformance-admin", 5, Duration::from_secs(30))).await);
    assert!(none.is_empty(), "conformance: a task scheduled an hour ahead must not be claimed yet");
    assert!(ok("run now", admin.run_now(q, later).await), "conformance: run_now of a scheduled task");
    let due = get(later).await.map(|t| (t.status, t.run_at <= chrono::Utc::now()));
    assert_eq!(due, Some((Status::Pending, true)), "conformance: after run_now the task is pending and due");
    let claimed = ok("claim", storage.claim(ClaimRequest::new("conformance-admin", 5, Duration::from_secs(30))).await);
    assert_eq!(ids_of(&claimed), vec![later], "conformance: a task made due now is claimed");

    // Not while it runs: neither deleted nor moved.
    assert!(!ok("run now running", admin.run_now(q, later).await), "conformance: run_now of a running task is false");
    assert!(!ok("delete running", admin.delete(q, later).await), "conformance: a running task is not deleted");
    assert_eq!(get(later).await.map(|t| t.status), Some(Status::Running));
    ok("complete", storage.complete(vec![Completion { lease: claimed[0].lease(), outcome: Outcome::Done }]).await);
    assert!(!ok("run now done", admin.run_now(q, later).await), "conformance: run_now of a finished task is false");

    // Delete: a finished task, a pending one, a dead one; unknown ids are false.
    assert!(ok("delete done", admin.delete(q, later).await), "conformance: delete a done task");
    assert_eq!(get(later).await, None, "conformance: a deleted task is gone");
    assert!(!ok("delete again", admin.delete(q, later).await), "conformance: deleting twice is false");
    let pending = push(&admin, q, 2, PushOptions::new().unique_key("only-one")).await;
    assert!(ok("delete pending", admin.delete(q, pending).await), "conformance: delete a pending task");
    assert_eq!(get(pending).await, None);
    let none = ok("claim", storage.claim(ClaimRequest::new("conformance-admin", 5, Duration::from_secs(30))).await);
    assert!(none.is_empty(), "conformance: a deleted pending task must not be claimed");
    let again = push(&admin, q, 3, PushOptions::new().unique_key("only-one")).await;
    assert_ne!(again, pending, "conformance: deleting a task frees its unique key");
    let dead_one = finish(&admin, q, dead("boom")).await;
    assert!(ok("delete dead", admin.delete(q, dead_one).await), "conformance: delete a dead task");
    let stats = ok("stats", admin.stats(q).await);
    assert_eq!((stats.pending, stats.running, stats.done, stats.dead), (0, 0, 0, 0), "after deletes: {stats:?}");
    assert!(!ok("delete unknown", admin.delete(q, TaskId::new()).await));
    assert!(!ok("run now unknown", admin.run_now(q, TaskId::new()).await));
}

fn ids_of(claimed: &[drover_core::ClaimedTask]) -> Vec<TaskId> {
    claimed.iter().map(|t| t.id).collect()
}

/// Bulk retry, run now, cancel and delete by filter: each changes exactly the tasks its
/// filter takes, in their right state, and says how many.
pub async fn admin_bulk<A: AdminBackend>(make: impl AdminFactory<A>) {
    let (admin, queue) = make().await;
    let q = queue.as_str();
    for n in 0..6 {
        push(&admin, q, n, PushOptions::new()).await;
    }
    for n in 0..6 {
        finish(&admin, q, dead(if n < 4 { "upstream said 503" } else { "bad input" })).await;
    }
    for n in 10..13 {
        push(&admin, q, n, PushOptions::new().delay(Duration::from_secs(3600))).await;
    }

    let upstream = TaskFilter::new().status(Status::Dead).error_contains("503");
    assert_eq!(ok("bulk retry", admin.bulk(q, BulkAction::Retry, &upstream).await), 4, "conformance: bulk retry");
    let stats = ok("stats", admin.stats(q).await);
    assert_eq!((stats.dead, stats.pending, stats.scheduled), (2, 7, 3), "after bulk retry: {stats:?}");

    let pending = TaskFilter::new().status(Status::Pending);
    assert_eq!(ok("bulk run now", admin.bulk(q, BulkAction::RunNow, &pending).await), 7, "conformance: bulk run_now");
    assert_eq!(ok("stats", admin.stats(q).await).scheduled, 0, "conformance: bulk run_now leaves nothing scheduled");

    // Retrying what is not dead or cancelled changes nothing.
    assert_eq!(ok("bulk retry pending", admin.bulk(q, BulkAction::Retry, &pending).await), 0);

    assert_eq!(ok("bulk cancel", admin.bulk(q, BulkAction::Cancel, &pending).await), 7, "conformance: bulk cancel");
    let cancelled = TaskFilter::new().status(Status::Cancelled);
    assert_eq!(ok("bulk delete", admin.bulk(q, BulkAction::Delete, &cancelled).await), 7, "conformance: bulk delete");
    let stats = ok("stats", admin.stats(q).await);
    assert_eq!((stats.pending, stats.cancelled, stats.dead), (0, 0, 2), "after bulk cancel and delete: {stats:?}");
    assert_eq!(ok("bulk delete", admin.bulk(q, BulkAction::Delete, &TaskFilter::new()).await), 2);
    assert!(ok("search", admin.search(q, &TaskFilter::new(), None, 10).await).tasks.is_empty());

    // More tasks than one page of a bulk action: every one is taken, none twice.
    let many: Vec<NewTask> = (0..1_100).map(|n| NewTask::new(payload(n), PushOptions::new())).collect();
    ok("enqueue 1,100", admin.storage(q).enqueue(many).await);
    assert_eq!(ok("bulk run now", admin.bulk(q, BulkAction::RunNow, &pending).await), 1_100);
    assert_eq!(
        ok("bulk cancel", admin.bulk(q, BulkAction::Cancel, &pending).await),
        1_100,
        "conformance: bulk across pages"
    );
    assert_eq!(ok("bulk retry", admin.bulk(q, BulkAction::Retry, &cancelled).await), 1_100);
    assert_eq!(ok("bulk delete", admin.bulk(q, BulkAction::Delete, &pending).await), 1_100);
    assert_eq!(ok("stats", admin.stats(q).await).pending, 0, "conformance: bulk delete across pages leaves none");
}

/// Throughput: tasks finished now are counted in the current minutes, done and dead apart.
pub async fn admin_throughput<A: AdminBackend>(make: impl AdminFactory<A>) {
    let (admin, queue) = make().await;
    let q = queue.as_str();
    for n in 0..3 {
        push(&admin, q, n, PushOptions::new()).await;
    }
    finish(&admin, q, Outcome::Done).await;
    finish(&admin, q, Outcome::Done).await;
    finish(&admin, q, dead("boom")).await;
    let seen = ok("throughput", admin.throughput(q, 15).await);
    assert_eq!((seen.done.len(), seen.dead.len()), (15, 15), "conformance: one bucket per minute: {seen:?}");
    // The tasks finished within the last second or two: in the last two minutes.
    let recent = |counts: &[u64]| counts[13] + counts[14];
    assert_eq!((recent(&seen.done), recent(&seen.dead)), (2, 1), "conformance: tasks finished now: {seen:?}");
    assert_eq!(seen.done.iter().sum::<u64>(), 2, "conformance: nothing counted twice: {seen:?}");
    assert!(seen.complete, "conformance: three finished tasks are all counted");
    let age = chrono::Utc::now() - seen.since;
    assert!(age > chrono::Duration::minutes(14) && age <= chrono::Duration::minutes(15), "since: {seen:?}");
}

/// Claim the one due task of `queue` under `lease`, or wait up to two seconds for it (a retry
/// due now may be a moment away on a backend whose clock runs in whole milliseconds).
async fn claim_one<A: AdminBackend>(admin: &A, queue: &str, lease: Duration) -> drover_core::ClaimedTask {
    let storage = admin.storage(queue);
    let started = std::time::Instant::now();
    loop {
        let claimed = ok("claim", storage.claim(ClaimRequest::new("conformance-admin", 1, lease)).await);
        if let Some(task) = claimed.into_iter().next() {
            return task;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "conformance: no due task to claim in {queue}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Attempt history: a task that fails twice then succeeds shows its two failed attempts, in
/// order, with their errors and times (each started by its claim, ended by its outcome, the
/// next starting after); a dead task shows its last error as its last attempt; an expired
/// lease is an attempt of its own; a success adds nothing.
pub async fn admin_attempts<A: AdminBackend>(make: impl AdminFactory<A>) {
    let (admin, queue) = make().await;
    let q = queue.as_str();
    let storage = admin.storage(q);
    let before = chrono::Utc::now() - chrono::Duration::seconds(2);
    let id = push(&admin, q, 1, PushOptions::new().max_attempts(5)).await;
    let fresh = ok("get", admin.get(q, id).await).expect("conformance: the pushed task exists");
    assert!(
        fresh.attempts.is_empty() && fresh.started_at.is_none(),
        "conformance: a new task has no attempts: {fresh:?}"
    );
    for error in ["first failure", "second failure"] {
        let task = claim_one(&admin, q, Duration::from_secs(30)).await;
        assert_eq!(task.id, id);
        let running = ok("get", admin.get(q, id).await).expect("conformance: the claimed task exists");
        assert!(running.started_at.is_some(), "conformance: a claim records when its attempt started: {running:?}");
        let retry = Outcome::Retry { delay: Duration::ZERO, error: error.to_owned() };
        ok("complete", storage.complete(vec![Completion { lease: task.lease(), outcome: retry }]).await);
    }
    let task = claim_one(&admin, q, Duration::from_secs(30)).await;
    assert_eq!((task.id, task.attempt), (id, 3));
    ok("complete", storage.complete(vec![Completion { lease: task.lease(), outcome: Outcome::Done }]).await);
    let done = ok("get", admin.get(q, id).await).expect("conformance: the finished task exists");
    assert_eq!(done.status, Status::Done);
    let seen: Vec<(u32, &str)> = done.attempts.iter().map(|a| (a.attempt, a.error.as_str())).collect();
    assert_eq!(
        seen,
        [(1, "first failure"), (2, "second failure")],
        "conformance: two failed attempts with their errors, in order, and nothing for the success: {done:?}"
    );
    let after = chrono::Utc::now() + chrono::Duration::seconds(2);
    let within = |t: chrono::DateTime<chrono::Utc>| t >= before && t <= after;
    for a in &done.attempts {
        let start = a.started_at.unwrap_or_else(|| panic!("conformance: attempt {} has no start: {done:?}", a.attempt));
        assert!(within(start) && within(a.finished_at), "conformance: attempt times are now: {a:?}");
        assert!(start <= a.finished_at, "conformance: an attempt ends after it starts: {a:?}");
    }
    assert!(
        done.attempts[1].started_at >= Some(done.attempts[0].finished_at),
        "conformance: the second attempt starts after the first ends: {done:?}"
    );
    let last_start = done.started_at.expect("conformance: the successful attempt's start is kept");
    assert!(last_start >= done.attempts[1].finished_at, "conformance: the third attempt starts last: {done:?}");
    // Through the JSON the board serves.
    let json = serde_json::to_value(&done).expect("a task serialises");
    assert_eq!(json["attempts"][1]["error"], "second failure", "conformance: attempts in the task's JSON: {json}");

    // A dead task: its fatal error is its last attempt.
    let dead_id = push(&admin, q, 2, PushOptions::new().max_attempts(1)).await;
    let task = claim_one(&admin, q, Duration::from_secs(30)).await;
    assert_eq!(task.id, dead_id);
    ok("complete", storage.complete(vec![Completion { lease: task.lease(), outcome: dead("fatal: bad input") }]).await);
    let dead_task = ok("get", admin.get(q, dead_id).await).expect("conformance: the dead task exists");
    let seen: Vec<(u32, &str)> = dead_task.attempts.iter().map(|a| (a.attempt, a.error.as_str())).collect();
    assert_eq!(seen, [(1, "fatal: bad input")], "conformance: a dead task's attempt: {dead_task:?}");

    // An expired lease: the next claim records the lost attempt.
    let lost_id = push(&admin, q, 3, PushOptions::new().max_attempts(5)).await;
    let lost = claim_one(&admin, q, Duration::from_millis(500)).await;
    assert_eq!(lost.id, lost_id);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let again = claim_one(&admin, q, Duration::from_secs(30)).await;
    assert_eq!((again.id, again.attempt), (lost_id, 2), "conformance: the expired task is claimed again");
    let info = ok("get", admin.get(q, lost_id).await).expect("conformance: the reclaimed task exists");
    let seen: Vec<(u32, &str)> = info.attempts.iter().map(|a| (a.attempt, a.error.as_str())).collect();
    assert_eq!(seen, [(1, drover_core::LEASE_EXPIRED)], "conformance: an expired lease is a failed attempt: {info:?}");
}

/// Wait up to `within` for `check` to pass on the admin's workers of `queue`.
async fn workers_until<A: AdminBackend>(
    admin: &A,
    queue: &str,
    within: Duration,
    what: &str,
    check: impl Fn(&[drover_core::WorkerSummary]) -> bool,
) -> Vec<drover_core::WorkerSummary> {
    let started = std::time::Instant::now();
    loop {
        let workers = ok("workers", Admin::workers(admin, Some(queue)).await);
        if check(&workers) {
            return workers;
        }
        assert!(started.elapsed() < within, "conformance: {what} within {within:?}; workers: {workers:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Worker self-registration: a registered worker is listed with what it said (name, host,
/// pid, queues, concurrency), a heartbeat moves its last seen and running count but keeps its
/// start, a worker not seen within the age-out is gone, one that leaves is gone; and a real
/// worker running on the admin's storage registers itself, shows the tasks it runs, and is
/// gone as soon as it stops gracefully.
pub async fn admin_workers<A: AdminBackend>(make: impl AdminFactory<A>) {
    use drover_core::{WorkerRecord, WorkerRegistry, WORKER_AGE_OUT};
    let (admin, queue) = make().await;
    let q = queue.as_str();
    let Some(registry) = admin.registry() else {
        panic!("conformance: the {} admin has no worker registry (AdminBackend::registry)", admin.name())
    };
    let mine = |workers: &[WorkerRecord], id: &str| workers.iter().find(|w| w.id == id).cloned();
    let a = WorkerRecord::new(format!("conformance-a-{q}"), vec![q.to_owned()], 4);
    let b = WorkerRecord::new(format!("conformance-b-{q}"), vec![q.to_owned()], 1);
    ok("register", registry.beat(&a).await);
    ok("register", registry.beat(&b).await);
    let seen = ok("workers", registry.workers(WORKER_AGE_OUT).await);
    let first = mine(&seen, &a.id).unwrap_or_else(|| panic!("conformance: a registered worker is listed: {seen:?}"));
    assert_eq!(
        (&first.name, &first.host, first.pid, &first.queues, first.concurrency, first.running),
        (&a.name, &a.host, a.pid, &a.queues, 4, 0),
        "conformance: the record says what the worker said"
    );
    let now = chrono::Utc::now();
    let near = |t: chrono::DateTime<chrono::Utc>| (t - now).num_seconds().abs() <= 5;
    assert!(near(first.last_seen) && near(first.started_at), "conformance: times are now: {first:?}");

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    ok("heartbeat", registry.beat(&a.clone().with_running(3)).await);
    let seen = ok("workers", registry.workers(WORKER_AGE_OUT).await);
    let beaten = mine(&seen, &a.id).unwrap_or_else(|| panic!("conformance: the worker is still listed: {seen:?}"));
    assert_eq!(beaten.running, 3, "conformance: a heartbeat updates the running count: {beaten:?}");
    assert!(beaten.last_seen > first.last_seen, "conformance: a heartbeat moves last seen: {first:?} then {beaten:?}");
    assert!(
        (beaten.started_at - first.started_at).num_milliseconds().abs() <= 1,
        "conformance: a heartbeat keeps the start: {first:?} then {beaten:?}"
    );
    // The admin's view of the queue.
    let listed = ok("workers", Admin::workers(&admin, Some(q)).await);
    let summary = listed.iter().find(|w| w.id.as_deref() == Some(a.id.as_str()));
    let summary =
        summary.unwrap_or_else(|| panic!("conformance: Admin::workers lists the registered worker: {listed:?}"));
    assert_eq!((summary.running, summary.pid, summary.concurrency), (Some(3), Some(a.pid), Some(4)), "{summary:?}");

    // b has not been seen for 1.2 s: gone under an age-out of one second, a still there.
    let recent = ok("workers", registry.workers(Duration::from_secs(1)).await);
    assert!(mine(&recent, &b.id).is_none(), "conformance: a worker not seen within the age-out is gone: {recent:?}");
    assert!(mine(&recent, &a.id).is_some(), "conformance: a worker seen within the age-out stays: {recent:?}");

    ok("leave", registry.leave(&a.id).await);
    let seen = ok("workers", registry.workers(WORKER_AGE_OUT).await);
    assert!(mine(&seen, &a.id).is_none(), "conformance: a worker that left is gone: {seen:?}");

    // A real worker on the admin's storage: registers itself, heartbeats its running tasks,
    // deregisters on a graceful stop.
    for _ in 0..2 {
        ok("push", admin.push(q, b"null".to_vec(), PushOptions::new()).await);
    }
    let (release, gate) = tokio::sync::watch::channel(false);
    let name = format!("conformance-worker-{q}");
    let worker = drover_core::WorkerBuilder::new(name.as_str())
        .concurrency(2)
        .poll_interval(Duration::from_millis(100))
        .shutdown_timeout(Duration::from_secs(10))
        .backend(admin.storage(q))
        .build_fn(move |_job: <A::Storage as Backend>::Job| {
            let mut gate = gate.clone();
            async move {
                let _ = gate.wait_for(|open| *open).await;
                Ok::<(), std::io::Error>(())
            }
        });
    let running = crate::harness::Running::start(worker);
    let named = |w: &drover_core::WorkerSummary| w.name == name;
    // Its own record (with an id), not a storage's view of the tasks it holds.
    let registered = |w: &drover_core::WorkerSummary| named(w) && w.id.is_some();
    let workers =
        workers_until(&admin, q, Duration::from_secs(12), "the running worker heartbeats its 2 tasks", |ws| {
            ws.iter().any(|w| registered(w) && w.running == Some(2))
        })
        .await;
    let seen = workers.iter().find(|w| registered(w)).cloned();
    let seen = seen.unwrap_or_else(|| panic!("conformance: the worker is listed: {workers:?}"));
    assert_eq!((seen.pid, seen.concurrency), (Some(std::process::id()), Some(2)), "{seen:?}");
    assert_eq!(seen.host.as_deref(), Some(drover_core::host_name().as_str()), "{seen:?}");
    let _ = release.send(true);
    ok("stop", running.stop().await);
    // Its registration is gone at once (a storage that lists recent claimers, as Redis does,
    // may still name it as one, without an id).
    let after = ok("workers", Admin::workers(&admin, Some(q)).await);
    assert!(!after.iter().any(registered), "conformance: a worker stopped gracefully is gone at once: {after:?}");
}
