//! One transaction per run with the right status, tags and data, and one event per error and
//! per panic, through a real worker on the in-memory backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{capture, options, run, tag, trace, until_finished, Job};
use drover_core::{Backoff, Enqueue, MemoryStorage, PushOptions, WorkerBuilder};
use drover_sentry::SentryLayer;
use sentry::protocol::{Level, SpanStatus};
use sentry_tower::NewSentryLayer;

#[test]
fn each_run_is_one_transaction_and_each_failure_one_event() {
    let mut ids = Vec::new();
    let captured = capture(options(), async {
        let storage = MemoryStorage::<Job>::named("payments");
        let push = |job, attempts| storage.push_with(job, PushOptions::new().max_attempts(attempts));
        // Fail runs twice: retried, then dead on its last attempt.
        for (job, attempts) in [(Job::Succeed, 3), (Job::Fail, 2), (Job::Abort, 3), (Job::Panic, 1)] {
            ids.push(push(job, attempts).await.unwrap().to_string());
        }
        let worker = WorkerBuilder::new("payments-worker")
            .layer(NewSentryLayer::new_from_top())
            .layer(SentryLayer::new())
            .backoff(Backoff::constant(Duration::from_millis(1)))
            .poll_interval(Duration::from_millis(5))
            .backend(storage.clone())
            .build_fn(run);
        worker.run_until(until_finished(storage, 4)).await.unwrap();
    });
    let [succeed, fail, abort, panic] = [&ids[0], &ids[1], &ids[2], &ids[3]];
    assert_eq!(captured.transactions.len(), 5, "one per run: {:#?}", captured.transactions);
    assert_eq!(captured.events.len(), 4, "two errors of Fail, one of Abort, one panic: {:#?}", captured.events);

    // Every transaction: the queue's name, op queue.process, the job's tags and messaging data.
    for t in &captured.transactions {
        assert_eq!(t.name.as_deref(), Some("payments"));
        let trace = trace(t);
        assert_eq!(trace.op.as_deref(), Some(drover_sentry::TRANSACTION_OP));
        assert_eq!(tag(&t.tags, "queue"), "payments");
        assert_eq!(tag(&t.tags, "worker"), "payments-worker");
        let attempt: u64 = tag(&t.tags, "attempt").parse().unwrap();
        assert_eq!(trace.data["messaging.message.id"], tag(&t.tags, "task_id"));
        assert_eq!(trace.data["messaging.destination.name"], "payments");
        assert_eq!(trace.data["messaging.message.retry.count"], attempt - 1);
        assert!(trace.data["messaging.message.receive.latency"].as_i64().unwrap() >= 0);
        assert!(t.contexts.contains_key("job"), "the job context is on the transaction too");
    }

    let status_and_outcome = |id: &str| -> Vec<(Option<SpanStatus>, String, String, String)> {
        captured
            .transactions_of(id)
            .into_iter()
            .map(|t| {
                (
                    trace(t).status,
                    tag(&t.tags, "attempt").to_owned(),
                    tag(&t.tags, "drover.outcome").to_owned(),
                    tag(&t.tags, "drover.will_retry").to_owned(),
                )
            })
            .collect()
    };
    let ok = Some(SpanStatus::Ok);
    let error = Some(SpanStatus::InternalError);
    let row =
        |status, attempt: &str, outcome: &str, retry: &str| (status, attempt.into(), outcome.into(), retry.into());
    assert_eq!(status_and_outcome(succeed), [row(ok, "1", "done", "false")]);
    assert_eq!(status_and_outcome(fail), [row(error, "1", "retried", "true"), row(error, "2", "dead", "false")]);
    assert_eq!(status_and_outcome(abort), [row(error, "1", "dead", "false")], "an Abort is dead at once");
    assert_eq!(status_and_outcome(panic), [row(error, "1", "panicked", "false")], "its only attempt");

    // Events: the error with the job's tags and context, linked to the run's transaction.
    assert!(captured.events_of(succeed).is_empty());
    let fails = captured.events_of(fail);
    assert_eq!(fails.len(), 2);
    for (event, (attempt, outcome)) in fails.iter().zip([("1", "retried"), ("2", "dead")]) {
        assert_eq!(event.exception.values.last().unwrap().value.as_deref(), Some("boom"));
        assert_eq!(tag(&event.tags, "attempt"), attempt);
        assert_eq!(tag(&event.tags, "drover.outcome"), outcome);
        assert_eq!(tag(&event.tags, "queue"), "payments");
        assert_eq!(tag(&event.tags, "worker"), "payments-worker");
        assert_eq!(event.transaction.as_deref(), Some("payments"));
        let sentry::protocol::Context::Other(job) = &event.contexts["job"] else { panic!("job context") };
        assert_eq!(job["task_id"], fail.as_str());
        assert_eq!(job["max_attempts"], 2);
        let run = captured.transactions_of(fail)[attempt.parse::<usize>().unwrap() - 1];
        assert_eq!(common::event_trace(event).trace_id, trace(run).trace_id, "the event is in the run's trace");
    }
    let aborts = captured.events_of(abort);
    assert_eq!(aborts.len(), 1);
    assert_eq!(tag(&aborts[0].tags, "drover.outcome"), "dead");
    let panics = captured.events_of(panic);
    assert_eq!(panics.len(), 1, "a panic is one event, not also an error");
    let exception = &panics[0].exception.values[0];
    assert_eq!((exception.ty.as_str(), exception.value.as_deref()), ("panic", Some("kaboom")));
    assert_eq!(panics[0].level, Level::Fatal);
    assert_eq!(tag(&panics[0].tags, "drover.outcome"), "panicked");
}

#[test]
fn a_dropped_job_still_sends_its_transaction_as_cancelled() {
    let mut id = String::new();
    let captured = capture(options(), async {
        let storage = MemoryStorage::<Job>::named("slow");
        id = storage.push_with(Job::Hang, PushOptions::new().max_attempts(1)).await.unwrap().to_string();
        // The timeout is outside the Sentry layers: it drops their future.
        let worker = WorkerBuilder::new("slow-worker")
            .timeout(Duration::from_millis(20))
            .layer(NewSentryLayer::new_from_top())
            .layer(SentryLayer::new())
            .backend(storage.clone())
            .build_fn(run);
        worker.run_until(until_finished(storage, 1)).await.unwrap();
    });
    let runs = captured.transactions_of(&id);
    assert_eq!(runs.len(), 1);
    assert_eq!(trace(runs[0]).status, Some(SpanStatus::Cancelled));
    assert!(captured.events.is_empty(), "the timeout is reported outside this layer, if at all");
}

#[test]
fn without_a_client_jobs_pass_through() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let storage = MemoryStorage::<Job>::named("plain");
        storage.push(Job::Succeed).await.unwrap();
        storage.push_with(Job::Fail, PushOptions::new().max_attempts(1)).await.unwrap();
        let worker = WorkerBuilder::new("plain-worker")
            .layer(NewSentryLayer::new_from_top())
            .layer(SentryLayer::new())
            .backend(storage.clone())
            .build_fn(run);
        worker.run_until(until_finished(storage.clone(), 2)).await.unwrap();
        let stats = drover_core::Inspect::stats(&storage).await.unwrap();
        assert_eq!((stats.done, stats.dead), (1, 1));
    });
}
