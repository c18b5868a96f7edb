use std::time::Duration;

use drover_core::{
    BackendError, Cancel, Completion, Enqueue, EnqueueBatch, EnqueueInTransaction, GlobalConcurrency, GlobalRate,
    Inspect, ListQuery, NewTask, Outcome, Pause, Prune, PushOptions, Rate, Requeue, Status, TaskId,
};

use crate::harness::{
    claim, claim_n, decode, ok, start_worker, wait_until, Action, Factory, Recorder, TestJob, SHORT_LEASE,
};

/// Among due tasks, higher priority is claimed first.
pub async fn priorities<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    for (n, priority) in [(1, 0), (2, 10), (3, 5), (4, -3)] {
        ok("push_with priority", backend.push_with(TestJob::ok(n), PushOptions::new().priority(priority)).await);
    }
    let mut order = Vec::new();
    for _ in 0..4 {
        let got = claim(&backend, 1, Duration::from_secs(30)).await;
        assert_eq!(got.len(), 1, "each claim of 1 must return one of the 4 due tasks");
        order.push(decode(&got[0]).n);
    }
    assert_eq!(order, vec![2, 3, 1, 4], "claims must follow priority (10, 5, 0, -3)");
}

/// A push with the key of a pending or running task returns that task's id; once it is done,
/// the key is free again.
pub async fn unique_keys<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let a = ok("push unique", backend.push_with(TestJob::ok(1), PushOptions::new().unique_key("k")).await);
    let b = ok("push duplicate", backend.push_with(TestJob::ok(2), PushOptions::new().unique_key("k")).await);
    assert_eq!(a, b, "a duplicate unique key must return the existing task's id");
    let other = ok("push other key", backend.push_with(TestJob::ok(3), PushOptions::new().unique_key("other")).await);
    assert_ne!(a, other);
    let claimed = claim_n(&backend, 2, Duration::from_secs(30), Duration::from_secs(2)).await;
    assert_eq!(claimed.len(), 2, "the duplicate must not have been stored");
    let first = claimed.iter().find(|t| t.id == a).map(|t| t.lease());
    let c = ok("push while running", backend.push_with(TestJob::ok(4), PushOptions::new().unique_key("k")).await);
    assert_eq!(c, a, "a running task's key must still deduplicate");
    let Some(lease) = first else { panic!("conformance: the unique task was not claimed") };
    ok("complete", backend.complete(vec![Completion { lease, outcome: Outcome::Done }]).await);
    let d = ok("push after done", backend.push_with(TestJob::ok(5), PushOptions::new().unique_key("k")).await);
    assert_ne!(d, a, "once the task is done its key must be free");
}

/// A backend without priorities refuses a push that asks for one, with
/// [`BackendError::Unsupported`](drover_core::BackendError::Unsupported) naming the option, and
/// stores nothing of that call; a push with priority 0 works.
pub async fn refuses_priorities<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let refused = backend.push_with(TestJob::ok(1), PushOptions::new().priority(5)).await;
    refused_with(refused, "priorit");
    let plain = NewTask::new(encoded::<B>(2), PushOptions::new());
    let mut high = NewTask::new(encoded::<B>(3), PushOptions::new());
    high.priority = 1;
    refused_with(backend.enqueue(vec![plain, high]).await, "priorit");
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "a refused push stored a task");
    ok("push with priority 0", backend.push_with(TestJob::ok(4), PushOptions::new().priority(0)).await);
    assert_eq!(claim_n(&backend, 1, SHORT_LEASE, Duration::from_secs(2)).await.len(), 1);
}

/// A backend without unique keys refuses a push that asks for one, with
/// [`BackendError::Unsupported`](drover_core::BackendError::Unsupported) naming the option, and
/// stores nothing of that call.
pub async fn refuses_unique_keys<B: Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    refused_with(backend.push_with(TestJob::ok(1), PushOptions::new().unique_key("k")).await, "unique key");
    let plain = NewTask::new(encoded::<B>(2), PushOptions::new());
    let keyed = NewTask::new(encoded::<B>(3), PushOptions::new().unique_key("k"));
    refused_with(backend.enqueue(vec![plain, keyed]).await, "unique key");
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "a refused push stored a task");
}

