//! What the tests share: capturing envelopes with sentry's test transport (no server), the
//! jobs, and running a worker until every task is done or dead.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use drover_core::{Abort, BoxDynError, Inspect, MemoryStorage};
use sentry::protocol::{Context, EnvelopeItem, Event, TraceContext, Transaction};
use serde::{Deserialize, Serialize};

/// What one job does.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Job {
    Succeed,
    Fail,
    Abort,
    Panic,
    /// Waits until stopped (for the dropped-future test).
    Hang,
}

pub async fn run(job: Job) -> Result<(), BoxDynError> {
    match job {
        Job::Succeed => Ok(()),
        Job::Fail => Err("boom".into()),
        Job::Abort => Err(Abort::new("the card was declined").into()),
        Job::Panic => panic!("kaboom"),
        Job::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    }
}

/// What a run sent to Sentry.
#[derive(Debug, Default)]
pub struct Captured {
    pub transactions: Vec<Transaction<'static>>,
    pub events: Vec<Event<'static>>,
}

impl Captured {
    pub fn transactions_of(&self, task_id: &str) -> Vec<&Transaction<'static>> {
        let mut found: Vec<_> =
            self.transactions.iter().filter(|t| t.tags.get("task_id").map(String::as_str) == Some(task_id)).collect();
        found.sort_by_key(|t| t.tags.get("attempt").cloned());
        found
    }

    pub fn events_of(&self, task_id: &str) -> Vec<&Event<'static>> {
        let mut found: Vec<_> =
            self.events.iter().filter(|e| e.tags.get("task_id").map(String::as_str) == Some(task_id)).collect();
        found.sort_by_key(|e| e.tags.get("attempt").cloned());
        found
    }
}

/// Client options of the tests: every transaction sampled.
pub fn options() -> sentry::ClientOptions {
    sentry::ClientOptions::new().traces_sample_rate(1.0)
}

/// Options with sentry's panic integration, which reports panics from the panic hook.
pub fn options_with_panic_integration() -> sentry::ClientOptions {
    options().add_integration(sentry::integrations::panic::PanicIntegration::default())
}

/// Run `f` on a multi-thread runtime, with a test client bound to this thread's hub, and
/// return what it sent.
pub fn capture<F>(options: sentry::ClientOptions, f: F) -> Captured
where
    F: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let envelopes = sentry::test::with_captured_envelopes_options(|| runtime.block_on(f), options);
    let mut captured = Captured::default();
    for envelope in envelopes {
        for item in envelope.items() {
            match item {
                EnvelopeItem::Transaction(t) => captured.transactions.push((**t).clone()),
                EnvelopeItem::Event(e) => captured.events.push((**e).clone()),
                _ => {}
            }
        }
    }
    captured
}

/// Wait until `n` tasks of the storage are done or dead.
pub async fn until_finished(storage: MemoryStorage<Job>, n: u64) {
    for _ in 0..1000 {
        let stats = storage.stats().await.unwrap();
        if stats.done + stats.dead == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the tasks never finished: {:?}", storage.stats().await.unwrap());
}

pub fn trace<'t>(transaction: &'t Transaction<'static>) -> &'t TraceContext {
    match transaction.contexts.get("trace") {
        Some(Context::Trace(trace)) => trace,
        other => panic!("no trace context: {other:?}"),
    }
}

pub fn event_trace<'t>(event: &'t Event<'static>) -> &'t TraceContext {
    match event.contexts.get("trace") {
        Some(Context::Trace(trace)) => trace,
        other => panic!("no trace context: {other:?}"),
    }
}

pub fn tag<'t>(tags: &'t std::collections::BTreeMap<String, String>, key: &str) -> &'t str {
    tags.get(key).map(String::as_str).unwrap_or_else(|| panic!("no tag {key} in {tags:?}"))
}
