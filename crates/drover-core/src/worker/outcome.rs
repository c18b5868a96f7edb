use std::error::Error as StdError;

use crate::backoff::Backoff;
use crate::error::{Abort, BoxDynError, RetryAfter};
use crate::task::Outcome;

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
    let mut requested_delay = None;
    let mut cause: Option<&(dyn StdError + 'static)> = Some(&*error);
    while let Some(e) = cause {
        if e.is::<Abort>() {
            return Outcome::Dead { error: message };
        }
        if let Some(retry_after) = e.downcast_ref::<RetryAfter>() {
            requested_delay = Some(retry_after.delay());
            break;
        }
        cause = e.source();
    }
    if attempt >= max_attempts {
        return Outcome::Dead { error: message };
    }
    let delay = requested_delay.unwrap_or_else(|| backoff.delay(attempt));
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