fn encoded<B: Enqueue<Job = TestJob>>(n: u64) -> Vec<u8> {
    ok("encode", <B::Codec as drover_core::Codec<TestJob>>::encode(&TestJob::ok(n)))
}

fn refused_with<T: std::fmt::Debug>(result: Result<T, drover_core::BackendError>, option: &str) {
    match result {
        Err(drover_core::BackendError::Unsupported(message)) => {
            assert!(message.contains(option), "conformance: the refusal must name the option ({option}): {message}")
        }
        Err(other) => panic!("conformance: expected BackendError::Unsupported naming {option}, got {other}"),
        Ok(value) => {
            panic!("conformance: a push asking for a {option} was accepted ({value:?}) by a backend without it")
        }
    }
}

/// Cancel stops a pending task from running and revokes a running task's claim.
pub async fn cancel<B: Cancel + Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let pending = ok("push", backend.push(TestJob::ok(1)).await);
    assert!(ok("cancel pending", backend.cancel(pending).await), "cancelling a pending task must succeed");
    assert!(!ok("cancel again", backend.cancel(pending).await), "cancelling a cancelled task must report false");
    assert!(!ok("cancel unknown", backend.cancel(TaskId::new()).await), "cancelling an unknown id must report false");
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "a cancelled task was claimed");
    let running = ok("push", backend.push(TestJob::ok(2)).await);
    let claimed = claim(&backend, 1, SHORT_LEASE).await;
    assert_eq!(claimed.len(), 1);
    assert!(ok("cancel running", backend.cancel(running).await), "cancelling a running task must succeed");
    ok(
        "complete after cancel",
        backend
            .complete(vec![Completion {
                lease: claimed[0].lease(),
                outcome: Outcome::Retry { delay: Duration::ZERO, error: "x".into() },
            }])
            .await,
    );
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "a cancelled running task came back");
}

/// A dead task can be requeued and runs again from attempt 1.
pub async fn requeue_dead<B: Requeue + Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let id = ok("push", backend.push_with(TestJob::ok(1), PushOptions::new().max_attempts(1)).await);
    let claimed = claim(&backend, 1, SHORT_LEASE).await;
    assert_eq!(claimed.len(), 1);
    ok(
        "complete dead",
        backend
            .complete(vec![Completion { lease: claimed[0].lease(), outcome: Outcome::Dead { error: "bad".into() } }])
            .await,
    );
    assert!(claim(&backend, 1, SHORT_LEASE).await.is_empty(), "a dead task was claimable");
    assert!(!ok("requeue unknown", backend.requeue(TaskId::new()).await));
    assert!(ok("requeue", backend.requeue(id).await), "requeueing a dead task must succeed");
    let again = claim_n(&backend, 1, SHORT_LEASE, Duration::from_secs(2)).await;
    assert_eq!(again.len(), 1, "a requeued task must be claimable");
    assert_eq!(again[0].attempt, 1, "a requeued task starts again from attempt 1");
}

