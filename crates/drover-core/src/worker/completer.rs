//! Completions on their way to the backend: coalesced into batches, one call in flight at a
//! time, a failed batch kept in front of newer ones and sent again after a backoff.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

use super::timing::{deadline_after, error_backoff};
use crate::backend::Backend;
use crate::error::BackendError;
use crate::task::Completion;

/// A completion call in flight; it gives its batch back so a failed call can be sent again.
pub(crate) type AckFuture = Pin<Box<dyn Future<Output = (Result<(), BackendError>, Vec<Completion>)> + Send>>;

pub(crate) struct Completer {
    /// Outcomes not yet sent, oldest first.
    pending: Vec<Completion>,
    /// The call in flight.
    pub(crate) in_flight: Option<AckFuture>,
    /// After a failure: not before this.
    pub(crate) retry_at: Option<Instant>,
    /// Failures in a row.
    errors: u32,
    /// Most completions one call carries.
    batch: usize,
    /// Outcomes waiting beyond which the worker claims nothing new ([`Self::backlogged`]).
    backlog: usize,
    /// How long one completion call may take before it counts as failed and its batch is sent
    /// again ([`Self::send`]).
    call_timeout: Duration,
}

/// Completion calls' worth of outcomes that may wait before the worker stops claiming.
const BACKLOG_BATCHES: usize = 4;

/// The shortest time a completion call is given, whatever the lease.
const MIN_CALL_TIMEOUT: Duration = Duration::from_secs(5);

impl Completer {
    /// Batches of at most `batch`; `concurrency` jobs may end at once; a call that takes longer
    /// than twice the `lease` (at least [`MIN_CALL_TIMEOUT`]) is abandoned and its batch sent
    /// again: by then every lease it reports on has run out, and a slow but working call has
    /// long answered.
    pub(crate) fn new(batch: usize, concurrency: usize, lease: Duration) -> Self {
        let batch = batch.max(1);
        let backlog = BACKLOG_BATCHES * batch.max(concurrency);
        let call_timeout = lease.saturating_mul(2).max(MIN_CALL_TIMEOUT);
        Self { pending: Vec::new(), in_flight: None, retry_at: None, errors: 0, batch, backlog, call_timeout }
    }

    /// More outcomes wait to be sent than [`BACKLOG_BATCHES`] calls carry (or than four times
    /// the concurrency, if larger): the backend records completions more slowly than jobs end,
    /// so the worker claims nothing until it caught up. Otherwise claims, which stay fast,
    /// would lease ever more tasks whose outcomes only wait here, and whose leases run out.
    #[inline]
    pub(crate) fn backlogged(&self) -> bool {
        self.pending.len() >= self.backlog
    }

    #[inline]
    pub(crate) fn push(&mut self, completion: Completion) {
        self.pending.push(completion);
    }

