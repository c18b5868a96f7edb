use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::FutureExt;

use crate::error::BoxDynError;
use crate::panic::PanicError;

/// Service that turns panics of the inner service into [`PanicError`]s.
#[derive(Clone, Debug)]
pub struct CatchPanic<S> {
    pub(super) inner: S,
}

impl<S, Req> tower::Service<Req> for CatchPanic<S>
where
    S: tower::Service<Req>,
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

    fn call(&mut self, req: Req) -> Self::Future {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(fut) => Box::pin(AssertUnwindSafe(fut).catch_unwind().map(|r| match r {
                Ok(result) => result.map_err(Into::into),
                Err(payload) => Err(Box::new(PanicError::from_payload(payload)) as BoxDynError),
            })),
            Err(payload) => {
                Box::pin(std::future::ready(Err(Box::new(PanicError::from_payload(payload)) as BoxDynError)))
            }
        }
    }
}
