use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use drover_core::{BoxDynError, Request};
use futures_util::FutureExt;
use sentry_core::{Hub, SentryFutureExt};

use crate::run::JobRun;

/// Service that reports each job to Sentry: a `queue.process` transaction, the job's tags and
/// context on the current hub's scope, the error or the panic, and how the run ended.
#[derive(Clone, Debug)]
pub struct Sentry<S> {
    pub(super) inner: S,
}

impl<S, T> tower::Service<Request<T>> for Sentry<S>
where
    S: tower::Service<Request<T>>,
    S::Error: Into<BoxDynError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxDynError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxDynError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<T>) -> Self::Future {
        // The hub NewSentryLayer made for this call (or the thread's, without it).
        let hub = Hub::current();
        // Without an enabled client nothing would be sent: pass the job through untouched.
        if !hub.client().is_some_and(|client| client.is_enabled()) {
            let fut = self.inner.call(req);
            return Box::pin(async move { fut.await.map_err(Into::into) });
        }
        let run = JobRun::start(hub.clone(), &req.ctx);
        // A panic while making the future is reported like one while running it.
        let call = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req)));
        let job = async move {
            let result = match call {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(payload) => Err(payload),
            };
            match result {
                Ok(result) => {
                    let result = result.map_err(Into::into);
                    run.finish(&result);
                    result
                }
                Err(payload) => {
                    run.finish_panicked(&*payload);
                    // The worker (or a catch-panic layer outside) decides what the panic means.
                    std::panic::resume_unwind(payload)
                }
            }
        };
        // Polled in the job's hub, so the panic hook and the job's own Sentry calls see the
        // scope set here even where no NewSentryLayer bound one.
        Box::pin(job.bind_hub(hub))
    }
}
