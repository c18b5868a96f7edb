//! Errors: the crate's error enum, backend errors, and the errors a job returns to steer retries.

use std::fmt;
use std::time::Duration;

/// Any error, boxed: what job handlers and tower layers return.
pub type BoxDynError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A backend operation failed. The message says what failed and, where it can, what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The server could not be reached or the connection broke; the operation may succeed later.
    #[error("{operation} failed: could not talk to the server: {source}")]
    Connection {
        /// What was being done.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: BoxDynError,
    },
    /// The server answered with an error.
    #[error("{operation} failed: {source}")]
    Server {
        /// What was being done.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: BoxDynError,
    },
    /// The backend cannot do what was asked (a push option it has no support for, say).
    #[error("{0}")]
    Unsupported(String),
    /// A job could not be encoded for the backend.
    #[error(transparent)]
    Codec(#[from] crate::CodecError),
    /// A setting is wrong (an empty or too long queue name, an out-of-range value, a URL that
    /// does not parse); the message names it and the accepted form.
    #[error("{0}")]
    Config(String),
    /// The database's schema is not what this build needs: never set up (run the storage's
    /// `setup`), newer than this build (upgrade the crate), or an applied migration that was
    /// changed since.
    #[error("{0}")]
    Schema(String),
    /// Stored data this build cannot read (a task id of the wrong size, a reply of the wrong
    /// shape): written by something else, or damaged.
    #[error("{0}")]
    Corrupt(String),
    /// A migration or set-up step could not take its lock in time (another process holds it).
    #[error("{0}")]
    LockTimeout(String),
}

impl BackendError {
    /// A connection failure during `operation`.
    pub fn connection(operation: &'static str, source: impl Into<BoxDynError>) -> Self {
        Self::Connection { operation, source: source.into() }
    }

    /// A server-side failure during `operation`.
    pub fn server(operation: &'static str, source: impl Into<BoxDynError>) -> Self {
        Self::Server { operation, source: source.into() }
    }
}

/// Errors of the worker runtime and monitor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A backend operation failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A worker was configured wrongly; the message says how to fix it.
    #[error("{0}")]
    Config(String),
    /// The job service's `poll_ready` failed, so the worker cannot take more jobs (a layer
    /// gave up); the monitor restarts the worker.
    #[error("the job service failed and cannot take more jobs: {0}")]
    ServiceFailed(#[source] BoxDynError),
    /// Some workers had to be left running when the shutdown timeout passed; their tasks go back
    /// to their queues when their leases run out.
    #[error("shutdown timed out after {timeout:?} with {running} task(s) still running; they will be retried when their leases expire")]
    ShutdownTimeout {
        /// The timeout that passed.
        timeout: Duration,
        /// Tasks still running.
        running: usize,
    },
}

/// The crate's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Return this (boxed) from a job to fail it for good: no more attempts, the task is dead.
///
/// ```
/// use drover_core::{Abort, BoxDynError};
///
/// async fn charge(amount: i64) -> Result<(), BoxDynError> {
///     if amount < 0 {
///         return Err(Abort::new("negative amount; retrying will not help").into());
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Abort(BoxDynError);

impl Abort {
    /// Abort with the given reason.
    pub fn new(reason: impl Into<BoxDynError>) -> Self {
        Self(reason.into())
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "aborted: {}", self.0)
    }
}

impl std::error::Error for Abort {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Return this (boxed) from a job to retry it after a given delay instead of the backoff.
/// Attempts are still counted: once they run out the task is dead.
///
/// ```
/// use drover_core::{BoxDynError, RetryAfter};
/// use std::time::Duration;
///
/// async fn call_api() -> Result<(), BoxDynError> {
///     Err(RetryAfter::new(Duration::from_secs(30), "rate limited by the API").into())
/// }
/// ```
#[derive(Debug)]
pub struct RetryAfter {
    delay: Duration,
    reason: BoxDynError,
}

impl RetryAfter {
    /// Retry after `delay` because of `reason`.
    pub fn new(delay: Duration, reason: impl Into<BoxDynError>) -> Self {
        Self { delay, reason: reason.into() }
    }

    /// The requested delay.
    pub fn delay(&self) -> Duration {
        self.delay
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (retry requested after {:?})", self.reason, self.delay)
    }
}

impl std::error::Error for RetryAfter {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.reason)
    }
}
