//! Claim hints: what keeps a claim's cost flat while a large backlog drains.
//!
//! A claimed task leaves its entry in `tasks_pending_claim_idx`, and a finished one its entry
//! in `tasks_running_lease_idx`, until VACUUM removes them. Both scans of the claim start at
//! the front of their index, where a drain leaves those entries behind it: without a vacuum,
//! the claim after a million tasks walks a million dead entries (about 6,000 index pages, 60
//! ms here) before it finds a live one.
//!
//! So during a long drain the storage remembers where its last full batch started, in claim
//! order (priority, run_at, id), and the next claim's due scan starts there, without the
//! expired-lease scan (the HINTED statement). Tasks the hinted claim cannot see — a task of
//! another priority, one due earlier than the hint (pushed with a past `run_at`, released by
//! a claim that rolled back), an expired lease — are taken by the next full claim. A full
//! claim runs:
//! - whenever a claim comes back short (the queue may hold tasks behind the hint);
//! - at least every [`MIN_FULL_EVERY`], or every [`FULL_COST_FACTOR`] times what the last
//!   full claim took when that is longer, so full claims cost at most about 5% of the time;
//! - until this storage has claimed [`STREAK`] tasks in full batches in a row: a queue that is
//!   not draining a backlog always claims in full.
//!
//! A hint only ever narrows a claim, so it never lets a claim take a task it should not.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Tasks claimed in full batches in a row before claims use a hint.
pub(crate) const STREAK: u64 = 5_000;

/// Shortest time between two full claims while hints are in use.
pub(crate) const MIN_FULL_EVERY: Duration = Duration::from_millis(250);

/// A full claim runs again after this many times its own duration (if longer than
/// [`MIN_FULL_EVERY`]).
pub(crate) const FULL_COST_FACTOR: u32 = 20;

/// Where the next claim's due scan starts: a priority, and a `(run_at, id)` within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hint {
    pub(crate) priority: i32,
    pub(crate) run_at: DateTime<Utc>,
    pub(crate) id: Uuid,
}

#[derive(Debug, Default)]
struct State {
    /// Tasks claimed in full batches since the last short one.
    streak: u64,
    /// The first task (in claim order) of the last full batch.
    start: Option<Hint>,
    /// When the last full claim started, and how long it took.
    last_full: Option<(Instant, Duration)>,
}

/// One storage's hint state (shared by its clones, so by the worker's claims).
#[derive(Debug, Default)]
pub(crate) struct ClaimHints {
    state: Mutex<State>,
}

impl ClaimHints {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few numbers, valid whatever a panicking holder left.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The hint for a claim starting at `now`, or `None` for a full claim.
    pub(crate) fn next(&self, now: Instant) -> Option<Hint> {
        let state = self.state();
        if state.streak < STREAK {
            return None;
        }
        let (at, took) = state.last_full?;
        let every = took.saturating_mul(FULL_COST_FACTOR).max(MIN_FULL_EVERY);
        if now.saturating_duration_since(at) >= every {
            return None;
        }
        state.start
    }

    /// Record a claim that started at `started` with `hint` (None: a full claim), asked for
    /// `asked` tasks and got `rows`: each row's priority and `(run_at, id)`.
    pub(crate) fn record(
        &self,
        started: Instant,
        hint: Option<Hint>,
        asked: usize,
        rows: impl Iterator<Item = (i32, DateTime<Utc>, Uuid)>,
    ) {
        let mut got = 0usize;
        let mut first: Option<Hint> = None;
        for (priority, run_at, id) in rows {
            got += 1;
            let row = Hint { priority, run_at, id };
            first = Some(match first {
                None => row,
                Some(f) if claim_order(&row, &f).is_lt() => row,
                Some(f) => f,
            });
        }
        let mut state = self.state();
        if hint.is_none() {
            state.last_full = Some((started, started.elapsed()));
        }
        if got < asked || got == 0 {
            state.streak = 0;
            state.start = None;
        } else {
            state.streak = state.streak.saturating_add(got as u64);
            state.start = first;
        }
    }
}

/// Claim order: higher priority first, then earlier `run_at`, then smaller id.
fn claim_order(a: &Hint, b: &Hint) -> std::cmp::Ordering {
    b.priority.cmp(&a.priority).then(a.run_at.cmp(&b.run_at)).then(a.id.cmp(&b.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(priority: i32, second: i64, id: u128) -> (i32, DateTime<Utc>, Uuid) {
        (priority, DateTime::from_timestamp(second, 0).unwrap_or_default(), Uuid::from_u128(id))
    }

    #[test]
    fn no_hint_until_a_streak_of_full_batches() {
        let hints = ClaimHints::default();
        let now = Instant::now();
        assert_eq!(hints.next(now), None);
        for i in 0..(STREAK / 1_000) {
            assert_eq!(hints.next(now), None, "after {i} batches");
            hints.record(now, None, 1_000, (0..1_000).map(|j| row(0, 10, u128::from(i * 1_000 + j))));
        }
        let hint = hints.next(now).map(|h| h.id);
        assert_eq!(hint, Some(Uuid::from_u128(u128::from(STREAK - 1_000))));
    }

    #[test]
    fn a_short_batch_ends_the_streak() {
        let hints = ClaimHints::default();
        let now = Instant::now();
        hints.record(now, None, 10, (0..10).map(|j| row(0, 1, j)));
        for _ in 0..STREAK {
            hints.record(now, None, 1, std::iter::once(row(0, 1, 5)));
        }
        assert!(hints.next(now).is_some());
        hints.record(now, hints.next(now), 10, (0..9).map(|j| row(0, 1, j)));
        assert_eq!(hints.next(now), None);
    }

    #[test]
    fn the_hint_is_the_first_row_in_claim_order() {
        let hints = ClaimHints::default();
        let now = Instant::now();
        let rows = [row(0, 5, 1), row(2, 9, 7), row(2, 9, 3), row(2, 11, 2), row(1, 1, 0)];
        for _ in 0..STREAK {
            hints.record(now, None, rows.len(), rows.iter().copied());
        }
        let hint = hints.next(now);
        assert_eq!(hint.map(|h| (h.priority, h.id)), Some((2, Uuid::from_u128(3))));
    }

    #[test]
    fn full_claims_come_back_after_a_while() {
        let hints = ClaimHints::default();
        let long_ago = Instant::now();
        for _ in 0..STREAK {
            hints.record(long_ago, None, 1, std::iter::once(row(0, 1, 5)));
        }
        let later = long_ago + FULL_COST_FACTOR * MIN_FULL_EVERY + Duration::from_secs(60);
        assert_eq!(hints.next(later), None, "a full claim is due");
        assert!(hints.next(long_ago).is_some());
    }
}
