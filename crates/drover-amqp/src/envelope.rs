//! A task as a message: the id in `message_id`, the rest of the envelope in headers, each only
//! when it differs from what a reader assumes without it. A fresh push due now carries no
//! headers table at all: RabbitMQ decodes, stores and re-encodes every table, and that was
//! about a third of the broker's work per message.

use drover_core::{NewTask, TaskId};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;

/// Attempts made before this copy of the message was published (absent: 0).
pub(crate) const ATTEMPT: &str = "x-drover-attempt";
/// Attempts allowed before the task is dead (absent: [`drover_core::DEFAULT_MAX_ATTEMPTS`]).
pub(crate) const MAX_ATTEMPTS: &str = "x-drover-max-attempts";
/// When the task was first pushed, in epoch milliseconds (kept across retries; absent: the time
/// in the task id).
pub(crate) const ENQUEUED_AT: &str = "x-drover-enqueued-at";
/// Earliest run time in epoch milliseconds, when the task was pushed for later or retried.
pub(crate) const RUN_AT: &str = "x-drover-run-at";
/// The error of the last failed attempt.
pub(crate) const LAST_ERROR: &str = "x-drover-last-error";

/// Persistent: written to disk by the broker, kept across restarts.
const PERSISTENT: u8 = 2;

/// The longest error kept in a header (AMQP headers share a frame with the properties).
const MAX_ERROR_BYTES: usize = 8 * 1024;

/// A task pushed at most this long after its id was made counts as pushed at the id's time, so
/// its message needs no `x-drover-enqueued-at` header.
const ID_TIME_TOLERANCE_MS: i64 = 1_000;

/// What Drover keeps with a message besides its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) id: TaskId,
    /// Attempts made before this copy was published; a claim of it is attempt `attempts + 1`.
    pub(crate) attempts: u32,
    pub(crate) max_attempts: u32,
    pub(crate) enqueued_at_ms: i64,
    pub(crate) run_at_ms: Option<i64>,
    pub(crate) last_error: Option<String>,
}

/// The time in a task id, in epoch milliseconds.
fn id_ms(id: TaskId) -> i64 {
    id.created_at().timestamp_millis()
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `now` plus `d`, in epoch milliseconds, saturating.
pub(crate) fn ms_after(now_ms: i64, d: std::time::Duration) -> i64 {
    now_ms.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn truncated(error: &str) -> String {
    if error.len() <= MAX_ERROR_BYTES {
        return error.to_owned();
    }
    let mut end = MAX_ERROR_BYTES;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (truncated)", &error[..end])
}

impl Envelope {
    /// The envelope of a task being pushed. A task whose id was made just before (the usual
    /// case) counts as enqueued at the id's time.
    pub(crate) fn from_new(task: &NewTask, now_ms: i64) -> Self {
        let made = id_ms(task.id);
        let just_made = (0..=ID_TIME_TOLERANCE_MS).contains(&now_ms.saturating_sub(made));
        Self {
            id: task.id,
            attempts: 0,
            max_attempts: task.max_attempts.max(1),
            enqueued_at_ms: if just_made { made } else { now_ms },
            run_at_ms: task.run_at.map(|at| at.timestamp_millis()).filter(|at| *at > now_ms),
            last_error: None,
        }
    }

    /// The envelope of a message that is not Drover's (no task id): kept so it can be
    /// dead-lettered with a clear error instead of blocking the queue.
    pub(crate) fn foreign(now_ms: i64) -> Self {
        Self {
            id: TaskId::new(),
            attempts: 0,
            max_attempts: 1,
            enqueued_at_ms: now_ms,
            run_at_ms: None,
            last_error: None,
        }
    }

    /// The message properties: persistent, the id as `message_id`, the rest as headers, each
    /// only when it differs from its default (see [`Envelope::from_properties`]).
    pub(crate) fn properties(&self) -> BasicProperties {
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(self.id.to_string()))
            .with_delivery_mode(PERSISTENT)
            .with_timestamp(u64::try_from(self.enqueued_at_ms / 1000).unwrap_or(0));
        let mut headers = FieldTable::default();
        if self.attempts != 0 {
            headers.insert(ShortString::from(ATTEMPT), AMQPValue::LongUInt(self.attempts));
        }
        if self.max_attempts != drover_core::DEFAULT_MAX_ATTEMPTS {
            headers.insert(ShortString::from(MAX_ATTEMPTS), AMQPValue::LongUInt(self.max_attempts));
        }
        if self.enqueued_at_ms != id_ms(self.id) {
            headers.insert(ShortString::from(ENQUEUED_AT), AMQPValue::LongLongInt(self.enqueued_at_ms));
        }
        if let Some(at) = self.run_at_ms {
            headers.insert(ShortString::from(RUN_AT), AMQPValue::LongLongInt(at));
        }
        if let Some(error) = &self.last_error {
            headers.insert(ShortString::from(LAST_ERROR), AMQPValue::LongString(LongString::from(truncated(error))));
        }
        // Without a table: RabbitMQ decodes, stores and re-encodes even an empty one.
        if headers.inner().is_empty() {
            properties
        } else {
            properties.with_headers(headers)
        }
    }

    /// Read the envelope of a delivered message. Missing headers take the defaults a plain
    /// message would have (no attempts yet, the default attempt limit, enqueued at the time in
    /// its id); a missing or malformed `message_id` is an error: without an id the task cannot
    /// be tracked.
    pub(crate) fn from_properties(properties: &BasicProperties) -> Result<Self, String> {
        let id = properties
            .message_id()
            .as_ref()
            .ok_or_else(|| "the message has no message_id, so it is not a Drover task".to_owned())?;
        let id: TaskId =
            id.as_str().parse().map_err(|e| format!("the message's message_id is not a Drover task id: {e}"))?;
        let headers = properties.headers().as_ref();
        let get = |name: &str| headers.and_then(|h| h.inner().get(name));
        let attempts = get(ATTEMPT).and_then(as_i64).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        let max_attempts = get(MAX_ATTEMPTS)
            .and_then(as_i64)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(drover_core::DEFAULT_MAX_ATTEMPTS)
            .max(1);
        let enqueued_at_ms = get(ENQUEUED_AT).and_then(as_i64).unwrap_or_else(|| id_ms(id));
        let run_at_ms = get(RUN_AT).and_then(as_i64);
        let last_error = get(LAST_ERROR).and_then(as_string);
        Ok(Self { id, attempts, max_attempts, enqueued_at_ms, run_at_ms, last_error })
    }
}

/// Any integer header, whichever width the publisher used.
fn as_i64(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::Timestamp(v) => i64::try_from(*v).ok(),
        _ => None,
    }
}

