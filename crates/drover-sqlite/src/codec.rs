//! How task fields are stored: ids as 16-byte big-endian blobs, times as integer milliseconds.

use chrono::{DateTime, Utc};
use drover_core::{BackendError, TaskId};

/// The id as stored: the ULID's 128 bits, big-endian, so byte order is creation order.
pub(crate) fn id_bytes(id: TaskId) -> [u8; 16] {
    id.to_bytes()
}

/// The id read back from its stored bytes.
pub(crate) fn id_from(bytes: &[u8]) -> Result<TaskId, BackendError> {
    TaskId::from_bytes(bytes).ok_or_else(|| {
        BackendError::Corrupt(format!(
            "a task id in drover_tasks has {} bytes instead of 16: the table was written by something \
             other than drover-sqlite",
            bytes.len()
        ))
    })
}

/// Milliseconds since the Unix epoch, UTC.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The current time in stored form. SQLite runs in this process, so this clock is the
/// database's clock.
pub(crate) fn now_millis() -> i64 {
    millis(Utc::now())
}

/// A stored time read back; out-of-range values clamp to the representable range.
pub(crate) fn time_from(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// `now + d` in milliseconds, saturating.
pub(crate) fn after(now: i64, d: std::time::Duration) -> i64 {
    now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_by_creation() {
        let a = TaskId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = TaskId::new();
        assert_eq!(id_from(&id_bytes(a)).unwrap(), a);
        assert!(id_bytes(a) < id_bytes(b), "byte order must be creation order");
        assert!(id_from(&[1, 2, 3]).is_err());
    }

    #[test]
    fn times_round_trip_in_milliseconds() {
        let now = now_millis();
        assert_eq!(millis(time_from(now)), now);
        assert_eq!(after(now, std::time::Duration::from_millis(1500)), now + 1500);
        assert_eq!(after(i64::MAX - 1, std::time::Duration::from_secs(1)), i64::MAX);
    }
}
