//! sqlx errors as the core's [`BackendError`]: connection trouble (the worker retries with
//! backoff), a missing schema (a set-up mistake, with the fix), or an error the server reported.

use drover_core::BackendError;
use sqlx::error::{DatabaseError, ErrorKind};

/// What differs between databases when classifying their errors.
#[derive(Clone, Copy, Debug)]
pub struct Dialect {
    /// The storage type, for the set-up hint (`PostgresStorage`).
    pub storage: &'static str,
    /// Whether a server error says the schema is missing (no such table, function or schema).
    pub missing_schema: fn(&dyn DatabaseError) -> bool,
    /// Whether a server error says the server is restarting, shutting down or full, so the
    /// call may work later.
    pub unavailable: fn(&dyn DatabaseError) -> bool,
}

/// Classify `error`, met during `operation`.
pub fn classify(dialect: &Dialect, operation: &'static str, error: sqlx::Error) -> BackendError {
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => BackendError::connection(operation, error),
        sqlx::Error::Database(db) if (dialect.missing_schema)(db.as_ref()) => BackendError::Schema(format!(
            "{operation} failed: {db}; Drover's tables are missing or out of date: run `{}::setup(&pool)` once at \
             start-up (it applies the embedded migrations)",
            dialect.storage
        )),
        sqlx::Error::Database(db) if (dialect.unavailable)(db.as_ref()) => BackendError::connection(operation, error),
        _ => BackendError::server(operation, error),
    }
}

/// Whether `error` is a unique-constraint violation, by sqlx's own classification.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation)
}
