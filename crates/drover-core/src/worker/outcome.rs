use std::error::Error as StdError;

use crate::backoff::Backoff;
use crate::error::{Abort, BoxDynError, RetryAfter};
use crate::panic::PanicError;
use crate::task::Outcome;

/// How one run of a job ended, as layers that observe runs (metrics, error reporting) name it:
/// the same decision the worker makes with [`outcome_of`], plus whether the run panicked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunOutcome {
    /// The job succeeded.
    Done,
    /// The job failed and will run again.
    Retried,
    /// The job failed for good: it is dead (an [`Abort`], or its last attempt).
    Dead,
    /// The job panicked (a [`PanicError`] in the error's chain); it is retried like a failure
    /// unless that was its last attempt.
    Panicked,
}

impl RunOutcome {
    /// Classify a run's result, given the attempt it was and the attempts allowed.
    pub fn of<R>(result: &Result<R, BoxDynError>, attempt: u32, max_attempts: u32) -> Self {
        match result {
            Ok(_) => RunOutcome::Done,
            Err(error) if chain_has::<PanicError>(&**error) => RunOutcome::Panicked,
            Err(error) if is_final(&**error, attempt, max_attempts) => RunOutcome::Dead,
            Err(_) => RunOutcome::Retried,
        }
    }

    /// The outcome as a metric label or tag: `done`, `retried`, `dead`, `panicked`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Done => "done",
            RunOutcome::Retried => "retried",
            RunOutcome::Dead => "dead",
            RunOutcome::Panicked => "panicked",
        }
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a failed run is its task's last: an [`Abort`] in the chain, or no attempts left.
pub fn is_final(error: &(dyn StdError + 'static), attempt: u32, max_attempts: u32) -> bool {
    attempt >= max_attempts || chain_has::<Abort>(error)
}

fn chain_has<E: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    find::<E>(error).is_some()
}

/// The first error of type `E` in `error`'s source chain.
fn find<'e, E: StdError + 'static>(error: &'e (dyn StdError + 'static)) -> Option<&'e E> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        cause = e.source();
    }
    None
}

/// Decide what a finished run means for its task: done, retry after a delay, or dead.
///
/// An [`Abort`] anywhere in the error's source chain makes the task dead at once; a
/// [`RetryAfter`] sets the delay; anything else is retried with `backoff` until `attempt`
/// reaches `max_attempts`.
pub fn outcome_of<R>(result: Result<R, BoxDynError>, attempt: u32, max_attempts: u32, backoff: &Backoff) -> Outcome {
    let error = match result {
        Ok(_) => return Outcome::Done,
        Err(error) => error,
    };
    let message = describe(&*error);
    if is_final(&*error, attempt, max_attempts) {
        return Outcome::Dead { error: message };
    }
    let delay = find::<RetryAfter>(&*error).map_or_else(|| backoff.delay(attempt), RetryAfter::delay);
    Outcome::Retry { delay, error: message }
}

/// The error's message, with tower's bare timeout error made explicit.
fn describe(error: &(dyn StdError + 'static)) -> String {
    if error.is::<tower::timeout::error::Elapsed>() {
        return "job timed out (the worker's timeout elapsed before the job finished)".to_owned();
    }
    error.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fail(e: impl Into<BoxDynError>) -> Result<(), BoxDynError> {
        Err(e.into())
    }

    #[test]
    fn run_outcomes_match_the_workers_decision() {
        assert_eq!(RunOutcome::of(&Ok::<_, BoxDynError>(()), 1, 3), RunOutcome::Done);
        assert_eq!(RunOutcome::of(&fail("boom"), 1, 3), RunOutcome::Retried);
        assert_eq!(RunOutcome::of(&fail("boom"), 3, 3), RunOutcome::Dead);
        assert_eq!(RunOutcome::of(&fail(Abort::new("no")), 1, 3), RunOutcome::Dead);
        assert_eq!(RunOutcome::of(&fail(PanicError("oops".into())), 1, 3), RunOutcome::Panicked);
        assert_eq!(RunOutcome::Panicked.to_string(), "panicked");
    }

    #[test]
    fn outcomes() {
        let b = Backoff::constant(Duration::from_secs(5));
        assert_eq!(outcome_of(Ok::<_, BoxDynError>(()), 1, 3, &b), Outcome::Done);
        assert_eq!(
            outcome_of(fail("boom"), 1, 3, &b),
            Outcome::Retry { delay: Duration::from_secs(5), error: "boom".into() }
        );
        assert_eq!(outcome_of(fail("boom"), 3, 3, &b), Outcome::Dead { error: "boom".into() });
        assert!(matches!(outcome_of(fail(Abort::new("no")), 1, 3, &b), Outcome::Dead { .. }));
        assert_eq!(
            outcome_of(fail(RetryAfter::new(Duration::from_millis(7), "later")), 1, 3, &b),
            Outcome::Retry { delay: Duration::from_millis(7), error: "later (retry requested after 7ms)".into() }
        );
        let timeout = outcome_of(fail(tower::timeout::error::Elapsed::new()), 1, 3, &b);
        assert!(matches!(timeout, Outcome::Retry { ref error, .. } if error.contains("timed out")));
    }
}
