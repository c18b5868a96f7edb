//! Each built-in layer on its own, around a plain service, on Tokio's paused clock: time moves
//! only when every task waits, so rate windows and timeouts are exact and nothing really sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use drover_core::layers::catch_panic::{CatchPanicLayer, PanicError};
use drover_core::layers::rate_limit::RateLimitLayer;
use drover_core::layers::retry::{RetryLayer, RetryPolicy};
use drover_core::layers::timeout::{Elapsed, TimeoutLayer};
use drover_core::layers::trace::TraceLayer;
use drover_core::{outcome_of, Abort, Backoff, BoxDynError, Outcome, Request};
use tokio::time::Instant;
use tower::{service_fn, Layer, Service, ServiceExt};

#[tokio::test(start_paused = true)]
async fn rate_limit_starts_at_most_n_per_period() {
    let mut service =
        RateLimitLayer::new(3, Duration::from_secs(1)).layer(service_fn(|_: u32| async { Ok::<_, BoxDynError>(()) }));
    let start = Instant::now();
    let mut started_at = Vec::new();
    for n in 0..7 {
        service.ready().await.unwrap();
        started_at.push(start.elapsed());
        service.call(n).await.unwrap();
    }
    let second = Duration::from_secs(1);
    assert_eq!(started_at[..3], [Duration::ZERO; 3], "the first window takes three at once");
    assert_eq!(started_at[3..6], [second; 3], "the next three wait for the next window");
    assert_eq!(started_at[6], 2 * second);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_window_restarts_after_a_quiet_spell() {
    let mut service =
        RateLimitLayer::new(2, Duration::from_secs(1)).layer(service_fn(|_: u32| async { Ok::<_, BoxDynError>(()) }));
    service.ready().await.unwrap().call(0).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let start = Instant::now();
    for n in 0..2 {
        service.ready().await.unwrap().call(n).await.unwrap();
    }
    assert_eq!(start.elapsed(), Duration::ZERO, "after a quiet spell a full window is available at once");
}

#[tokio::test(start_paused = true)]
async fn timeout_fails_a_job_that_runs_too_long_and_says_so() {
    let mut service = TimeoutLayer::new(Duration::from_secs(1)).layer(service_fn(|secs: u64| async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        Ok::<_, BoxDynError>(())
    }));
    let start = Instant::now();
    let error = service.ready().await.unwrap().call(10).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(1), "the job is cut off at the timeout");
    assert!(error.is::<Elapsed>(), "{error}");
    service.ready().await.unwrap().call(0).await.expect("a quick job is not affected");
    // The worker records it as a retried failure that names the timeout.
    match outcome_of::<()>(Err(error), 1, 3, &Backoff::constant(Duration::from_secs(1))) {
        Outcome::Retry { error, delay } => {
            assert!(error.contains("timed out"), "{error}");
            assert_eq!(delay, Duration::from_secs(1));
        }
        other => panic!("a timeout on attempt 1 of 3 must be retried, got {other:?}"),
    }
}

/// Panics in `call` itself, not in the future it returns.
#[derive(Clone)]
struct PanicsInCall;

impl Service<u32> for PanicsInCall {
    type Response = u32;
    type Error = BoxDynError;
    type Future = std::future::Ready<Result<u32, BoxDynError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxDynError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: u32) -> Self::Future {
        panic!("panicked in call")
    }
}

#[tokio::test(start_paused = true)]
async fn catch_panic_turns_panics_into_errors() {
    let mut service = CatchPanicLayer::new().layer(service_fn(|n: u32| async move {
        if n == 1 {
            panic!("panicked in the future");
        }
        Ok::<_, BoxDynError>(n)
    }));
    let error = service.ready().await.unwrap().call(1).await.unwrap_err();
    let panic = error.downcast_ref::<PanicError>().expect("a PanicError");
    assert_eq!(panic.0, "panicked in the future");
    assert_eq!(error.to_string(), "job panicked: panicked in the future");
    assert_eq!(service.ready().await.unwrap().call(2).await.unwrap(), 2, "the service goes on after a panic");

    let mut service = CatchPanicLayer::new().layer(PanicsInCall);
    let error = service.ready().await.unwrap().call(0).await.unwrap_err();
    assert_eq!(error.downcast_ref::<PanicError>().map(|p| p.0.as_str()), Some("panicked in call"));
}

/// A service that fails `failures` times, then succeeds; counts its calls.
fn flaky(
    failures: usize,
    error: fn() -> BoxDynError,
) -> (Arc<AtomicUsize>, impl Service<Request<u32>, Response = (), Error = BoxDynError> + Clone) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let service = service_fn(move |_: Request<u32>| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < failures {
                Err(error())
            } else {
                Ok(())
            }
        }
    });
    (calls, service)
}

#[tokio::test(start_paused = true)]
async fn retry_runs_a_failed_job_again_up_to_its_limit() {
    let (calls, inner) = flaky(usize::MAX, || "down".into());
    let mut service = RetryLayer::new(RetryPolicy::retries(3)).layer(inner);
    service.ready().await.unwrap().call(Request::for_test(1)).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 4, "one run and three retries");

    let (calls, inner) = flaky(1, || "blip".into());
    let mut service = RetryLayer::new(RetryPolicy::retries(3)).layer(inner);
    service.ready().await.unwrap().call(Request::for_test(1)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "a success ends the retries");
}

#[tokio::test(start_paused = true)]
async fn retry_never_runs_an_aborted_job_again() {
    let (calls, inner) = flaky(usize::MAX, || Box::new(Abort::new("bad input")));
    let mut service = RetryLayer::new(RetryPolicy::retries(3)).layer(inner);
    let error = service.ready().await.unwrap().call(Request::for_test(1)).await.unwrap_err();
    assert!(error.is::<Abort>());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Log lines written by the test's subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn trace_runs_each_job_in_a_span_and_logs_its_outcome() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let mut service = TraceLayer::new().layer(service_fn(|req: Request<u32>| async move {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if req.job == 0 {
            Err::<(), BoxDynError>("no such user".into())
        } else {
            Ok(())
        }
    }));
    let ok = Request::for_test(1);
    let ok_id = ok.ctx.id();
    service.ready().await.unwrap().call(ok).await.unwrap();
    service.ready().await.unwrap().call(Request::for_test(0)).await.unwrap_err();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let succeeded = lines.iter().find(|l| l.contains("job succeeded")).expect("a success line");
    for field in [format!("task_id={ok_id}"), "worker=test".into(), "queue=test".into(), "attempt=1".into()] {
        assert!(succeeded.contains(&field), "the span must carry {field}: {succeeded}");
    }
    assert!(succeeded.contains("elapsed_ms=250"), "the duration on the paused clock: {succeeded}");
    let failed = lines.iter().find(|l| l.contains("job failed")).expect("a failure line");
    assert!(failed.contains("no such user") && failed.contains("WARN"), "{failed}");
}