/// Inspection shows each status, the last error, counts and pages, and failures recorded by a
/// worker (decode errors and panics) with clear messages.
pub async fn inspect<B: Inspect + Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let a = ok("push", backend.push(TestJob::ok(1)).await);
    let scheduled = ok(
        "push delayed",
        backend.push_with(TestJob::ok(2), PushOptions::new().delay(Duration::from_secs(3600))).await,
    );
    let info = ok("get", backend.get(a).await);
    let Some(info) = info else { panic!("conformance: get returned nothing for a pushed task") };
    assert_eq!((info.status, info.attempt), (Status::Pending, 0));
    assert_eq!(
        info.payload,
        serde_json::to_vec(&TestJob::ok(1)).unwrap_or_default(),
        "stored payload must be the encoded job"
    );
    assert!(ok("get unknown", backend.get(TaskId::new()).await).is_none());
    let head = ok("stats", backend.stats().await).oldest_due_at;
    let now = chrono::Utc::now();
    assert!(
        head.is_some_and(|at| at <= now && now - at < chrono::Duration::seconds(60)),
        "conformance: stats().oldest_due_at must be the due task's due time (not the scheduled one's), got {head:?}"
    );

    let claimed = claim(&backend, 1, Duration::from_secs(30)).await;
    assert_eq!(claimed.len(), 1);
    let running = ok("get", backend.get(a).await).map(|i| (i.status, i.attempt, i.lease_expires_at.is_some()));
    assert_eq!(
        running,
        Some((Status::Running, 1, true)),
        "a claimed task must show running, attempt 1, with a lease deadline"
    );
    ok(
        "retry",
        backend
            .complete(vec![Completion {
                lease: claimed[0].lease(),
                outcome: Outcome::Retry { delay: Duration::from_secs(600), error: "try later".into() },
            }])
            .await,
    );
    let retried = ok("get", backend.get(a).await);
    let Some(retried) = retried else { panic!("conformance: task vanished") };
    assert_eq!(retried.status, Status::Pending);
    assert_eq!(retried.last_error.as_deref(), Some("try later"), "a retry must record the error");
    assert!(
        retried.run_at > chrono::Utc::now() + chrono::Duration::seconds(500),
        "a retry must move run_at by the delay"
    );
    assert_eq!(
        ok("stats", backend.stats().await).oldest_due_at,
        None,
        "conformance: with no task due, stats().oldest_due_at must be None"
    );

    let stats = ok("stats", backend.stats().await);
    assert_eq!((stats.pending, stats.scheduled, stats.running), (2, 2, 0), "stats: {stats:?}");

    // Failures recorded by a real worker.
    let recorder = Recorder::default();
    let bad =
        ok("enqueue raw", backend.enqueue(vec![NewTask::new(b"{not json".to_vec(), PushOptions::new())]).await)[0];
    let panics =
        ok("push", backend.push_with(TestJob::with(3, Action::Panic), PushOptions::new().max_attempts(1)).await);
    let good = ok("push", backend.push(TestJob::ok(4)).await);
    let worker = start_worker("inspect", backend.clone(), &recorder, 1);
    wait_until("the good job finished", Duration::from_secs(5), || recorder.finished() == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ok("stop", worker.stop().await);
    let status_of = |id| {
        let backend = backend.clone();
        async move { ok("get", backend.get(id).await).map(|i| (i.status, i.last_error.unwrap_or_default())) }
    };
    let Some((status, error)) = status_of(bad).await else { panic!("conformance: bad task vanished") };
    assert_eq!(status, Status::Dead, "an undecodable task must be dead");
    assert!(error.contains("decode"), "the decode error must be recorded, got {error:?}");
    let Some((status, error)) = status_of(panics).await else { panic!("conformance: panicking task vanished") };
    assert_eq!(status, Status::Dead, "a panicked task with no attempts left must be dead");
    assert!(error.contains("panicked on purpose"), "the panic message must be recorded, got {error:?}");
    assert_eq!(status_of(good).await.map(|s| s.0), Some(Status::Done));

    let stats = ok("stats", backend.stats().await);
    assert_eq!((stats.pending, stats.done, stats.dead), (2, 1, 2), "stats: {stats:?}");
    let dead = ok("list dead", backend.list(ListQuery::new(Some(Status::Dead), 10)).await);
    let mut dead_ids: Vec<_> = dead.iter().map(|t| t.id).collect();
    dead_ids.sort();
    let mut expected = vec![bad, panics];
    expected.sort();
    assert_eq!(dead_ids, expected, "list by status must return exactly the dead tasks");
    let all = ok("list all", backend.list(ListQuery::new(None, 3)).await);
    assert_eq!(all.len(), 3, "list must honour the limit");
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "list must be newest first");
    let rest = ok("list page 2", backend.list(ListQuery::new(None, 3).offset(3)).await);
    assert_eq!(rest.len(), 2, "the second page must hold the remaining 2 of 5 tasks");
    assert!(rest.iter().chain(all.iter()).any(|t| t.id == scheduled), "pages must cover every task");

    // A lease that expires on the last attempt leaves the task dead, with a clear error.
    let crashed = ok("push", backend.push_with(TestJob::ok(5), PushOptions::new().max_attempts(1)).await);
    let claimed = claim(&backend, 1, SHORT_LEASE).await;
    assert_eq!(claimed.iter().map(|t| t.id).collect::<Vec<_>>(), vec![crashed]);
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(300)).await;
    assert!(claim(&backend, 1, SHORT_LEASE).await.is_empty());
    let Some((status, error)) = status_of(crashed).await else { panic!("conformance: crashed task vanished") };
    assert_eq!(status, Status::Dead, "a task whose lease expired on its last attempt must be dead");
    assert!(error.contains("lease expired"), "the lease expiry must be recorded, got {error:?}");
}