fn as_string(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use drover_core::PushOptions;

    #[test]
    fn round_trips_through_properties() {
        let task = NewTask::new(b"{}".to_vec(), PushOptions::new().max_attempts(4));
        let mut env = Envelope::from_new(&task, 1_000);
        env.attempts = 2;
        env.run_at_ms = Some(5_000);
        env.last_error = Some("boom".into());
        let back = Envelope::from_properties(&env.properties()).unwrap();
        assert_eq!(back, env);
    }

    #[test]
    fn a_fresh_push_has_no_headers_and_round_trips() {
        let task = NewTask::new(b"{}".to_vec(), PushOptions::new());
        let env = Envelope::from_new(&task, now_ms());
        let properties = env.properties();
        assert!(properties.headers().is_none());
        assert_eq!(Envelope::from_properties(&properties).unwrap(), env);

        // Pushed long after its id was made: the push time travels in a header.
        let env = Envelope::from_new(&task, id_ms(task.id) + 60_000);
        assert_eq!(env.enqueued_at_ms, id_ms(task.id) + 60_000);
        let properties = env.properties();
        assert!(properties.headers().as_ref().is_some_and(|h| h.inner().contains_key(ENQUEUED_AT)));
        assert_eq!(Envelope::from_properties(&properties).unwrap(), env);
    }

    #[test]
    fn a_message_without_an_id_is_rejected_and_plain_headers_default() {
        let err = Envelope::from_properties(&BasicProperties::default()).unwrap_err();
        assert!(err.contains("message_id"), "{err}");
        let id = TaskId::new();
        let plain = BasicProperties::default().with_message_id(ShortString::from(id.to_string()));
        let env = Envelope::from_properties(&plain).unwrap();
        assert_eq!((env.id, env.attempts, env.max_attempts, env.enqueued_at_ms), (id, 0, 25, id_ms(id)));
    }

    #[test]
    fn long_errors_are_truncated_on_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_BYTES);
        let t = truncated(&long);
        assert!(t.len() < long.len() && t.ends_with("(truncated)"));
    }
}
