//! Queue names, checked before any of them reaches SQL: pgmq builds table names from them.

use drover_core::BackendError;

/// What the dead-letter queue's name adds to the queue's.
pub(crate) const DEAD_SUFFIX: &str = "_dead";

/// The longest queue name pgmq accepts (its table names must fit PostgreSQL's 63 bytes).
const PGMQ_MAX: usize = 47;

/// The longest queue name this crate accepts: the dead queue's name must fit pgmq's limit too.
pub const MAX_QUEUE_NAME: usize = PGMQ_MAX - DEAD_SUFFIX.len();

/// Check `name` as a queue name: lowercase ASCII letters, digits and `_`, starting with a
/// letter or `_`, 1 to [`MAX_QUEUE_NAME`] characters. pgmq lowercases names and makes tables
/// `pgmq.q_<name>` and `pgmq.a_<name>` from them, so anything else could collide with another
/// queue or reach SQL unquoted.
///
/// ```
/// assert!(drover_pgmq::validate_queue_name("emails_v2").is_ok());
/// assert!(drover_pgmq::validate_queue_name("Emails").is_err());
/// assert!(drover_pgmq::validate_queue_name("x; DROP TABLE users").is_err());
/// ```
pub fn validate_queue_name(name: &str) -> Result<(), BackendError> {
    let problem = if name.is_empty() {
        Some("it is empty".to_owned())
    } else if name.len() > MAX_QUEUE_NAME {
        Some(format!(
            "it has {} characters, more than {MAX_QUEUE_NAME} (pgmq allows {PGMQ_MAX}, and its dead queue adds `{DEAD_SUFFIX}`)",
            name.len()
        ))
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        Some("it starts with a digit".to_owned())
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
            .map(|c| format!("it contains {c:?}"))
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(BackendError::Config(format!(
            "`{name}` cannot be a pgmq queue name: {problem}; use lowercase ASCII letters, digits and `_`, \
             starting with a letter or `_`, at most {MAX_QUEUE_NAME} characters (PgmqConfig::set_queue)"
        ))),
    }
}

/// The tables and channel of one checked queue name.
#[derive(Clone, Debug)]
pub(crate) struct Tables {
    /// The queue's name.
    pub(crate) queue: String,
    /// Its dead-letter queue's name.
    pub(crate) dead: String,
}

impl Tables {
    /// The tables of `queue`, or the reason it is no queue name.
    pub(crate) fn of(queue: &str) -> Result<Self, BackendError> {
        validate_queue_name(queue)?;
        Ok(Self { queue: queue.to_owned(), dead: format!("{queue}{DEAD_SUFFIX}") })
    }

    /// pgmq's insert-notification channel of the queue.
    pub(crate) fn channel(&self) -> String {
        format!("pgmq.q_{}.INSERT", self.queue)
    }

    /// `template` with `{q}` replaced by the queue's name and `{d}` by the dead queue's, both
    /// checked, so the text is safe to run.
    pub(crate) fn sql(&self, template: &str) -> String {
        template.replace("{q}", &self.queue).replace("{d}", &self.dead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "_x", "emails", "q1_2", &"a".repeat(MAX_QUEUE_NAME)] {
            assert!(validate_queue_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "A", "a-b", "a b", "a;b", "a'b", "é", &"a".repeat(MAX_QUEUE_NAME + 1), "a\"b"] {
            let Err(BackendError::Config(message)) = validate_queue_name(bad) else {
                unreachable!("{bad:?} must be refused")
            };
            assert!(message.contains("cannot be a pgmq queue name"), "{message}");
        }
    }

    #[test]
    fn tables() {
        let Ok(tables) = Tables::of("jobs") else { unreachable!() };
        assert_eq!(tables.sql("pgmq.q_{q} pgmq.q_{d}"), "pgmq.q_jobs pgmq.q_jobs_dead");
        assert_eq!(tables.channel(), "pgmq.q_jobs.INSERT");
    }
}
