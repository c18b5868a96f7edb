//! The Drover envelope in NATS headers: what a message carries besides the job's bytes.
//!
//! Each header is written only when it differs from its default, so a fresh push due now
//! carries none (or just its `Nats-Msg-Id`, with `NatsConfig::set_push_message_ids`).

use async_nats::HeaderMap;
use drover_core::{NewTask, TaskId, DEFAULT_MAX_ATTEMPTS};

/// Attempts made before this copy was published (a claim adds the delivery count).
pub(crate) const ATTEMPT: &str = "Drover-Attempt";
pub(crate) const MAX_ATTEMPTS: &str = "Drover-Max-Attempts";
/// First push, epoch milliseconds, kept across retries.
pub(crate) const ENQUEUED_AT: &str = "Drover-Enqueued-At";
/// Earliest run time, epoch milliseconds.
pub(crate) const RUN_AT: &str = "Drover-Run-At";
pub(crate) const LAST_ERROR: &str = "Drover-Last-Error";
pub(crate) const MSG_ID: &str = "Nats-Msg-Id";
/// The task's unique key, in hex (a header value cannot hold every string).
pub(crate) const UNIQUE_KEY: &str = "Drover-Unique-Key";

/// Header values may not hold line breaks; errors are cut to this many bytes.
const ERROR_MAX: usize = 2_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) id: TaskId,
    pub(crate) attempts: u32,
    pub(crate) max_attempts: u32,
    pub(crate) enqueued_at_ms: Option<i64>,
    pub(crate) run_at_ms: Option<i64>,
    pub(crate) last_error: Option<String>,
    pub(crate) unique_key: Option<String>,
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Envelope {
    pub(crate) fn of_new(task: &NewTask) -> Self {
        Self {
            id: task.id,
            attempts: 0,
            max_attempts: task.max_attempts,
            enqueued_at_ms: None,
            run_at_ms: task.run_at.map(|at| at.timestamp_millis()),
            last_error: None,
            unique_key: task.unique_key.clone(),
        }
    }

    pub(crate) fn from_headers(id: TaskId, headers: Option<&HeaderMap>) -> Self {
        let get = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
        let num = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
        Self {
            id,
            attempts: num(ATTEMPT).and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            max_attempts: num(MAX_ATTEMPTS)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n >= 1)
                .unwrap_or(DEFAULT_MAX_ATTEMPTS),
            enqueued_at_ms: num(ENQUEUED_AT),
            run_at_ms: num(RUN_AT),
            last_error: get(LAST_ERROR),
            unique_key: get(UNIQUE_KEY).and_then(|hex| from_hex(&hex)),
        }
    }

    /// The headers of a copy published with message id `msg_id` (none when empty).
    pub(crate) fn headers(&self, msg_id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if !msg_id.is_empty() {
            h.insert(MSG_ID, msg_id);
        }
        if self.attempts != 0 {
            h.insert(ATTEMPT, self.attempts.to_string().as_str());
        }
        if self.max_attempts != DEFAULT_MAX_ATTEMPTS {
            h.insert(MAX_ATTEMPTS, self.max_attempts.to_string().as_str());
        }
        if let Some(at) = self.enqueued_at_ms {
            h.insert(ENQUEUED_AT, at.to_string().as_str());
        }
        if let Some(at) = self.run_at_ms {
            h.insert(RUN_AT, at.to_string().as_str());
        }
        if let Some(error) = &self.last_error {
            h.insert(LAST_ERROR, header_safe(error).as_str());
        }
        if let Some(key) = &self.unique_key {
            h.insert(UNIQUE_KEY, to_hex(key).as_str());
        }
        h
    }

    /// When the task was first pushed: the header, or the time in its id.
    pub(crate) fn enqueued_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.enqueued_at_ms.and_then(chrono::DateTime::from_timestamp_millis).unwrap_or_else(|| self.id.created_at())
    }

    /// The same task as a later copy: its first push time pinned.
    pub(crate) fn pinned(mut self) -> Self {
        self.enqueued_at_ms = Some(self.enqueued_at().timestamp_millis());
        self
    }
}

pub(crate) fn to_hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(hex: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

/// One line, at most [`ERROR_MAX`] bytes, cut on a character boundary.
fn header_safe(text: &str) -> String {
    let mut out: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if out.len() > ERROR_MAX {
        let mut cut = ERROR_MAX;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_defaults_are_absent() {
        let id = TaskId::new();
        let plain = Envelope::from_headers(id, None);
        let h = plain.headers("x");
        assert!(h.get(ATTEMPT).is_none() && h.get(MAX_ATTEMPTS).is_none());
        let e = Envelope {
            id,
            attempts: 3,
            max_attempts: 5,
            enqueued_at_ms: Some(1),
            run_at_ms: Some(2),
            last_error: Some("bad\nthing".into()),
            unique_key: Some("key: é\n".into()),
        };
        let back = Envelope::from_headers(id, Some(&e.headers("y")));
        assert_eq!(back.last_error.as_deref(), Some("bad thing"));
        assert_eq!(back.unique_key.as_deref(), Some("key: é\n"));
        assert_eq!((back.attempts, back.max_attempts, back.enqueued_at_ms, back.run_at_ms), (3, 5, Some(1), Some(2)));
    }

    #[test]
    fn long_errors_are_cut_on_a_char_boundary() {
        let long = "é".repeat(ERROR_MAX);
        assert!(header_safe(&long).len() <= ERROR_MAX);
    }
}