/// The pushes of a batch are invisible until it is committed, then all claimable; a dropped
/// batch stores nothing.
pub async fn batched_enqueue<B: EnqueueBatch<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let mut batch = ok("begin_batch", backend.begin_batch().await);
    let first = ok("push_to", backend.push_to(&mut batch, TestJob::ok(1), PushOptions::new()).await);
    let second = ok("push_to", backend.push_to(&mut batch, TestJob::ok(2), PushOptions::new()).await);
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "a task pushed in an open batch was visible");
    ok("commit_batch", backend.commit_batch(batch).await);
    let claimed = claim_n(&backend, 2, SHORT_LEASE, Duration::from_secs(2)).await;
    let mut ids: Vec<TaskId> = claimed.iter().map(|t| t.id).collect();
    ids.sort();
    let mut pushed = vec![first, second];
    pushed.sort();
    assert_eq!(ids, pushed, "every push of a committed batch must be claimable");
    let mut dropped = ok("begin_batch", backend.begin_batch().await);
    ok("push_to", backend.push_to(&mut dropped, TestJob::ok(3), PushOptions::new()).await);
    drop(dropped);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "a push in a dropped batch was stored");
}

/// A push inside the caller's transaction is invisible until the commit and gone after a
/// rollback.
pub async fn transactional_enqueue<B: EnqueueInTransaction<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let mut tx = ok("begin", backend.begin().await);
    let id = ok("push_in", backend.push_in(&mut tx, TestJob::ok(1), PushOptions::new()).await);
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "a task pushed in an open transaction was visible");
    ok("commit", backend.commit(tx).await);
    let claimed = claim_n(&backend, 1, SHORT_LEASE, Duration::from_secs(2)).await;
    assert_eq!(claimed.iter().map(|t| t.id).collect::<Vec<_>>(), vec![id], "a committed push must be claimable");
    let mut rolled_back = ok("begin", backend.begin().await);
    ok("push_in", backend.push_in(&mut rolled_back, TestJob::ok(2), PushOptions::new()).await);
    drop(rolled_back);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(claim(&backend, 10, SHORT_LEASE).await.is_empty(), "a push in a rolled-back transaction was stored");
}

