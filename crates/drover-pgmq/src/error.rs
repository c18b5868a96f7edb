//! Turning sqlx errors into the core's [`BackendError`], through the classifier every SQL
//! backend shares (`drover_sqlx::error`), with pgmq's own set-up hints first.

use drover_core::BackendError;
use drover_sqlx::error::{classify, Dialect};
use sqlx::error::DatabaseError;

/// How to install pgmq, for the error that finds it missing.
pub(crate) const INSTALL_HINT: &str = "install pgmq into this database: `CREATE EXTENSION pgmq` where the \
     extension is available, or run pgmq's `pgmq.sql` (shipped in the PyPI package `pgmq`, under \
     `pgmq/sql/pgmq.sql`) with `psql -v ON_ERROR_STOP=1 -f pgmq.sql`; in this repository `cargo xtask services` \
     does that";

/// PostgreSQL's error codes, as the shared classifier needs them. Missing tables and functions
/// are told apart before it (see [`db_error`]), so none counts as a missing schema here.
const PGMQ: Dialect = Dialect { storage: "PgmqStorage", missing_schema: |_| false, unavailable };

/// connection_exception class, admin/crash shutdown, cannot_connect_now, too_many_connections.
fn unavailable(db: &dyn DatabaseError) -> bool {
    db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300")
}

/// Classify a sqlx error met during `operation` on `queue`.
pub(crate) fn db_error(operation: &'static str, queue: &str, error: sqlx::Error) -> BackendError {
    if let sqlx::Error::Database(db) = &error {
        match db.code().as_deref() {
            // undefined_table: the queue's tables are missing.
            Some("42P01") => {
                return BackendError::Schema(format!(
                    "{operation} failed: {db}; the pgmq queue `{queue}` (or its dead queue `{queue}_dead`) does not \
                     exist: call `storage.setup().await` once at start-up (it runs pgmq.create for both)"
                ))
            }
            // invalid_schema_name, undefined_function: pgmq itself is missing or too old.
            Some("3F000" | "42883") => {
                return BackendError::Schema(format!(
                    "{operation} failed: {db}; pgmq 1.11 or newer is not installed in this database: {INSTALL_HINT}"
                ))
            }
            _ => {}
        }
    }
    classify(&PGMQ, operation, error)
}
