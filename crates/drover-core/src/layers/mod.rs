//! Tower layers built into Drover. Each folder holds one middleware: `Foo<S>` and `FooLayer`.
//!
//! Rate limits and timeouts are tower's own (`tower::limit::RateLimitLayer`,
//! `tower::timeout::TimeoutLayer`), re-exported here; the worker builder's `rate_limit` and
//! `timeout` add them.

pub mod catch_panic;
pub mod retry;
pub mod trace;

/// Rate limiting: `WorkerBuilder::rate_limit(n, per)` adds a [`RateLimitLayer`](limit::RateLimitLayer).
pub mod limit {
    pub use tower::limit::{ConcurrencyLimitLayer, RateLimitLayer};
}

/// Timeouts: `WorkerBuilder::timeout(d)` adds a [`TimeoutLayer`](timeout::TimeoutLayer); a job
/// that runs longer fails with "job timed out" and is retried like any failure.
pub mod timeout {
    pub use tower::timeout::{error::Elapsed, TimeoutLayer};
}
