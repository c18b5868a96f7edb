//! Turning sqlx errors into [`BackendError`]s, and retrying the errors InnoDB asks callers to
//! retry (deadlocks and lock wait timeouts).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use drover_core::BackendError;
use drover_sqlx::error::{classify, Dialect};
use sqlx::error::DatabaseError;
use sqlx::mysql::MySqlDatabaseError;

/// `ER_LOCK_DEADLOCK`: InnoDB rolled the transaction back to break a deadlock.
const ER_LOCK_DEADLOCK: u16 = 1213;
/// `ER_LOCK_WAIT_TIMEOUT`: a row lock was not granted in `innodb_lock_wait_timeout`.
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// `ER_NO_SUCH_TABLE`: the usual sign that [`MysqlStorage::setup`](crate::MysqlStorage::setup)
/// never ran.
const ER_NO_SUCH_TABLE: u16 = 1146;

/// How often an operation that hit a deadlock or lock wait timeout is tried in all.
const LOCK_ATTEMPTS: u32 = 6;

/// The MySQL error number of a server error, if `error` is one.
pub(crate) fn error_number(error: &sqlx::Error) -> Option<u16> {
    match error {
        sqlx::Error::Database(db) => db.try_downcast_ref::<MySqlDatabaseError>().map(MySqlDatabaseError::number),
        _ => None,
    }
}

/// Whether `error` is a deadlock or a lock wait timeout, which InnoDB resolves by rolling the
/// statement or transaction back: running it again is the documented remedy.
pub(crate) fn is_lock_conflict(error: &sqlx::Error) -> bool {
    matches!(error_number(error), Some(ER_LOCK_DEADLOCK | ER_LOCK_WAIT_TIMEOUT))
}

/// Whether `error` is a duplicate key in a UNIQUE index (sqlx's own classification).
pub(crate) use drover_sqlx::error::is_unique_violation as is_duplicate_key;

/// MySQL's error numbers, as the shared classifier needs them.
const MYSQL: Dialect = Dialect { storage: "MysqlStorage", missing_schema, unavailable };

fn number(db: &dyn DatabaseError) -> Option<u16> {
    db.try_downcast_ref::<MySqlDatabaseError>().map(MySqlDatabaseError::number)
}

fn missing_schema(db: &dyn DatabaseError) -> bool {
    number(db) == Some(ER_NO_SUCH_TABLE)
}

/// `ER_CON_COUNT_ERROR` (too many connections), `ER_SERVER_SHUTDOWN`: the call may work later.
fn unavailable(db: &dyn DatabaseError) -> bool {
    matches!(number(db), Some(1040 | 1053))
}

/// A [`BackendError`] for a failed `operation`, saying what to do where we can tell.
pub(crate) fn backend_error(operation: &'static str, error: sqlx::Error) -> BackendError {
    classify(&MYSQL, operation, error)
}

/// A boxed attempt. Boxing keeps the futures of the public methods `Send` for every lifetime
/// (async blocks borrowing a connection inside a closure otherwise trip the compiler's
/// higher-ranked lifetime checks).
pub(crate) type Attempt<'a, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'a>>;

/// Run `attempt` until it succeeds, fails with something other than a lock conflict, or has
/// hit lock conflicts [`LOCK_ATTEMPTS`] times. Each call must be a whole transaction (or one
/// statement): InnoDB has rolled back the failed one, so running it again is safe.
pub(crate) async fn retry_on_lock_conflict<'a, T, F>(operation: &'static str, mut attempt: F) -> Result<T, BackendError>
where
    F: FnMut() -> Attempt<'a, T>,
{
    let mut tries = 0u32;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if tries < LOCK_ATTEMPTS && is_lock_conflict(&error) => {
                // Jitter, so the transactions that collided do not collide again in lockstep.
                let delay = Duration::from_micros(fastrand::u64(500..=2_000) * u64::from(tries));
                tracing::debug!(operation, %error, tries, ?delay, "lock conflict; retrying");
                tokio::time::sleep(delay).await;
            }
            Err(error) => return Err(backend_error(operation, error)),
        }
    }
}
