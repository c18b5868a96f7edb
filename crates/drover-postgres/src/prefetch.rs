//! Claim-ahead: a claim may take more tasks from the database than the worker asked for and
//! keep the rest in memory for the next claims, so a busy worker makes one round trip per
//! batch of tasks rather than per free slot.
//!
//! The buffered tasks are already claimed (status running, under a lease), so no other worker
//! can take them. They wait at most [`hold`] — a quarter of the lease, and never more than a
//! second — and are handed back to the database (pending, attempt not counted, like a worker's
//! own hand-back) when nobody takes them in time, so a worker that stops or slows down never
//! sits on work. How many extra tasks a claim takes adapts: it doubles (up to the configured
//! maximum) while claims come back full, and halves whenever buffered tasks had to be handed
//! back, so slow jobs or a short queue soon stop claiming ahead.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use drover_core::{ClaimedTask, Lease};
use tokio::time::Instant;

/// The longest a claimed task waits in the buffer.
pub(crate) fn hold(lease: Duration) -> Duration {
    (lease / 4).min(Duration::from_secs(1))
}

struct Buffered {
    task: ClaimedTask,
    /// When the buffered task must be handed back if nobody took it.
    hand_back_at: Instant,
    /// The lease it was claimed with.
    lease: Duration,
}

#[derive(Default)]
struct State {
    tasks: VecDeque<Buffered>,
    /// Extra tasks the next database claim takes.
    ahead: usize,
}

/// The claimed-ahead tasks of one storage (shared by its clones).
#[derive(Default)]
pub(crate) struct ClaimBuffer {
    state: Mutex<State>,
}

/// What the buffer gives a claim: tasks to hand out, and stale ones to hand back.
pub(crate) struct Taken {
    pub(crate) tasks: Vec<ClaimedTask>,
    pub(crate) stale: Vec<Lease>,
}

impl ClaimBuffer {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain data: a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Up to `max` buffered tasks whose lease is at least `lease` and still fresh, plus the
    /// stale ones, which the caller hands back.
    pub(crate) fn take(&self, max: usize, lease: Duration) -> Taken {
        let now = Instant::now();
        let mut state = self.lock();
        let mut taken = Taken { tasks: Vec::new(), stale: Vec::new() };
        if state.tasks.is_empty() {
            return taken;
        }
        let mut keep = VecDeque::with_capacity(state.tasks.len());
        for b in state.tasks.drain(..) {
            if b.hand_back_at <= now || b.lease < lease {
                // Too old, or leased for less than this worker heartbeats within.
                taken.stale.push(b.task.lease());
            } else if taken.tasks.len() < max {
                taken.tasks.push(b.task);
            } else {
                keep.push_back(b);
            }
        }
        state.tasks = keep;
        if !taken.stale.is_empty() {
            state.ahead /= 2;
        }
        taken
    }

    /// Take the tasks past their hand-back time (for the background hand-back).
    pub(crate) fn take_stale(&self) -> Vec<Lease> {
        let now = Instant::now();
        let mut state = self.lock();
        let before = state.tasks.len();
        let mut stale = Vec::new();
        state.tasks.retain(|b| {
            let fresh = b.hand_back_at > now;
            if !fresh {
                stale.push(b.task.lease());
            }
            fresh
        });
        if state.tasks.len() < before {
            state.ahead /= 2;
        }
        stale
    }

    /// How many extra tasks to claim now, at most `max_ahead`.
    pub(crate) fn ahead(&self, max_ahead: usize) -> usize {
        self.lock().ahead.min(max_ahead)
    }

    /// Record a database claim that asked for `asked` and got `got`: full claims mean a
    /// backlog, so claim further ahead next time.
    pub(crate) fn record_claim(&self, asked: usize, got: usize, max_ahead: usize) {
        if got >= asked && max_ahead > 0 {
            let mut state = self.lock();
            state.ahead = state.ahead.saturating_mul(2).max(8).min(max_ahead);
        }
    }

    /// Keep `tasks` (claimed with `lease`) for later claims; returns when to hand them back.
    pub(crate) fn keep(&self, tasks: Vec<ClaimedTask>, lease: Duration) -> Instant {
        let hand_back_at = Instant::now() + hold(lease);
        self.lock().tasks.extend(tasks.into_iter().map(|task| Buffered { task, hand_back_at, lease }));
        hand_back_at
    }

    /// Every buffered task, taken out (the storage is going away).
    pub(crate) fn take_all(&self) -> Vec<Lease> {
        self.lock().tasks.drain(..).map(|b| b.task.lease()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_core::{LeaseToken, TaskId};

    fn task(n: i64) -> ClaimedTask {
        ClaimedTask::new(TaskId::new(), LeaseToken(n), 1, 3, Vec::new())
    }

    #[tokio::test]
    async fn hands_out_fresh_tasks_in_order_and_stale_ones_back() {
        let buffer = ClaimBuffer::default();
        let lease = Duration::from_millis(200);
        buffer.keep(vec![task(1), task(2), task(3)], lease);
        let taken = buffer.take(2, lease);
        assert_eq!(taken.tasks.iter().map(|t| t.token.0).collect::<Vec<_>>(), [1, 2]);
        assert!(taken.stale.is_empty());
        // A worker with a longer lease must not get a task leased for less.
        let longer = buffer.take(5, Duration::from_secs(30));
        assert!(longer.tasks.is_empty());
        assert_eq!(longer.stale.len(), 1);
        buffer.keep(vec![task(4)], lease);
        tokio::time::sleep(hold(lease)).await;
        assert_eq!(buffer.take_stale().len(), 1);
        assert!(buffer.take(5, lease).tasks.is_empty());
    }

    #[test]
    fn claiming_ahead_adapts() {
        let buffer = ClaimBuffer::default();
        assert_eq!(buffer.ahead(100), 0);
        buffer.record_claim(10, 10, 100);
        assert_eq!(buffer.ahead(100), 8);
        buffer.record_claim(18, 18, 100);
        buffer.record_claim(26, 26, 100);
        assert_eq!(buffer.ahead(100), 32);
        buffer.record_claim(42, 3, 100);
        assert_eq!(buffer.ahead(100), 32);
        buffer.record_claim(10, 10, 0);
        assert_eq!(buffer.ahead(0), 0);
    }
}
