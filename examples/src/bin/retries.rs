//! Guide §6: errors, in-process retries, a custom retry policy, panics and dead tasks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use drover::layers::retry::{RetryLayer, RetryPolicy};
use drover::prelude::*;
use drover_examples::Email;
use tower::retry::Policy;

/// The guide's custom policy, on tower 0.5's `Policy` signature.
#[derive(Clone)]
struct ExponentialBackoff {
    attempts: usize,
}

impl<Req: Clone, Res, E> Policy<Req, Res, E> for ExponentialBackoff {
    type Future = std::future::Ready<()>;

    fn retry(&mut self, _req: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        if result.is_err() && self.attempts < 5 {
            self.attempts += 1;
            Some(std::future::ready(()))
        } else {
            None
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

static CALLS: AtomicU64 = AtomicU64::new(0);

/// Fails twice in a row for every third email, then succeeds; panics on `panic@…`; aborts on
/// `invalid@…`.
async fn send_email(job: Email, _: Data<()>) -> Result<(), BoxDynError> {
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    if job.to.starts_with("panic@") {
        panic!("the template engine blew up");
    }
    if job.to.starts_with("invalid@") {
        return Err(Abort::new("address rejected by the server; retrying will not help").into());
    }
    if !call.is_multiple_of(3) {
        return Err("SMTP server busy".into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let storage = MemoryStorage::named("email");
    storage.push_bulk((0..30).map(Email::numbered)).await?;
    storage
        .push_with(Email { to: "panic@example.com".into(), body: String::new() }, PushOptions::new().max_attempts(2))
        .await?;
    storage.push(Email { to: "invalid@example.com".into(), body: String::new() }).await?;

    let retry_worker = WorkerBuilder::new("email-worker")
        .layer(RetryLayer::new(RetryPolicy::retries(3))) // Retry up to 3 times
        .backoff(Backoff::constant(Duration::from_millis(50)))
        .backend(storage.clone())
        .build_fn(send_email);
    let custom_worker = WorkerBuilder::new("email-worker-custom")
        .layer(RetryLayer::new(ExponentialBackoff { attempts: 0 }))
        .backend(storage.clone())
        .catch_panic()
        .backoff(Backoff::constant(Duration::from_millis(50)))
        .build_fn(send_email);

    let failed = Arc::new(AtomicU64::new(0));
    let seen = failed.clone();
    let s = storage.clone();
    let finished = async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Ok(stats) = s.stats().await {
                if stats.pending == 0 && stats.running == 0 {
                    break;
                }
            }
        }
    };
    Monitor::new()
        .register(retry_worker)
        .register(custom_worker)
        .on_event(move |e| {
            if let Event::TaskFailed { .. } = e {
                seen.fetch_add(1, Ordering::Relaxed);
            }
            println!("{e}");
        })
        .run_with_signal(finished)
        .await?;

    // Dead letter queue: move permanently failed jobs to their own queue for inspection.
    let dead_letter = MemoryStorage::<Email>::named("email::dead-letter");
    for task in storage.list(ListQuery::new(Some(Status::Dead), 100)).await? {
        println!("dead: {} after {} attempt(s): {}", task.id, task.attempt, task.last_error.unwrap_or_default());
        let email: Email = serde_json_from(&task.payload)?;
        dead_letter.push(email).await?;
    }
    let stats = storage.stats().await?;
    println!("processed: {} done, {} dead, {} failure events", stats.done, stats.dead, failed.load(Ordering::Relaxed));
    assert_eq!((stats.done, stats.dead), (30, 2));
    Ok(())
}

fn serde_json_from(bytes: &[u8]) -> anyhow::Result<Email> {
    use drover::Codec;
    Ok(<drover::JsonCodec as Codec<Email>>::decode(bytes)?)
}
