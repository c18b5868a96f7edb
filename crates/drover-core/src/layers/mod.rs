//! Tower layers built into Drover. Each folder holds one middleware: `Foo<S>` and `FooLayer`.
//!
//! Timeouts are tower's own (`tower::timeout::TimeoutLayer`), re-exported here; the worker
//! builder's `timeout` adds it.

pub mod catch_panic;
pub mod rate_limit;
pub mod retry;
pub mod trace;

/// Limits: the rate limit of [`rate_limit`] and tower's concurrency limit.
pub mod limit {
    pub use super::rate_limit::{RateLimit, RateLimitLayer};
    pub use tower::limit::ConcurrencyLimitLayer;
}

/// Timeouts: `WorkerBuilder::timeout(d)` adds a [`TimeoutLayer`](timeout::TimeoutLayer); a job
/// that runs longer fails with "job timed out" and is retried like any failure.
pub mod timeout {
    pub use tower::timeout::{error::Elapsed, TimeoutLayer};
}
