//! How many tasks a worker claims beyond its free slots.
//!
//! A worker that claims only for its free slots makes one round trip per handful of jobs, and
//! every job waits behind that round trip: with short jobs and a server a millisecond away, the
//! round trip, not the work, sets the pace. Claiming ahead hides it, but tasks claimed ahead
//! are leased to this worker, so claiming too far ahead starves the other workers.
//!
//! The adaptive policy (the default) claims ahead what the worker will start during the next
//! two claim round trips: the rate at which it starts jobs times twice the round trip, both
//! measured. Short jobs on a busy queue claim large batches; slow jobs claim next to nothing
//! ahead. While the worker starves (a slot free, nothing at hand) the measured rate is the
//! supply's, not the demand's, so each full claim at least quadruples what the next one
//! claims ahead until the worker keeps up. Tasks claimed ahead that still wait after [`hold`] are handed back, so a change
//! of pace (jobs that suddenly take longer) never keeps work from other workers for long.

use std::time::Duration;

use tokio::time::Instant;

/// How a worker claims beyond its free slots; set with
/// [`WorkerBuilder::prefetch`](crate::WorkerBuilder::prefetch) or
/// [`WorkerBuilder::prefetch_adaptive`](crate::WorkerBuilder::prefetch_adaptive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Prefetch {
    /// Always claim this many beyond the free slots (0: only the free slots).
    Fixed(usize),
    /// Claim ahead what the worker starts during two claim round trips, measured as it runs,
    /// never more than `max` (the default, with `max` 1,000).
    Adaptive {
        /// The most tasks claimed beyond the free slots.
        max: usize,
    },
}

impl Default for Prefetch {
    fn default() -> Self {
        Self::Adaptive { max: 1000 }
    }
}

impl Prefetch {
    /// The most tasks this policy ever claims beyond the free slots.
    pub fn max(self) -> usize {
        match self {
            Self::Fixed(n) => n,
            Self::Adaptive { max } => max,
        }
    }
}

/// The longest a task claimed ahead waits for a slot before it is handed back: a quarter of
/// the lease, at most a second.
pub(crate) fn hold(lease: Duration) -> Duration {
    (lease / 4).min(Duration::from_secs(1))
}

/// The adaptive policy's measurements.
#[derive(Debug)]
pub(crate) struct PrefetchState {
    policy: Prefetch,
    ahead: usize,
    /// Smoothed round trip of a claim, seconds.
    rtt: f64,
    /// When the claim in flight was sent.
    issued_at: Option<Instant>,
    /// Jobs started at the last measurement, and when it was taken.
    sample_started: u64,
    sample_at: Instant,
}

impl PrefetchState {
    pub(crate) fn new(policy: Prefetch) -> Self {
        let ahead = match policy {
            Prefetch::Fixed(n) => n,
            Prefetch::Adaptive { .. } => 0,
        };
        Self { policy, ahead, rtt: 0.0, issued_at: None, sample_started: 0, sample_at: Instant::now() }
    }

    /// Tasks to claim beyond the free slots now.
    pub(crate) fn ahead(&self) -> usize {
        self.ahead
    }

    pub(crate) fn claim_sent(&mut self, now: Instant) {
        self.issued_at = Some(now);
    }

    /// A claim came back with `got` of the `asked` tasks; `started` counts every job this
    /// worker has started; `starved` says at least a quarter of the slots fell idle while the
    /// claim was in flight, with no task at hand for them.
    pub(crate) fn claim_returned(&mut self, now: Instant, started: u64, asked: usize, got: usize, starved: bool) {
        let Prefetch::Adaptive { max } = self.policy else {
            return;
        };
        let Some(issued_at) = self.issued_at.take() else {
            return;
        };
        let elapsed = now.saturating_duration_since(self.sample_at).as_secs_f64();
        let ran = started.saturating_sub(self.sample_started);
        self.sample_started = started;
        self.sample_at = now;
        if got < asked {
            // The queue ran short: nothing to gain from asking for more.
            self.ahead = self.ahead.min(got);
            return;
        }
        // Only a full claim measures the round trip: a short one may have waited for work (a
        // broker's claim waits for deliveries), which is no round trip to hide.
        let rtt = now.saturating_duration_since(issued_at).as_secs_f64();
        self.rtt = if self.rtt == 0.0 { rtt } else { 0.7 * self.rtt + 0.3 * rtt };
        let rate = if elapsed > 0.0 { ran as f64 / elapsed } else { 0.0 };
        let wanted = (rate * self.rtt * 2.0).round();
        let wanted = if wanted.is_finite() && wanted > 0.0 { wanted.min(max as f64) as usize } else { 0 };
        self.ahead =
            if starved && ran > 0 { wanted.max(self.ahead.saturating_mul(4).max(16)) } else { wanted }.min(max);
    }

    /// Tasks claimed ahead had to be handed back: the pace changed, so claim less.
    pub(crate) fn handed_back(&mut self) {
        if matches!(self.policy, Prefetch::Adaptive { .. }) {
            self.ahead /= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_never_changes() {
        let mut p = PrefetchState::new(Prefetch::Fixed(4));
        let t = Instant::now();
        p.claim_sent(t);
        p.claim_returned(t + Duration::from_millis(5), 1_000, 14, 14, true);
        p.handed_back();
        assert_eq!(p.ahead(), 4);
    }

    #[test]
    fn adaptive_grows_with_fast_jobs_and_shrinks_with_slow_ones() {
        let mut p = PrefetchState::new(Prefetch::Adaptive { max: 500 });
        let mut t = Instant::now();
        let mut started = 0;
        // Fast jobs, starving: each full claim at least quadruples what the next claims ahead.
        for _ in 0..6 {
            p.claim_sent(t);
            t += Duration::from_millis(1);
            started += 10 + p.ahead() as u64;
            let asked = 10 + p.ahead();
            p.claim_returned(t, started, asked, asked, true);
        }
        assert!(p.ahead() >= 256, "{p:?}");
        // Slow jobs: one job in a second, a 1 ms round trip: nothing ahead.
        t += Duration::from_secs(1);
        p.claim_sent(t);
        t += Duration::from_millis(1);
        p.claim_returned(t, started + 1, 10, 10, false);
        assert_eq!(p.ahead(), 0, "{p:?}");
        // A short claim caps it at what the queue had.
        let mut p = PrefetchState::new(Prefetch::Adaptive { max: 500 });
        p.ahead = 100;
        p.claim_sent(t);
        p.claim_returned(t + Duration::from_millis(1), 5_000, 110, 3, true);
        assert_eq!(p.ahead(), 3);
        p.handed_back();
        assert_eq!(p.ahead(), 1);
    }
}
