//! Jobs running at the same time on different threads keep their own scope: no event carries
//! another job's tags. The layers are set up as the seed writes them, on a real worker.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{capture, options, tag, trace, until_finished, Job};
use drover_core::{Attempt, BoxDynError, Data, Enqueue, MemoryStorage, PushOptions, TaskContext, WorkerBuilder};
use drover_sentry::SentryLayer;
use sentry_tower::NewSentryLayer;

const JOBS: usize = 16;

/// What the jobs saw: their threads, and how many ran at once at most.
#[derive(Default)]
struct Seen {
    threads: Mutex<HashSet<std::thread::ThreadId>>,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
}

/// Tags its scope with its own number, waits (so the others start and tag theirs), then fails
/// with an error that names it.
async fn tagged(job: Job, ctx: TaskContext, seen: Data<Arc<Seen>>, _: Attempt) -> Result<(), BoxDynError> {
    let _ = job;
    let me = ctx.id().to_string();
    sentry::configure_scope(|scope| scope.set_tag("job.own", &me));
    let now = seen.running.fetch_add(1, Ordering::SeqCst) + 1;
    seen.most_at_once.fetch_max(now, Ordering::SeqCst);
    seen.threads.lock().unwrap().insert(std::thread::current().id());
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        tokio::task::yield_now().await;
        seen.threads.lock().unwrap().insert(std::thread::current().id());
    }
    seen.running.fetch_sub(1, Ordering::SeqCst);
    Err(format!("job {me} failed").into())
}

#[test]
fn concurrent_jobs_on_other_threads_do_not_share_tags() {
    let seen = Arc::new(Seen::default());
    let mut ids = Vec::new();
    let captured = capture(options(), {
        let seen = seen.clone();
        let ids = &mut ids;
        async move {
            let storage = MemoryStorage::<Job>::named("emails");
            for _ in 0..JOBS {
                ids.push(storage.push_with(Job::Fail, PushOptions::new().max_attempts(1)).await.unwrap().to_string());
            }
            let worker = WorkerBuilder::new("email-worker")
                .layer(NewSentryLayer::new_from_top())
                .layer(SentryLayer::new())
                .concurrency(JOBS)
                .parallelize(tokio::spawn)
                .data(seen)
                .backend(storage.clone())
                .build_fn(tagged);
            worker.run_until(until_finished(storage, JOBS as u64)).await.unwrap();
        }
    });
    assert!(seen.most_at_once.load(Ordering::SeqCst) >= 2, "the jobs overlapped");
    assert!(seen.threads.lock().unwrap().len() >= 2, "the jobs ran on more than one thread");

    assert_eq!(captured.events.len(), JOBS, "one event per failed job");
    assert_eq!(captured.transactions.len(), JOBS, "one transaction per job");
    let mut by_task = HashMap::new();
    for event in &captured.events {
        let task_id = tag(&event.tags, "task_id");
        // The tag the job set itself, the layer's tag, the context and the error all agree.
        assert_eq!(tag(&event.tags, "job.own"), task_id, "{event:#?}");
        let sentry::protocol::Context::Other(job) = &event.contexts["job"] else { panic!("job context") };
        assert_eq!(job["task_id"], task_id);
        let message = event.exception.values.last().unwrap().value.clone().unwrap();
        assert_eq!(message, format!("job {task_id} failed"));
        assert!(by_task.insert(task_id.to_owned(), common::event_trace(event).trace_id).is_none(), "one per job");
    }
    for transaction in &captured.transactions {
        let task_id = tag(&transaction.tags, "task_id");
        assert_eq!(tag(&transaction.tags, "job.own"), task_id);
        assert_eq!(by_task[task_id], trace(transaction).trace_id, "the event is in its own job's trace");
    }
    let mut expected: Vec<_> = ids.clone();
    let mut got: Vec<_> = by_task.into_keys().collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
}
