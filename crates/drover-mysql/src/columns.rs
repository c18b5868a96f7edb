//! How task fields map to columns: ids as 16 big-endian bytes, durations as microseconds,
//! times as `DATETIME(6)` in UTC, and whole rows back into [`TaskInfo`].

use chrono::{DateTime, NaiveDate, Utc};
use drover_core::{Status, TaskId, TaskInfo};
use sqlx::mysql::MySqlRow;
use sqlx::Row;

/// The columns [`task_info`] reads, in a `SELECT`.
pub(crate) const TASK_COLUMNS: &str = "id, queue, payload, status, attempt, max_attempts, run_at, priority, \
     unique_key, concurrency_key, last_error, created_at, updated_at, lease_expires_at, started_at";

/// A task's detail: [`TASK_COLUMNS`] and its attempt history (pages leave the history out).
pub(crate) const DETAIL_COLUMNS: &str = "id, queue, payload, status, attempt, max_attempts, run_at, priority, \
     unique_key, concurrency_key, last_error, created_at, updated_at, lease_expires_at, started_at, attempts";

/// SQL for the task's `attempts` history (columns prefixed by `$t`, such as `"t."`) with the
/// attempt being left appended: number `attempt`, started `started_at`, ended at `$finished`,
/// failed with `$error` (NULL: an expired lease), the oldest dropped beyond
/// drover_core::ATTEMPT_HISTORY_LIMIT (20). In an UPDATE it must come before any assignment to
/// the columns it reads: MySQL assigns left to right. Migration 6 describes the stored form.
macro_rules! push_attempt {
    ($t:literal, $finished:literal, $error:literal) => {
        concat!(
            "JSON_ARRAY_APPEND(IF(JSON_LENGTH(COALESCE(",
            $t,
            "attempts, '[]')) >= 20, JSON_REMOVE(",
            $t,
            "attempts, '$[0]'), COALESCE(",
            $t,
            "attempts, '[]')), '$', JSON_OBJECT('n', ",
            $t,
            "attempt, 's', TIMESTAMPDIFF(MICROSECOND, '1970-01-01', ",
            $t,
            "started_at) DIV 1000, 'f', \
             TIMESTAMPDIFF(MICROSECOND, '1970-01-01', ",
            $finished,
            ") DIV 1000, 'e', ",
            $error,
            "))"
        )
    };
}
pub(crate) use push_attempt;

/// Longest error text stored (`TEXT` holds 65,535 bytes).
const MAX_ERROR_BYTES: usize = 60_000;

/// An id as stored: [`TaskId::to_u128`] in big-endian order, so byte order is time order.
pub(crate) fn id_bytes(id: TaskId) -> Vec<u8> {
    id.to_bytes().to_vec()
}

/// An id read back from its 16 bytes.
pub(crate) fn task_id(bytes: &[u8]) -> Result<TaskId, sqlx::Error> {
    TaskId::from_bytes(bytes).ok_or_else(|| {
        sqlx::Error::Decode(format!("a task id must be 16 bytes, found {} in drover_tasks.id", bytes.len()).into())
    })
}

/// A duration in whole microseconds for `INTERVAL ? MICROSECOND`, capped at 100 years.
pub(crate) use drover_core::span::micros;

/// A run time inside `DATETIME`'s range (years 1000 to 9999).
pub(crate) fn clamp_time(at: DateTime<Utc>) -> DateTime<Utc> {
    let min = NaiveDate::from_ymd_opt(1000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    let max = NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .map(|t| t.and_utc());
    match (min, max) {
        (Some(min), Some(max)) => at.clamp(min, max),
        _ => at,
    }
}

/// An error message cut to what the `last_error` column holds, at a character boundary.
pub(crate) fn error_text(error: &str) -> &str {
    if error.len() <= MAX_ERROR_BYTES {
        return error;
    }
    let mut end = MAX_ERROR_BYTES;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

/// Text from a column read as bytes (binary collations come back flagged as binary).
fn text(row: &MySqlRow, column: &str) -> Result<Option<String>, sqlx::Error> {
    let bytes: Option<Vec<u8>> = row.try_get(column)?;
    bytes
        .map(|b| {
            String::from_utf8(b)
                .map_err(|e| sqlx::Error::Decode(format!("drover_tasks.{column} is not UTF-8: {e}").into()))
        })
        .transpose()
}

/// A row selected with [`TASK_COLUMNS`].
pub(crate) fn task_info(row: &MySqlRow) -> Result<TaskInfo, sqlx::Error> {
    let id: Vec<u8> = row.try_get("id")?;
    let status = text(row, "status")?.unwrap_or_default();
    let status: Status = status.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let mut info = TaskInfo::from_new(
        &text(row, "queue")?.unwrap_or_default(),
        &drover_core::NewTask::new(Vec::new(), drover_core::PushOptions::new()),
        row.try_get("created_at")?,
    );
    info.id = task_id(&id)?;
    info.payload = row.try_get("payload")?;
    info.status = status;
    info.attempt = row.try_get("attempt")?;
    info.max_attempts = row.try_get("max_attempts")?;
    info.run_at = row.try_get("run_at")?;
    info.priority = row.try_get("priority")?;
    info.unique_key = text(row, "unique_key")?;
    info.concurrency_key = text(row, "concurrency_key")?;
    info.last_error = text(row, "last_error")?;
    info.updated_at = row.try_get("updated_at")?;
    info.lease_expires_at = row.try_get("lease_expires_at")?;
    info.started_at = row.try_get("started_at")?;
    Ok(info)
}

/// A row selected with [`DETAIL_COLUMNS`]: the task and its attempt history.
pub(crate) fn task_detail(row: &MySqlRow) -> Result<TaskInfo, drover_core::BackendError> {
    let mut info = task_info(row).map_err(|e| crate::error::backend_error("get", e))?;
    if let Some(attempts) = text(row, "attempts").map_err(|e| crate::error::backend_error("get", e))? {
        info.attempts = drover_core::AttemptRecord::decode_history(attempts.as_bytes())?;
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ids_sort_by_bytes_like_by_time() {
        let a = TaskId::new();
        std::thread::sleep(Duration::from_millis(2));
        let b = TaskId::new();
        assert!(id_bytes(a) < id_bytes(b));
        assert_eq!(task_id(&id_bytes(a)).ok(), Some(a));
        assert!(task_id(&[1, 2, 3]).is_err());
    }

    #[test]
    fn durations_and_errors_are_capped() {
        assert_eq!(micros(Duration::from_millis(3)), 3_000);
        assert_eq!(micros(Duration::MAX), micros(drover_core::span::MAX_SPAN));
        let long = "é".repeat(40_000);
        assert!(error_text(&long).len() <= MAX_ERROR_BYTES);
        assert_eq!(error_text("short"), "short");
        assert_eq!(clamp_time(DateTime::<Utc>::MAX_UTC).format("%Y").to_string(), "9999");
    }
}
