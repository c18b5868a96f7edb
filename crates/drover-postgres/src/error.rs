//! Turning sqlx errors into the core's [`BackendError`], through the classifier every SQL
//! backend shares (`drover_sqlx::error`).

use drover_core::BackendError;
use drover_sqlx::error::{classify, Dialect};
use sqlx::error::DatabaseError;

/// PostgreSQL's error codes, as the shared classifier needs them.
const POSTGRES: Dialect = Dialect { storage: "PostgresStorage", missing_schema, unavailable };

/// undefined_table, undefined_function, invalid_schema_name.
fn missing_schema(db: &dyn DatabaseError) -> bool {
    matches!(db.code().as_deref(), Some("42P01" | "42883" | "3F000"))
}

/// connection_exception class, admin/crash shutdown, cannot_connect_now, too_many_connections:
/// the server is restarting or overloaded.
fn unavailable(db: &dyn DatabaseError) -> bool {
    db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300")
}

/// Classify a sqlx error from `operation`.
pub(crate) fn db_error(operation: &'static str, error: sqlx::Error) -> BackendError {
    classify(&POSTGRES, operation, error)
}

pub(crate) use drover_sqlx::error::is_unique_violation;
