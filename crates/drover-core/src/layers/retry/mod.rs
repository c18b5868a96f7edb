//! In-process retries with tower's retry middleware.
//!
//! `RetryLayer::new(RetryPolicy::retries(3))` runs a failed job again at once, up to three more
//! times, inside the same claim (the lease is held and heartbeats continue). Only when the whole
//! stack still fails does the worker record a failure with the backend, which then applies the
//! *persisted* retry: the attempt is counted, the error stored and the task comes back after the
//! backoff, surviving restarts. Use in-process retries for blips (a dropped connection), and
//! rely on persisted retries for everything else. Errors wrapped in [`Abort`](crate::Abort) are
//! never retried in process.
//!
//! Any `tower::retry::Policy` works in place of [`RetryPolicy`]; the job type must be `Clone`.

mod policy;

pub use policy::RetryPolicy;
pub use tower::retry::{Policy, Retry, RetryLayer};
