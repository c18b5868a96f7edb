//! Durations as the integers stores write: whole microseconds or milliseconds, capped at
//! [`MAX_SPAN`] so that `now + delay` can never overflow a timestamp.

use std::time::Duration;

/// The longest delay or lease a store writes (100 years): beyond it timestamps would overflow,
/// and nobody waits that long.
pub const MAX_SPAN: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `d` in whole microseconds, capped at [`MAX_SPAN`].
pub fn micros(d: Duration) -> i64 {
    i64::try_from(d.min(MAX_SPAN).as_micros()).unwrap_or(i64::MAX)
}

/// `d` in whole milliseconds, capped at [`MAX_SPAN`].
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.min(MAX_SPAN).as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_capped() {
        assert_eq!(micros(Duration::from_millis(3)), 3_000);
        assert_eq!(millis(Duration::from_secs(2)), 2_000);
        assert_eq!(micros(Duration::MAX), micros(MAX_SPAN));
        assert_eq!(millis(Duration::MAX), millis(MAX_SPAN));
    }
}
