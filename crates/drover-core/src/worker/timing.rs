//! Deadlines and backoff shared by the loop and its parts.

use std::time::Duration;

use tokio::time::Instant;

/// `now` plus `d`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// Now plus `d` (see [`deadline_after`]).
pub(crate) fn deadline_in(d: Duration) -> Instant {
    deadline_after(Instant::now(), d)
}

/// Backoff after a failed backend call: 100 ms doubling to 30 s.
pub(crate) fn error_backoff(consecutive: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << consecutive.min(9))).min(Duration::from_secs(30))
}
