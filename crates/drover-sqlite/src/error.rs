//! Turning sqlx errors into the backend errors the worker understands.

use drover_core::BackendError;

/// Map a sqlx error met during `operation`: an unreachable file or a dead connection is a
/// connection error (the worker retries with backoff), anything SQLite said is a server error.
pub(crate) fn sql(operation: &'static str, error: sqlx::Error) -> BackendError {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => BackendError::connection(operation, error),
        sqlx::Error::Database(db) if db.message().contains("no such table") => BackendError::Schema(format!(
            "{operation} failed: {}; run `SqliteStorage::setup(&pool)` once before using the storage \
             (`SqliteStorage::connect` does it for you)",
            db.message()
        )),
        other => BackendError::server(operation, other),
    }
}
