//! Turning sqlx errors into the backend errors the worker understands, through the classifier
//! every SQL backend shares (`drover_sqlx::error`).

use drover_core::BackendError;
use drover_sqlx::error::{classify, Dialect};
use sqlx::error::DatabaseError;

/// SQLite's messages, as the shared classifier needs them. A file database is never
/// "unavailable" the way a server is: a busy file waits out the busy timeout instead.
const SQLITE: Dialect = Dialect { storage: "SqliteStorage", missing_schema, unavailable: |_| false };

fn missing_schema(db: &dyn DatabaseError) -> bool {
    db.message().contains("no such table")
}

/// Map a sqlx error met during `operation`: an unreachable file or a dead connection is a
/// connection error (the worker retries with backoff), a missing table a set-up mistake
/// (`SqliteStorage::connect` runs the set-up for you), anything else SQLite said a server
/// error.
pub(crate) fn sql(operation: &'static str, error: sqlx::Error) -> BackendError {
    classify(&SQLITE, operation, error)
}
