//! Claims: how many tasks to ask for and when, the claim in flight, idling after a short claim
//! or a failed one, wake-ups, and the measurements the adaptive prefetch needs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::prefetch::{Prefetch, PrefetchState};
use super::timing::{deadline_after, error_backoff};
use crate::backend::{Backend, ClaimRequest, Wakeup};
use crate::error::BackendError;
use crate::task::ClaimedTask;

/// A claim call in flight.
pub(crate) type ClaimFuture = Pin<Box<dyn Future<Output = Result<Vec<ClaimedTask>, BackendError>> + Send>>;

pub(crate) struct Claimer {
    prefetch: PrefetchState,
    pub(crate) adaptive: bool,
    concurrency: usize,
    /// The backend's cap on one claim.
    limit: usize,
    /// The claim in flight, and how many it asked for.
    pub(crate) in_flight: Option<ClaimFuture>,
    asked: usize,
    /// After a short or failed claim: no claim before this (a wake-up may end it early).
    pub(crate) idle_until: Option<Instant>,
    /// Failed claims in a row.
    pub(crate) errors: u32,
    /// The backend's push wake-ups, if it has them.
    pub(crate) wakeup: Option<Wakeup>,
    /// Jobs started so far, and slots that fell idle with nothing at hand while the claim was
    /// in flight: what the adaptive prefetch measures. The worker starved when at least
    /// `starved_at` slots (a quarter, as for claiming) fell idle, not when one job happened to
    /// end during a short claim.
    started: u64,
    idle_slots: usize,
    starved_at: usize,
}

impl Claimer {
    pub(crate) fn new(policy: Prefetch, concurrency: usize, limit: usize, wakeup: Option<Wakeup>) -> Self {
        Self {
            prefetch: PrefetchState::new(policy),
            adaptive: matches!(policy, Prefetch::Adaptive { .. }),
            concurrency,
            limit: limit.max(1),
            in_flight: None,
            asked: 0,
            idle_until: None,
            errors: 0,
            wakeup,
            started: 0,
            idle_slots: 0,
            starved_at: 1,
        }
    }

    /// How many tasks to claim now, given the tasks running and those claimed but not started;
    /// `None` when no claim should go out. While jobs run, the worker waits until a quarter of
    /// its slots (prefetch included) are free, so claims come in batches rather than one round
    /// trip per finished job.
    #[inline]
    pub(crate) fn wanted(&self, running: usize, unstarted: usize) -> Option<usize> {
        if self.in_flight.is_some() || self.idle_until.is_some() {
            return None;
        }
        let capacity = self.concurrency + self.prefetch.ahead();
        let free = capacity.saturating_sub(running + unstarted).min(self.limit);
        let floor = (capacity / 4).max(1);
        (free > 0 && (free >= floor || running == 0)).then_some(free)
    }

    /// Send a claim for `n` tasks leased for `lease`.
    pub(crate) fn send<B: Backend>(&mut self, backend: &B, worker: &Arc<str>, n: usize, lease: Duration) {
        if let Some(wakeup) = self.wakeup.as_mut() {
            wakeup.mark_seen();
        }
        self.prefetch.claim_sent(Instant::now());
        self.idle_slots = 0;
        self.starved_at = ((self.concurrency + self.prefetch.ahead()) / 4).max(1);
        self.asked = n;
        let backend = backend.clone();
        let request = ClaimRequest::new(worker.clone(), n, lease);
        self.in_flight = Some(Box::pin(async move { backend.claim(request).await }));
    }

    /// A job started.
    #[inline]
    pub(crate) fn job_started(&mut self) {
        self.started += 1;
    }

    /// `n` jobs ended while the claim was in flight and nothing else was at hand.
    #[inline]
    pub(crate) fn slots_idled(&mut self, n: usize) {
        if self.in_flight.is_some() {
            self.idle_slots += n;
        }
    }

    /// The claim returned at `now`. A short claim (the queue ran short) idles the worker for
    /// `poll_interval`; a failed one for a backoff, which it returns with the error.
    pub(crate) fn returned(
        &mut self,
        result: Result<Vec<ClaimedTask>, BackendError>,
        now: Instant,
        poll_interval: Duration,
    ) -> Result<Vec<ClaimedTask>, (BackendError, Duration)> {
        self.in_flight = None;
        match result {
            Ok(tasks) => {
                self.errors = 0;
                let starved = self.idle_slots >= self.starved_at;
                self.prefetch.claim_returned(now, self.started, self.asked, tasks.len(), starved);
                if tasks.len() < self.asked {
                    self.idle_until = Some(deadline_after(now, poll_interval));
                }
                Ok(tasks)
            }
            Err(error) => {
                self.errors = self.errors.saturating_add(1);
                let retry_in = error_backoff(self.errors);
                self.idle_until = Some(deadline_after(now, retry_in));
                Err((error, retry_in))
            }
        }
    }

    /// The idle time ended (its deadline passed, or a wake-up came). A wake-up channel that
    /// closed is dropped: the worker polls from then on.
    pub(crate) fn idle_over(&mut self, wakeup_open: bool) {
        if !wakeup_open {
            self.wakeup = None;
        }
        self.idle_until = None;
    }

    /// Tasks claimed ahead were handed back because they waited too long.
    pub(crate) fn handed_back(&mut self) {
        self.prefetch.handed_back();
    }

    /// Whether an idle worker should wait on the wake-up channel (not after a failed claim,
    /// which waits out its backoff).
    #[inline]
    pub(crate) fn listens(&self) -> bool {
        self.idle_until.is_some() && self.wakeup.is_some() && self.errors == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStorage;

    fn claimer(concurrency: usize, limit: usize) -> Claimer {
        Claimer::new(Prefetch::Fixed(0), concurrency, limit, None)
    }

    #[test]
    fn claims_in_batches_of_a_quarter_while_jobs_run() {
        let c = claimer(8, usize::MAX);
        assert_eq!(c.wanted(0, 0), Some(8), "an idle worker fills every slot");
        assert_eq!(c.wanted(7, 0), None, "one free slot of eight is not worth a round trip");
        assert_eq!(c.wanted(6, 0), Some(2));
        assert_eq!(c.wanted(4, 4), None, "claimed tasks count against the slots");
    }

    #[test]
    fn never_asks_beyond_the_backend_cap() {
        let c = claimer(50, 20);
        assert_eq!(c.wanted(0, 0), Some(20));
    }

    #[tokio::test]
    async fn a_short_claim_idles_for_the_poll_interval_and_a_failed_one_backs_off() {
        let mut c = claimer(4, usize::MAX);
        let backend = MemoryStorage::<u32>::named("claimer");
        c.send(&backend, &Arc::from("w"), 4, Duration::from_secs(5));
        assert_eq!(c.wanted(0, 0), None, "one claim in flight at a time");
        let now = Instant::now();
        let tasks = c.returned(Ok(Vec::new()), now, Duration::from_millis(250)).unwrap();
        assert!(tasks.is_empty());
        assert_eq!(c.idle_until, Some(now + Duration::from_millis(250)));
        assert_eq!(c.wanted(0, 0), None, "idle");
        c.idle_over(true);
        assert_eq!(c.wanted(0, 0), Some(4));

        c.send(&backend, &Arc::from("w"), 4, Duration::from_secs(5));
        let (_, retry_in) = c.returned(Err(BackendError::Config("down".into())), now, Duration::ZERO).unwrap_err();
        assert_eq!(c.idle_until, Some(now + retry_in));
        assert!(!c.listens(), "after a failure the worker waits out its backoff, not for a wake-up");
    }
}
