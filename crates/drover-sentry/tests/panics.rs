//! A panic is reported once: by sentry's panic integration when the client has it (from the
//! panic hook, in the job's hub, with the stack trace), otherwise by the layer; never also as
//! an error, wherever a catch-panic layer sits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{capture, options, options_with_panic_integration, run, tag, trace, until_finished, Captured, Job};
use drover_core::layers::catch_panic::CatchPanicLayer;
use drover_core::{Backoff, Enqueue, MemoryStorage, PushOptions, WorkerBuilder};
use drover_sentry::SentryLayer;
use sentry::protocol::{Level, SpanStatus};
use sentry_tower::NewSentryLayer;
use tower::layer::util::Identity;

/// Where a catch-panic layer sits, if anywhere.
#[derive(Clone, Copy, Debug)]
enum CatchPanic {
    None,
    /// Outside the Sentry layers: the panic unwinds through them first.
    Outside,
    /// Inside: the layer sees a `PanicError`.
    Inside,
}

/// A job that panics on both of its attempts, run under the given stack.
fn panicking_job(options: sentry::ClientOptions, catch: CatchPanic) -> (String, Captured) {
    let mut id = String::new();
    let captured = capture(options, async {
        let storage = MemoryStorage::<Job>::named("reports");
        id = storage.push_with(Job::Panic, PushOptions::new().max_attempts(2)).await.unwrap().to_string();
        let (outside, inside) = match catch {
            CatchPanic::None => (None, None),
            CatchPanic::Outside => (Some(CatchPanicLayer::new()), None),
            CatchPanic::Inside => (None, Some(CatchPanicLayer::new())),
        };
        let worker = WorkerBuilder::new("reports-worker")
            .layer(tower::util::option_layer(outside))
            .layer(NewSentryLayer::new_from_top())
            .layer(SentryLayer::new())
            .layer(tower::util::option_layer(inside))
            .layer(Identity::new())
            .backoff(Backoff::constant(Duration::from_millis(1)))
            .poll_interval(Duration::from_millis(5))
            .backend(storage.clone())
            .build_fn(run);
        worker.run_until(until_finished(storage, 1)).await.unwrap();
    });
    (id, captured)
}

fn check_transactions(id: &str, captured: &Captured) {
    let runs = captured.transactions_of(id);
    assert_eq!(runs.len(), 2, "one transaction per attempt");
    for (run, will_retry) in runs.iter().zip(["true", "false"]) {
        assert_eq!(trace(run).status, Some(SpanStatus::InternalError));
        assert_eq!(tag(&run.tags, "drover.outcome"), "panicked");
        assert_eq!(tag(&run.tags, "drover.will_retry"), will_retry, "retried unless it was the last attempt");
    }
}

#[test]
fn without_the_panic_integration_the_layer_reports_each_panic_once() {
    for catch in [CatchPanic::None, CatchPanic::Outside, CatchPanic::Inside] {
        let (id, captured) = panicking_job(options(), catch);
        check_transactions(&id, &captured);
        let events = captured.events_of(&id);
        assert_eq!(events.len(), 2, "{catch:?}: one event per panic, none as an error: {events:#?}");
        assert_eq!(captured.events.len(), 2, "{catch:?}: nothing else");
        for (event, attempt) in events.iter().zip(["1", "2"]) {
            assert_eq!(event.level, Level::Fatal);
            assert_eq!(event.exception.values.len(), 1);
            let exception = &event.exception.values[0];
            assert_eq!((exception.ty.as_str(), exception.value.as_deref()), ("panic", Some("kaboom")), "{catch:?}");
            assert_eq!(exception.mechanism.as_ref().unwrap().handled, Some(false));
            assert_eq!(tag(&event.tags, "attempt"), attempt);
            assert_eq!(tag(&event.tags, "drover.outcome"), "panicked");
        }
    }
}

#[test]
fn with_the_panic_integration_its_event_is_the_only_report() {
    for catch in [CatchPanic::None, CatchPanic::Outside, CatchPanic::Inside] {
        let (id, captured) = panicking_job(options_with_panic_integration(), catch);
        check_transactions(&id, &captured);
        assert_eq!(captured.events.len(), 2, "{catch:?}: one event per panic: {:#?}", captured.events);
        let events = captured.events_of(&id);
        assert_eq!(events.len(), 2, "{catch:?}: the hook's events carry the job's tags");
        for (event, attempt) in events.iter().zip(["1", "2"]) {
            let exception = &event.exception.values[0];
            assert_eq!((exception.ty.as_str(), exception.value.as_deref()), ("panic", Some("kaboom")));
            assert!(exception.stacktrace.is_some(), "{catch:?}: the integration's event, with its stack trace");
            assert_eq!(tag(&event.tags, "attempt"), attempt);
            assert_eq!(tag(&event.tags, "queue"), "reports");
            assert!(!event.tags.contains_key("drover.outcome"), "captured in the hook, before the outcome is known");
        }
    }
}