    /// Nothing waits to be sent and nothing is in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.in_flight.is_none()
    }

    /// The next batch, unless a call is in flight or a failed batch waits for its retry time
    /// (`now` is read only then: the clock is not free, and this runs every turn of the loop).
    fn take_batch(&mut self, now: impl FnOnce() -> Instant) -> Option<Vec<Completion>> {
        if self.in_flight.is_some() || self.pending.is_empty() || self.retry_at.is_some_and(|at| at > now()) {
            return None;
        }
        self.retry_at = None;
        let take = self.pending.len().min(self.batch);
        Some(self.pending.drain(..take).collect())
    }

    /// Send the next batch if one may go now. A call that has not answered within the call
    /// timeout fails (and is sent again after the backoff): a connection that hangs instead of
    /// breaking would otherwise hold every later outcome, and with them the worker's claims.
    /// Sending a batch twice is harmless: each outcome applies only under its lease token.
    #[inline]
    pub(crate) fn send<B: Backend>(&mut self, backend: &B) {
        if let Some(batch) = self.take_batch(Instant::now) {
            let backend = backend.clone();
            let limit = self.call_timeout;
            self.in_flight = Some(Box::pin(async move {
                let result = match tokio::time::timeout(limit, backend.complete(batch.clone())).await {
                    Ok(result) => result,
                    Err(_) => Err(BackendError::connection(
                        "complete",
                        format!("no answer within {} s; the outcomes are sent again", limit.as_secs()),
                    )),
                };
                (result, batch)
            }));
        }
    }

    /// The call in flight returned. On failure the batch goes back in front of newer outcomes;
    /// returns the error and when the batch is sent again.
    pub(crate) fn returned(
        &mut self,
        result: Result<(), BackendError>,
        batch: Vec<Completion>,
        now: Instant,
    ) -> Option<(BackendError, Duration)> {
        self.in_flight = None;
        match result {
            Ok(()) => {
                self.errors = 0;
                None
            }
            Err(error) => {
                self.errors = self.errors.saturating_add(1);
                let retry_in = error_backoff(self.errors);
                self.pending.splice(0..0, batch);
                self.retry_at = Some(deadline_after(now, retry_in));
                Some((error, retry_in))
            }
        }
    }

    /// The retry time of a failed batch came.
    pub(crate) fn retry_due(&mut self) {
        self.retry_at = None;
    }

    /// On the way out: wait for the call in flight, then send everything left in one call.
    pub(crate) async fn flush_all<B: Backend>(&mut self, backend: &B) -> Result<(), BackendError> {
        if let Some(call) = self.in_flight.take() {
            let (result, batch) = call.await;
            if result.is_err() {
                self.pending.splice(0..0, batch);
            }
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        backend.complete(std::mem::take(&mut self.pending)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Lease, LeaseToken, Outcome, TaskId};

    fn done(n: i64) -> Completion {
        Completion { lease: Lease { id: TaskId::new(), token: LeaseToken(n) }, outcome: Outcome::Done }
    }

    #[test]
    fn batches_are_capped_and_in_order() {
        let mut c = Completer::new(2, 1, Duration::from_secs(30));
        for n in 0..5 {
            c.push(done(n));
        }
        let now = Instant::now();
        let first = c.take_batch(|| now).unwrap();
        assert_eq!(first.iter().map(|c| c.lease.token.0).collect::<Vec<_>>(), [0, 1]);
        assert!(!c.is_idle());
    }

    #[test]
    fn a_backlog_of_four_batches_stops_claims_until_it_is_sent() {
        let mut c = Completer::new(3, 2, Duration::from_secs(30));
        for n in 0..11 {
            c.push(done(n));
        }
        assert!(!c.backlogged(), "11 of 12");
        c.push(done(11));
        assert!(c.backlogged());
        let now = Instant::now();
        let batch = c.take_batch(|| now).unwrap();
        assert!(!c.backlogged(), "a batch on its way");
        assert!(c.returned(Ok(()), batch, now).is_none());
        // A larger concurrency raises the bound: that many jobs may end in one turn.
        let mut wide = Completer::new(3, 10, Duration::from_secs(30));
        for n in 0..39 {
            wide.push(done(n));
        }
        assert!(!wide.backlogged());
        wide.push(done(39));
        assert!(wide.backlogged());
    }

    #[test]
    fn a_failed_batch_goes_back_in_front_and_waits_its_backoff() {
        let mut c = Completer::new(10, 1, Duration::from_secs(30));
        c.push(done(1));
        let now = Instant::now();
        let batch = c.take_batch(|| now).unwrap();
        c.push(done(2));
        let (_, retry_in) = c.returned(Err(BackendError::Config("down".into())), batch, now).unwrap();
        assert_eq!(retry_in, Duration::from_millis(200));
        assert!(c.take_batch(|| now).is_none(), "nothing goes before the retry time");
        let again = c.take_batch(|| now + retry_in).unwrap();
        assert_eq!(again.iter().map(|c| c.lease.token.0).collect::<Vec<_>>(), [1, 2], "the failed batch first");
        assert!(c.returned(Ok(()), again, now + retry_in).is_none());
        assert!(c.is_idle());
    }

    #[test]
    fn failures_in_a_row_back_off_further_and_a_success_resets() {
        let mut c = Completer::new(10, 1, Duration::from_secs(30));
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..3 {
            c.push(done(0));
            c.retry_due();
            let batch = c.take_batch(|| now).unwrap();
            let (_, retry_in) = c.returned(Err(BackendError::Config("down".into())), batch, now).unwrap();
            delays.push(retry_in);
            now += retry_in;
            c.pending.clear();
        }
        assert!(delays.windows(2).all(|w| w[1] > w[0]), "{delays:?}");
        c.push(done(0));
        let batch = c.take_batch(|| now).unwrap();
        assert!(c.returned(Ok(()), batch, now).is_none());
        c.push(done(0));
        let batch = c.take_batch(|| now).unwrap();
        let (_, retry_in) = c.returned(Err(BackendError::Config("down".into())), batch, now).unwrap();
        assert_eq!(retry_in, delays[0]);
    }
}
