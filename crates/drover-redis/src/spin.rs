//! Waiting for a single push's reply without putting the thread to sleep.
//!
//! A single push is one round trip, and on a nearby Redis (same host, loopback) the reply comes
//! back within tens of microseconds. When the awaiting thread parks in the meantime, the
//! reply has to wake it: on a virtual machine an idle vCPU that halted is woken by an
//! inter-processor interrupt through the hypervisor, which here costs about as much as the
//! round trip itself (measured on this project's 2-core CI machine: `redis-benchmark -c 1` on the
//! push script does 14,000–15,000 calls/s when the machine is idle and 29,000 when its other
//! core is busy). So a single push first keeps its task runnable for a short budget, yielding
//! to the runtime between polls (every yield lets other tasks run and polls the I/O driver),
//! and only sleeps like any other await once the budget is spent.
//!
//! The spin is bounded three ways, so that it costs little where it does not help:
//! - by time: at most the budget per push ([`RedisConfig::set_push_spin`](crate::RedisConfig::set_push_spin));
//! - by concurrency: only a push with no other single push of its storage in flight spins;
//!   concurrent pushes are pipelined on the connection and a reply always follows soon anyway;
//! - by experience: after [`MISSES_TO_STOP`] spins in a row that ran out before the reply
//!   came (a Redis farther away than the budget), only one push in [`PROBE_EVERY`] spins, to
//!   notice when replies come quickly again.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

/// Spins in a row that ended before the reply after which spinning mostly stops.
pub(crate) const MISSES_TO_STOP: u32 = 3;

/// While spinning mostly stops, one push in this many still spins.
pub(crate) const PROBE_EVERY: u64 = 64;

/// The spin state of one storage.
#[derive(Debug)]
pub(crate) struct ReplySpin {
    budget: Duration,
    in_flight: AtomicUsize,
    misses: AtomicU32,
    pushes: AtomicU64,
}

impl ReplySpin {
    pub(crate) fn new(budget: Duration) -> Self {
        Self { budget, in_flight: AtomicUsize::new(0), misses: AtomicU32::new(0), pushes: AtomicU64::new(0) }
    }

    /// Await `reply`, spinning first when the bounds above allow it.
    pub(crate) async fn wait<F: Future>(&self, reply: F) -> F::Output {
        if self.budget.is_zero() {
            return reply.await;
        }
        let alone = self.in_flight.fetch_add(1, Ordering::AcqRel) == 0;
        let _in_flight = InFlight(&self.in_flight);
        let n = self.pushes.fetch_add(1, Ordering::Relaxed);
        let trusted = self.misses.load(Ordering::Relaxed) < MISSES_TO_STOP || n.is_multiple_of(PROBE_EVERY);
        if !(alone && trusted) {
            return reply.await;
        }
        let mut reply = pin!(reply);
        let started = Instant::now();
        loop {
            let polled = std::future::poll_fn(|cx| Poll::Ready(reply.as_mut().poll(cx))).await;
            if let Poll::Ready(output) = polled {
                self.misses.store(0, Ordering::Relaxed);
                return output;
            }
            if started.elapsed() >= self.budget {
                let _ = self.misses.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |m| Some(m.saturating_add(1)));
                return reply.await;
            }
            tokio::task::yield_now().await;
        }
    }

    #[cfg(test)]
    fn misses(&self) -> u32 {
        self.misses.load(Ordering::Relaxed)
    }
}

/// Counts a push in flight until it is dropped (also when the push's future is).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reply_within_the_budget_keeps_spinning_on() {
        let spin = ReplySpin::new(Duration::from_millis(50));
        for _ in 0..5 {
            assert_eq!(spin.wait(async { 7 }).await, 7);
            let slow = spin.wait(tokio::time::sleep(Duration::from_millis(1)));
            slow.await;
        }
        assert_eq!(spin.misses(), 0);
    }

    #[tokio::test]
    async fn replies_slower_than_the_budget_stop_the_spinning_but_a_probe_resumes_it() {
        let spin = ReplySpin::new(Duration::from_micros(200));
        for _ in 0..MISSES_TO_STOP {
            spin.wait(tokio::time::sleep(Duration::from_millis(2))).await;
        }
        assert_eq!(spin.misses(), MISSES_TO_STOP);
        // Not spinning: a slow reply no longer counts as a miss.
        for _ in 1..PROBE_EVERY - u64::from(MISSES_TO_STOP) {
            spin.wait(tokio::time::sleep(Duration::from_micros(300))).await;
        }
        assert_eq!(spin.misses(), MISSES_TO_STOP);
        // Push number PROBE_EVERY spins again; a quick reply makes spinning the rule again.
        let pushes = spin.pushes.load(Ordering::Relaxed);
        for _ in pushes..PROBE_EVERY {
            spin.wait(async {}).await;
        }
        spin.wait(async {}).await;
        assert_eq!(spin.misses(), 0);
    }

    #[tokio::test]
    async fn a_push_beside_another_in_flight_does_not_spin() {
        let spin = ReplySpin::new(Duration::from_micros(100));
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let first = spin.wait(async move { wait.await.ok() });
        let second = async {
            // Slower than the budget, but it does not spin, so it is no miss.
            spin.wait(tokio::time::sleep(Duration::from_millis(2))).await;
            release.send(()).ok();
        };
        let _ = tokio::join!(first, second);
        assert_eq!(spin.misses(), 1, "only the first push, alone when it started, spun (and missed)");
    }

    #[tokio::test]
    async fn a_zero_budget_never_spins() {
        let spin = ReplySpin::new(Duration::ZERO);
        for _ in 0..10 {
            spin.wait(tokio::time::sleep(Duration::from_millis(1))).await;
        }
        assert_eq!(spin.misses(), 0);
        assert_eq!(spin.pushes.load(Ordering::Relaxed), 0);
    }
}
