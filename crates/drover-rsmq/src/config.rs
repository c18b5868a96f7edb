//! `RsmqConfig`: which rsmq queue a storage reads and writes, and how.

use drover_core::{BackendError, DEFAULT_MAX_ATTEMPTS};

/// The most messages one claim script receives, whatever the worker asks for.
pub const MAX_BATCH: usize = 1_000;

/// rsmq's default namespace.
pub const DEFAULT_NAMESPACE: &str = "rsmq";

/// The longest queue name rsmq accepts.
const MAX_QUEUE_NAME: usize = 160;

/// Settings of an [`RsmqStorage`](crate::RsmqStorage).
///
/// `vt`, `delay` and `maxsize` are the attributes Drover gives the queue (and the dead queue)
/// when it creates one that does not exist yet, with rsmq's defaults (30 s, 0 s, 65,536); an
/// existing queue keeps its own. Drover never uses `vt` for its own claims: a claim hides a
/// message for the worker's lease instead.
///
/// ```
/// use drover_rsmq::RsmqConfig;
///
/// let config = RsmqConfig::new("emails")
///     .set_namespace("rsmq")
///     .set_dead_queue("emails-failed")
///     .set_max_attempts(5)
///     .set_realtime(true);
/// assert_eq!(config.dead_queue(), "emails-failed");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsmqConfig {
    namespace: String,
    queue: String,
    dead_queue: Option<String>,
    max_attempts: u32,
    realtime: bool,
    vt: u32,
    delay: u32,
    maxsize: i64,
    claim_batch: usize,
}

impl RsmqConfig {
    /// The queue `queue` in rsmq's default namespace `rsmq`, dead queue `<queue>-dead`,
    /// [`DEFAULT_MAX_ATTEMPTS`] attempts, no realtime notifications.
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            queue: queue.into(),
            dead_queue: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            realtime: false,
            vt: 30,
            delay: 0,
            maxsize: 65_536,
            claim_batch: MAX_BATCH,
        }
    }

    /// The key prefix, rsmq's `ns` option (default `rsmq`): keys are `<ns>:<queue>…`.
    pub fn set_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Where messages go after their last attempt (default `<queue>-dead`): an rsmq queue in
    /// the same namespace that rsmq clients can read.
    pub fn set_dead_queue(mut self, queue: impl Into<String>) -> Self {
        self.dead_queue = Some(queue.into());
        self
    }

    /// Attempts a message gets before it moves to the dead queue (at least 1; default
    /// [`DEFAULT_MAX_ATTEMPTS`]). rsmq messages carry no attempt limit, so this applies to every
    /// message, including those rsmq clients send. A push whose
    /// [`PushOptions::max_attempts`](drover_core::PushOptions::max_attempts) is neither this
    /// nor [`DEFAULT_MAX_ATTEMPTS`] (which is what a push that sets none gets, so it follows
    /// this setting) keeps its own limit beside the message.
    pub fn set_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// rsmq's `realtime` option: publish the queue length on `<ns>:rt:<queue>` after every
    /// send, and wake idle workers on those messages (whoever sent them).
    pub fn set_realtime(mut self, on: bool) -> Self {
        self.realtime = on;
        self
    }

    /// The visibility timeout in seconds given to a queue Drover creates (rsmq's `vt`, 30).
    pub fn set_vt(mut self, seconds: u32) -> Self {
        self.vt = seconds;
        self
    }

    /// The send delay in seconds given to a queue Drover creates (rsmq's `delay`, 0).
    pub fn set_delay(mut self, seconds: u32) -> Self {
        self.delay = seconds;
        self
    }

    /// The largest message, in characters, of a queue Drover creates (rsmq's `maxsize`:
    /// 1,024 to 65,536, or -1 for no limit; default 65,536).
    pub fn set_maxsize(mut self, maxsize: i64) -> Self {
        self.maxsize = maxsize;
        self
    }

    /// The most messages one claim receives (default and upper bound [`MAX_BATCH`]).
    pub fn set_claim_batch(mut self, n: usize) -> Self {
        self.claim_batch = n.clamp(1, MAX_BATCH);
        self
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The queue.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The dead queue.
    pub fn dead_queue(&self) -> String {
        self.dead_queue.clone().unwrap_or_else(|| format!("{}-dead", self.queue))
    }

    /// Attempts before a message is dead.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether realtime notifications are on.
    pub fn realtime(&self) -> bool {
        self.realtime
    }

    pub(crate) fn creation_attributes(&self) -> (u32, u32, i64) {
        (self.vt, self.delay, self.maxsize)
    }

    pub(crate) fn batch(&self) -> usize {
        self.claim_batch
    }

    /// Check the settings against rsmq's rules, with a message saying what to change.
    pub fn validate(&self) -> Result<(), BackendError> {
        if self.namespace.is_empty() {
            return Err(BackendError::Config("the rsmq namespace is empty: rsmq's default is `rsmq`".into()));
        }
        let dead = self.dead_queue();
        for (what, name) in [("queue", self.queue.as_str()), ("dead queue", dead.as_str())] {
            if !valid_queue_name(name) {
                return Err(BackendError::Config(format!(
                    "`{name}` is not a valid rsmq {what} name: use 1 to {MAX_QUEUE_NAME} characters from \
                     A-Z a-z 0-9 _ - (the default dead queue name adds `-dead` to the queue name)"
                )));
            }
        }
        if dead == self.queue {
            return Err(BackendError::Config(format!("the dead queue must differ from the queue `{}`", self.queue)));
        }
        for (what, value) in [("vt", self.vt), ("delay", self.delay)] {
            if value > 9_999_999 {
                return Err(BackendError::Config(format!("rsmq's {what} is 0 to 9,999,999 seconds, not {value}")));
            }
        }
        if self.maxsize != -1 && !(1_024..=65_536).contains(&self.maxsize) {
            return Err(BackendError::Config(format!(
                "rsmq's maxsize is 1,024 to 65,536 characters, or -1 for no limit; not {}",
                self.maxsize
            )));
        }
        Ok(())
    }
}

/// rsmq's queue name rule: `^[a-zA-Z0-9_-]{1,160}$`.
fn valid_queue_name(name: &str) -> bool {
    (1..=MAX_QUEUE_NAME).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rsmq_rules() {
        assert!(RsmqConfig::new("jobs_1-a").validate().is_ok());
        assert!(RsmqConfig::new("").validate().is_err());
        assert!(RsmqConfig::new("has:colon").validate().is_err());
        assert!(RsmqConfig::new("x".repeat(160)).validate().is_err(), "the dead queue name would be too long");
        assert!(RsmqConfig::new("x".repeat(160)).set_dead_queue("d").validate().is_ok());
        assert!(RsmqConfig::new("q").set_dead_queue("q").validate().is_err());
        assert!(RsmqConfig::new("q").set_maxsize(100).validate().is_err());
        assert!(RsmqConfig::new("q").set_maxsize(-1).validate().is_ok());
        assert!(RsmqConfig::new("q").set_namespace("").validate().is_err());
        assert_eq!(RsmqConfig::new("q").dead_queue(), "q-dead");
    }
}