/// Pruning deletes finished tasks of one status past the given age, at most `limit` per call,
/// and never a task that is still pending or running.
pub async fn prune<B: Prune + Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    let pushed = ok("push_bulk", backend.push_bulk((0..8).map(TestJob::ok)).await);
    let claimed = claim_n(&backend, 7, Duration::from_secs(30), Duration::from_secs(2)).await;
    assert_eq!(claimed.len(), 7, "7 of the 8 tasks must be claimable");
    let mut outcomes: Vec<Completion> =
        claimed[..5].iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    outcomes.push(Completion { lease: claimed[5].lease(), outcome: Outcome::Dead { error: "bad".into() } });
    ok("complete", backend.complete(outcomes).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let young = Duration::from_secs(3600);
    assert_eq!(
        ok("prune young", backend.prune_batch(Status::Done, young, 100).await),
        0,
        "tasks within their age must stay"
    );
    let old = Duration::from_millis(20);
    assert_eq!(ok("prune 2", backend.prune_batch(Status::Done, old, 2).await), 2, "a batch deletes at most `limit`");
    assert_eq!(ok("prune rest", backend.prune_batch(Status::Done, old, 100).await), 3, "the other done tasks go next");
    assert_eq!(ok("prune again", backend.prune_batch(Status::Done, old, 100).await), 0);
    assert_eq!(ok("prune dead", backend.prune_batch(Status::Dead, old, 100).await), 1, "pruning is per status");
    for status in [Status::Pending, Status::Running] {
        match backend.prune_batch(status, Duration::ZERO, 100).await {
            Err(BackendError::Unsupported(_)) => {}
            other => panic!("conformance: pruning {status} tasks must be refused with Unsupported, got {other:?}"),
        }
    }
    // The running task and the pending one are untouched: the pending one can still be claimed.
    let left = claim_n(&backend, 1, Duration::from_secs(30), Duration::from_secs(2)).await;
    let unclaimed: Vec<TaskId> = pushed.iter().copied().filter(|id| claimed.iter().all(|t| t.id != *id)).collect();
    assert_eq!(left.iter().map(|t| t.id).collect::<Vec<_>>(), unclaimed, "pruning must not touch a pending task");
    ok(
        "complete running",
        backend.complete(vec![Completion { lease: claimed[6].lease(), outcome: Outcome::Done }]).await,
    );
}

/// A paused queue's claims return nothing, expired leases included, while pushes are still
/// stored; resumed, everything is claimable again.
pub async fn pause<B: Pause + Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    assert!(!ok("is_paused", backend.is_paused().await), "conformance: a new queue must not be paused");
    ok("push_bulk", backend.push_bulk((0..3).map(TestJob::ok)).await);
    let held = claim_n(&backend, 1, SHORT_LEASE, Duration::from_secs(2)).await;
    assert_eq!(held.len(), 1);
    ok("pause", backend.set_paused(true).await);
    assert!(ok("is_paused", backend.is_paused().await), "conformance: set_paused(true) must pause the queue");
    ok("push while paused", backend.push(TestJob::ok(3)).await);
    // Past the held claim's lease: it expired, and still nothing is claimable.
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;
    let during = claim_n(&backend, 1, Duration::from_secs(30), Duration::from_millis(500)).await;
    assert!(during.is_empty(), "conformance: a paused queue's claim returned {} tasks", during.len());
    ok("resume", backend.set_paused(false).await);
    assert!(!ok("is_paused", backend.is_paused().await));
    let after = claim_n(&backend, 4, Duration::from_secs(30), Duration::from_secs(5)).await;
    assert_eq!(
        after.len(),
        4,
        "conformance: resumed, the 2 waiting tasks, the expired one and the one pushed while paused must be claimable"
    );
    let done = after.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    ok("complete", backend.complete(done).await);
}

