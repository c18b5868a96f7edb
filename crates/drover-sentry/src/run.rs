//! One job's report: its transaction, its scope, and how the run ended.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use drover_core::layers::catch_panic::PanicError;
use drover_core::{is_final, BoxDynError, RunOutcome, TaskContext};
use sentry_core::protocol::{Context, SpanStatus, Value};
use sentry_core::{Hub, Transaction, TransactionContext};

use crate::panic;
use crate::tags;

/// The operation of every job's transaction, as Sentry's queue monitoring expects it.
pub(crate) const OP: &str = "queue.process";

/// A job's transaction and the hub it reports to. Dropping it before `finish` (the job's
/// future was dropped: a timeout outside, a shutdown) still sends the transaction, as
/// cancelled.
pub(crate) struct JobRun {
    hub: Arc<Hub>,
    transaction: Option<Transaction>,
    attempt: u32,
    max_attempts: u32,
}

impl JobRun {
    /// Start the job's transaction and put the job on the hub's scope.
    pub(crate) fn start(hub: Arc<Hub>, ctx: &TaskContext) -> Self {
        let name = transaction_name(ctx);
        let transaction = hub.start_transaction(TransactionContext::new(name, OP));
        let task_id = ctx.id().to_string();
        transaction.set_data("messaging.system", Value::from("drover"));
        transaction.set_data("messaging.message.id", Value::from(task_id.clone()));
        transaction.set_data("messaging.destination.name", Value::from(ctx.queue()));
        transaction.set_data("messaging.message.retry.count", Value::from(ctx.attempt().saturating_sub(1)));
        transaction.set_data("messaging.message.receive.latency", Value::from(receive_latency_ms(ctx)));
        hub.configure_scope(|scope| {
            scope.set_transaction(Some(name));
            scope.set_tag(tags::QUEUE, ctx.queue());
            scope.set_tag(tags::TASK_ID, &task_id);
            scope.set_tag(tags::ATTEMPT, ctx.attempt());
            scope.set_tag(tags::WORKER, ctx.worker_name());
            scope.set_context("job", job_context(ctx, &task_id));
            scope.set_span(Some(transaction.clone().into()));
        });
        Self { hub, transaction: Some(transaction), attempt: ctx.attempt(), max_attempts: ctx.max_attempts() }
    }

    /// The job returned: mark the outcome, capture the error or the panic, send the
    /// transaction.
    pub(crate) fn finish<R>(mut self, result: &Result<R, BoxDynError>) {
        let outcome = RunOutcome::of(result, self.attempt, self.max_attempts);
        let Err(error) = result else {
            return self.send(SpanStatus::Ok, outcome, false);
        };
        let will_retry = !is_final(&**error, self.attempt, self.max_attempts);
        self.mark(outcome, will_retry);
        if outcome == RunOutcome::Panicked {
            // A catch-panic layer inside turned the panic into an error: report it as a panic.
            let message = panic::message_in_chain(&**error).unwrap_or("job panicked");
            panic::report(&self.hub, message);
        } else {
            self.hub.capture_error(&**error);
        }
        self.send(SpanStatus::InternalError, outcome, will_retry);
    }

    /// The job panicked through this layer: report it (once) and send the transaction.
    pub(crate) fn finish_panicked(mut self, payload: &(dyn Any + Send)) {
        let message = panic::message_of_payload(payload);
        // The same decision as for a caught panic: the worker turns it into a PanicError.
        let error = PanicError(message.to_owned());
        let will_retry = !is_final(&error, self.attempt, self.max_attempts);
        self.mark(RunOutcome::Panicked, will_retry);
        panic::report(&self.hub, message);
        self.send(SpanStatus::InternalError, RunOutcome::Panicked, will_retry);
    }

    /// Tag the scope, so the event captured next says how the run ended.
    fn mark(&self, outcome: RunOutcome, will_retry: bool) {
        self.hub.configure_scope(|scope| {
            scope.set_tag(tags::OUTCOME, outcome.as_str());
            scope.set_tag(tags::WILL_RETRY, will_retry);
        });
    }

    fn send(&mut self, status: SpanStatus, outcome: RunOutcome, will_retry: bool) {
        if let Some(transaction) = self.transaction.take() {
            transaction.set_status(status);
            transaction.set_tag(tags::OUTCOME, outcome.as_str());
            transaction.set_tag(tags::WILL_RETRY, will_retry);
            finish_in(&self.hub, transaction);
        }
    }
}

impl Drop for JobRun {
    fn drop(&mut self) {
        if let Some(transaction) = self.transaction.take() {
            transaction.set_status(SpanStatus::Cancelled);
            finish_in(&self.hub, transaction);
        }
    }
}

/// Finishing applies the current hub's scope to the transaction: make it the job's, wherever
/// the future was dropped.
fn finish_in(hub: &Arc<Hub>, transaction: Transaction) {
    Hub::run(hub.clone(), || transaction.finish());
}

/// The queue names the work; a worker without one (a detached context) gives its own name.
fn transaction_name(ctx: &TaskContext) -> &str {
    if ctx.queue().is_empty() {
        ctx.worker_name()
    } else {
        ctx.queue()
    }
}

/// Milliseconds from when the task became due to now, never negative (clocks of other nodes
/// may run ahead).
fn receive_latency_ms(ctx: &TaskContext) -> i64 {
    (chrono::Utc::now() - ctx.run_at()).num_milliseconds().max(0)
}

fn job_context(ctx: &TaskContext, task_id: &str) -> Context {
    let mut map = BTreeMap::new();
    map.insert("task_id".to_owned(), Value::from(task_id));
    map.insert("queue".to_owned(), Value::from(ctx.queue()));
    map.insert("worker".to_owned(), Value::from(ctx.worker_name()));
    map.insert("attempt".to_owned(), Value::from(ctx.attempt()));
    map.insert("max_attempts".to_owned(), Value::from(ctx.max_attempts()));
    map.insert("enqueued_at".to_owned(), Value::from(ctx.enqueued_at().to_rfc3339()));
    map.insert("run_at".to_owned(), Value::from(ctx.run_at().to_rfc3339()));
    Context::Other(map)
}
