use std::future::{ready, Ready};

use crate::error::{Abort, BoxDynError};
use crate::request::Request;

/// Retry a failed job in process a fixed number of times.
///
/// ```
/// use drover_core::layers::retry::{RetryLayer, RetryPolicy};
///
/// let layer = RetryLayer::new(RetryPolicy::retries(3));
/// # let _ = layer;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryPolicy {
    retries: usize,
}

impl RetryPolicy {
    /// Up to `retries` more runs after the first failure.
    pub fn retries(retries: usize) -> Self {
        Self { retries }
    }

    /// Retries left.
    pub fn remaining(&self) -> usize {
        self.retries
    }
}

impl<T: Clone, Res> tower::retry::Policy<Request<T>, Res, BoxDynError> for RetryPolicy {
    type Future = Ready<()>;

    fn retry(&mut self, _req: &mut Request<T>, result: &mut Result<Res, BoxDynError>) -> Option<Self::Future> {
        match result {
            Ok(_) => None,
            Err(e) if e.is::<Abort>() => None,
            Err(_) if self.retries == 0 => None,
            Err(_) => {
                self.retries -= 1;
                Some(ready(()))
            }
        }
    }

    fn clone_request(&mut self, req: &Request<T>) -> Option<Request<T>> {
        Some(req.clone())
    }
}