/// A queue's cap on running tasks holds across concurrent claims; a finished task frees its
/// slot; an expired lease gives its slot back; without the cap, everything is claimable.
pub async fn global_concurrency<B: GlobalConcurrency + Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    assert_eq!(ok("max_running", backend.max_running().await), None, "conformance: a new queue has no cap");
    ok("set_max_running", backend.set_max_running(Some(3)).await);
    assert_eq!(ok("max_running", backend.max_running().await), Some(3));
    ok("push_bulk", backend.push_bulk((0..12).map(TestJob::ok)).await);

    // Six claimers at once, each asking for 5: three tasks in all.
    let claims = (0..6).map(|_| claim(&backend, 5, Duration::from_secs(30)));
    let first: Vec<_> = futures_util::future::join_all(claims).await.into_iter().flatten().collect();
    assert_eq!(first.len(), 3, "conformance: with a cap of 3, concurrent claims took {} tasks", first.len());
    assert!(claim(&backend, 5, Duration::from_secs(30)).await.is_empty(), "conformance: no slot is free");

    // A finished task frees one slot.
    ok("complete", backend.complete(vec![Completion { lease: first[0].lease(), outcome: Outcome::Done }]).await);
    let second = claim_n(&backend, 5, Duration::from_secs(30), Duration::from_millis(500)).await;
    assert_eq!(second.len(), 1, "conformance: one finished task frees exactly one slot, got {}", second.len());

    // Finish all, then hold the three slots with short leases and let them expire.
    let done =
        first[1..].iter().chain(&second).map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    ok("complete", backend.complete(done).await);
    let held = claim_n(&backend, 3, SHORT_LEASE, Duration::from_secs(2)).await;
    assert_eq!(held.len(), 3);
    assert!(claim(&backend, 5, Duration::from_secs(30)).await.is_empty(), "conformance: the held slots are taken");
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;
    let after_expiry = claim_n(&backend, 3, Duration::from_secs(30), Duration::from_secs(2)).await;
    assert_eq!(after_expiry.len(), 3, "conformance: expired leases must give their slots back");
    let done = after_expiry.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    ok("complete", backend.complete(done).await);

    // Without the cap: the remaining 5 tasks at once.
    ok("set_max_running", backend.set_max_running(None).await);
    let rest = claim_n(&backend, 5, Duration::from_secs(30), Duration::from_secs(2)).await;
    assert_eq!(rest.len(), 5, "conformance: without a cap every due task is claimable");
    let done = rest.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    ok("complete", backend.complete(done).await);
}

/// A queue's rate of starts holds across concurrent claimers: over 1.5 s at 20 per second,
/// four claimers asking for 10 at a time start about 31 tasks in all, evenly, and no second
/// sees more than the rate plus its burst.
pub async fn global_rate<B: GlobalRate + Enqueue<Job = TestJob>>(make: impl Factory<B>) {
    let backend = make().await;
    assert_eq!(ok("rate", backend.rate().await), None, "conformance: a new queue has no rate");
    let rate = Rate::new(20, Duration::from_secs(1));
    ok("set_rate", backend.set_rate(Some(rate)).await);
    assert_eq!(ok("rate", backend.rate().await), Some(rate));
    ok("push_bulk", backend.push_bulk((0..200).map(TestJob::ok)).await);
    let started = tokio::time::Instant::now();
    let claimer = |backend: B| async move {
        let mut times = Vec::new();
        while started.elapsed() < Duration::from_millis(1500) {
            let got = claim(&backend, 10, Duration::from_secs(30)).await;
            let at = started.elapsed();
            times.extend(got.iter().map(|_| at));
            if got.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        times
    };
    let claimers = (0..4).map(|_| claimer(backend.clone()));
    let mut times: Vec<Duration> = futures_util::future::join_all(claimers).await.into_iter().flatten().collect();
    times.sort();
    let total = times.len();
    assert!(total <= 34, "conformance: {total} starts in 1.5 s at 20 per second (at most about 31 expected)");
    assert!(total >= 24, "conformance: only {total} starts in 1.5 s at 20 per second: the rate starves claims");
    let most_in_a_second =
        times.iter().map(|t| times.iter().filter(|u| **u >= *t && **u < *t + Duration::from_secs(1)).count()).max();
    assert!(
        most_in_a_second.unwrap_or(0) <= 22,
        "conformance: {most_in_a_second:?} starts within one second at 20 per second (burst 1)"
    );
    ok("set_rate", backend.set_rate(None).await);
    assert_eq!(ok("rate", backend.rate().await), None);
    let rest = claim_n(&backend, 200 - total, Duration::from_secs(30), Duration::from_secs(2)).await;
    assert_eq!(rest.len(), 200 - total, "conformance: without the rate every task is claimable at once");
}
