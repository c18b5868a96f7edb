//! How long a failed task waits before its next attempt.

use std::time::Duration;

/// Exponential backoff with jitter: `base × 2^(attempt-1)`, capped at `max`, then spread by
/// ±`jitter` (a fraction) so that tasks that failed together do not all come back together.
///
/// ```
/// use drover_core::Backoff;
/// use std::time::Duration;
///
/// let backoff = Backoff::exponential(Duration::from_secs(1)).max(Duration::from_secs(60)).jitter(0.0);
/// assert_eq!(backoff.delay(1), Duration::from_secs(1));
/// assert_eq!(backoff.delay(3), Duration::from_secs(4));
/// assert_eq!(backoff.delay(30), Duration::from_secs(60));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter: f64,
}

impl Default for Backoff {
    /// 2 s doubling per attempt, capped at one hour, ±25 % jitter.
    fn default() -> Self {
        Self { base: Duration::from_secs(2), max: Duration::from_secs(3600), jitter: 0.25 }
    }
}

impl Backoff {
    /// Exponential backoff starting at `base`, with the default cap and jitter.
    pub fn exponential(base: Duration) -> Self {
        Self { base, ..Self::default() }
    }

    /// A constant delay, without jitter.
    pub fn constant(delay: Duration) -> Self {
        Self { base: delay, max: delay, jitter: 0.0 }
    }

    /// Cap the delay.
    pub fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// Spread delays by ± this fraction (clamped to 0..=1).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction.clamp(0.0, 1.0);
        self
    }

    /// The delay after failed attempt number `attempt` (1 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(40);
        let raw = self.base.saturating_mul(1u32 << exponent.min(31)).min(self.max);
        if self.jitter == 0.0 {
            return raw;
        }
        let spread = 1.0 + self.jitter * (fastrand::f64() * 2.0 - 1.0);
        // Through f64 seconds with a clamp, so huge caps cannot overflow.
        let seconds = (raw.as_secs_f64() * spread).min(self.max.as_secs_f64());
        Duration::try_from_secs_f64(seconds).unwrap_or(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_bounds() {
        let backoff = Backoff::exponential(Duration::from_millis(100)).jitter(0.5);
        for _ in 0..1000 {
            let d = backoff.delay(2);
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(300), "{d:?}");
        }
    }

    #[test]
    fn huge_attempts_do_not_overflow() {
        assert_eq!(Backoff::default().jitter(0.0).delay(u32::MAX), Duration::from_secs(3600));
    }
}
