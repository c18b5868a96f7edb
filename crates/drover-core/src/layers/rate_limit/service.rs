use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Service that is ready at most `num` times per window of `per`. While it is not ready, the
/// worker holds its claimed tasks (extending their leases) and claims no more than its
/// concurrency.
pub struct RateLimit<S> {
    pub(super) inner: S,
    pub(super) num: u64,
    pub(super) per: Duration,
    pub(super) window_end: Option<Instant>,
    pub(super) left: u64,
    pub(super) sleep: Option<Pin<Box<Sleep>>>,
}

impl<S: Clone> Clone for RateLimit<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), num: self.num, per: self.per, window_end: None, left: self.num, sleep: None }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for RateLimit<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit").field("inner", &self.inner).field("num", &self.num).field("per", &self.per).finish()
    }
}

impl<S, Req> tower::Service<Req> for RateLimit<S>
where
    S: tower::Service<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let now = Instant::now();
        match self.window_end {
            Some(end) if now < end => {
                if self.left == 0 {
                    let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(end)));
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.sleep = None;
                    self.window_end = Some(end.checked_add(self.per).unwrap_or(end));
                    self.left = self.num;
                }
            }
            _ => {
                self.window_end = Some(now.checked_add(self.per).unwrap_or(now));
                self.left = self.num;
                self.sleep = None;
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        self.left = self.left.saturating_sub(1);
        self.inner.call(req)
    }
}
