//! Start at most `n` jobs per period. `WorkerBuilder::rate_limit(n, per)` adds it.
//!
//! Unlike tower's own rate limit, this one can be built outside a Tokio runtime (its timer is
//! made on first use), so building a worker never panics.

mod layer;
mod service;

pub use layer::RateLimitLayer;
pub use service::RateLimit;
