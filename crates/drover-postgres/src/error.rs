//! Turning sqlx errors into the core's [`BackendError`], with a hint where one helps.

use drover_core::BackendError;

/// What to do when the schema is missing.
const SETUP_HINT: &str = "the drover schema is missing or out of date: run `PostgresStorage::setup(&pool)` once \
                          at start-up (it applies the embedded migrations)";

/// Classify a sqlx error from `operation`: broken connections (which the worker retries with
/// backoff), a missing schema (a set-up mistake), or an error the server reported.
pub(crate) fn db_error(operation: &'static str, error: sqlx::Error) -> BackendError {
    match &error {
        sqlx::Error::Database(db) => {
            let code = db.code();
            match code.as_deref() {
                // undefined_table, undefined_function, invalid_schema_name
                Some("42P01" | "42883" | "3F000") => {
                    BackendError::Schema(format!("{operation} failed: {db}; {SETUP_HINT}"))
                }
                // connection_exception class, admin/crash shutdown, cannot_connect_now,
                // too_many_connections: the server is restarting or overloaded.
                Some(c) if c.starts_with("08") || c.starts_with("57P") || c == "53300" => {
                    BackendError::connection(operation, error)
                }
                _ => BackendError::server(operation, error),
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => BackendError::connection(operation, error),
        _ => BackendError::server(operation, error),
    }
}

/// Whether `error` is a unique-constraint violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}
