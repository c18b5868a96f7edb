use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::Instrument;

use crate::error::BoxDynError;
use crate::request::Request;

/// Service that runs each job in a `job` span (worker, queue, task id, attempt) and logs how it
/// ended.
#[derive(Clone, Debug)]
pub struct Trace<S> {
    pub(super) inner: S,
}

impl<S, T> tower::Service<Request<T>> for Trace<S>
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
        let span = tracing::info_span!(
            "job",
            worker = %req.ctx.worker_name(),
            queue = %req.ctx.queue(),
            task_id = %req.ctx.id(),
            attempt = req.ctx.attempt(),
        );
        let fut = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        Box::pin(
            async move {
                // Tokio's clock: real time in a worker, the paused clock in tests.
                let started = tokio::time::Instant::now();
                tracing::debug!("job started");
                let result = fut.await.map_err(Into::into);
                let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
                match &result {
                    Ok(_) => tracing::info!(elapsed_ms, "job succeeded"),
                    Err(e) => tracing::warn!(elapsed_ms, error = %e, "job failed"),
                }
                result
            }
            .instrument(span),
        )
    }
}
