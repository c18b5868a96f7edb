use std::time::Duration;

use super::service::RateLimit;

/// Layer adding [`RateLimit`].
#[derive(Clone, Copy, Debug)]
pub struct RateLimitLayer {
    num: u64,
    per: Duration,
}

impl RateLimitLayer {
    /// At most `num` jobs start per `per` (`num` is at least 1).
    pub fn new(num: u64, per: Duration) -> Self {
        Self { num: num.max(1), per }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit { inner, num: self.num, per: self.per, window_end: None, left: self.num, sleep: None }
    }
}
