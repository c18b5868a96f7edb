//! The Drover envelope in pgmq message headers, and how a job's bytes become a pgmq body.
//!
//! The body (`message jsonb`) is the job's JSON itself, so every pgmq client reads the job as
//! it is. What Drover needs beyond pgmq's own columns lives in `x-drover-*` header keys; a
//! message without them (sent by psql or another client) gets the defaults. jsonb does not
//! keep a document's bytes (it drops whitespace and orders keys), so a Drover push also says in
//! `x-drover-body` how to get the pushed bytes back.

use drover_core::DEFAULT_MAX_ATTEMPTS;
use serde_json::{Map, Value};

// The statements in `sql/` also write `x-drover-retried` (the read_ct a retry was recorded
// at: while it matches, the message waits for its retry instead of being held by a reader),
// `x-drover-status` (`cancelled`, in the archive) and, in the dead queue, `x-drover-id` (the
// task's msg_id in the queue) and `x-drover-attempts`.

/// Attempts allowed (a number); absent means [`DEFAULT_MAX_ATTEMPTS`].
pub(crate) const MAX_ATTEMPTS: &str = "x-drover-max-attempts";
/// The last attempt's error (a string).
pub(crate) const ERROR: &str = "x-drover-error";
/// How many claims were handed back unstarted; `read_ct` minus this is the attempt.
pub(crate) const RELEASED: &str = "x-drover-released";
/// When the task was first enqueued (kept across the dead queue and requeues).
pub(crate) const ENQUEUED_AT: &str = "x-drover-enqueued-at";
/// How the pushed bytes relate to the body: `compact`, `exact` (with [`BYTES`]), `text` or
/// `hex` (the body is then a JSON string).
pub(crate) const BODY: &str = "x-drover-body";
/// With `x-drover-body: exact`: the pushed bytes, as a string.
pub(crate) const BYTES: &str = "x-drover-bytes";

/// A job's bytes as a pgmq message: the body's JSON text and the headers, if any.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub(crate) body: String,
    pub(crate) headers: Option<String>,
}

/// The message for `payload` with `max_attempts`.
pub(crate) fn outgoing(payload: &[u8], max_attempts: u32) -> Outgoing {
    let mut headers = Map::new();
    if max_attempts != DEFAULT_MAX_ATTEMPTS {
        headers.insert(MAX_ATTEMPTS.into(), max_attempts.into());
    }
    let body = match json_body(payload) {
        Some((body, value)) => {
            if is_jsonb_text(&body, &value) {
                // PostgreSQL prints it back as it is.
            } else if only_integers(&value) && compact(&value) == body {
                headers.insert(BODY.into(), "compact".into());
            } else {
                headers.insert(BODY.into(), "exact".into());
                headers.insert(BYTES.into(), body.clone().into());
            }
            body
        }
        None => match std::str::from_utf8(payload) {
            Ok(text) if !text.contains('\0') => {
                headers.insert(BODY.into(), "text".into());
                Value::from(text).to_string()
            }
            _ => {
                headers.insert(BODY.into(), "hex".into());
                Value::from(hex(payload)).to_string()
            }
        },
    };
    let headers = (!headers.is_empty()).then(|| Value::Object(headers).to_string());
    Outgoing { body, headers }
}

/// `payload` as text and value when jsonb can store it: JSON, UTF-8, without `\u0000` (which
/// jsonb refuses).
fn json_body(payload: &[u8]) -> Option<(String, Value)> {
    let text = std::str::from_utf8(payload).ok()?;
    if text.contains("\\u0000") {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    Some((text.to_owned(), value))
}

/// Whether every number in `value` is an integer. PostgreSQL prints other numbers in its own
/// way (`1e-7` as `0.0000001`), and parsing that back need not give the same float, so only
/// integer documents are restored by re-printing.
fn only_integers(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Array(items) => items.iter().all(only_integers),
        Value::Object(map) => map.values().all(only_integers),
        _ => true,
    }
}

/// Whether `body` is already what PostgreSQL prints for the jsonb of `value` (only checked
/// for scalars, where that is plain: then no header is needed).
fn is_jsonb_text(body: &str, value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
        && serde_json::to_string(value).is_ok_and(|printed| printed == body)
}

/// `value` without whitespace, object keys in jsonb's order (shorter first, then by bytes):
/// what a compact serializer of the stored jsonb prints. A push whose bytes equal this needs
/// only the `compact` flag to be given back byte for byte.
pub(crate) fn compact(value: &Value) -> String {
    let mut out = String::new();
    write_compact(value, &mut out);
    out
}

fn write_compact(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes())));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_compact(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes.chunks_exact(2).map(|pair| Some(digit(*pair.first()?)? << 4 | digit(*pair.get(1)?)?)).collect()
}

/// The headers of a stored message, parsed leniently: a value of the wrong type counts as
/// absent, so a message from another client can never stop a worker.
#[derive(Debug, Default)]
pub(crate) struct Headers(Map<String, Value>);

impl Headers {
    /// Parse the headers column's text (`None` for SQL NULL).
    pub(crate) fn parse(text: Option<&str>) -> Self {
        match text.and_then(|t| serde_json::from_str(t).ok()) {
            Some(Value::Object(map)) => Self(map),
            _ => Self::default(),
        }
    }

    fn count(&self, key: &str) -> Option<u32> {
        self.0.get(key)?.as_u64().and_then(|n| u32::try_from(n).ok())
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.as_str()
    }

    /// Attempts allowed.
    pub(crate) fn max_attempts(&self) -> u32 {
        self.count(MAX_ATTEMPTS).filter(|n| *n >= 1).unwrap_or(DEFAULT_MAX_ATTEMPTS)
    }

    /// Claims handed back.
    pub(crate) fn released(&self) -> u32 {
        self.count(RELEASED).unwrap_or(0)
    }

    /// The attempt a message read `read_ct` times is on.
    pub(crate) fn attempt(&self, read_ct: i32) -> u32 {
        u32::try_from(read_ct).unwrap_or(0).saturating_sub(self.released())
    }

    /// The last error.
    pub(crate) fn error(&self) -> Option<String> {
        self.text(ERROR).map(str::to_owned)
    }

    /// The first enqueue time, if recorded.
    pub(crate) fn enqueued_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(self.text(ENQUEUED_AT)?).ok().map(|t| t.with_timezone(&chrono::Utc))
    }

    /// The job's bytes from the body's text as PostgreSQL prints it.
    pub(crate) fn payload(&self, body: String) -> Vec<u8> {
        let restored = match self.text(BODY) {
            Some("compact") => serde_json::from_str::<Value>(&body).ok().map(|v| compact(&v).into_bytes()),
            Some("exact") => self.text(BYTES).map(|b| b.as_bytes().to_vec()),
            Some("text") => serde_json::from_str::<String>(&body).ok().map(String::into_bytes),
            Some("hex") => serde_json::from_str::<String>(&body).ok().and_then(|h| unhex(&h)),
            _ => None,
        };
        // Anything unreadable goes to the job as it is stored; the codec then says what is wrong.
        restored.unwrap_or_else(|| body.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(payload: &[u8], stored_as: &str) -> Vec<u8> {
        let out = outgoing(payload, DEFAULT_MAX_ATTEMPTS);
        // PostgreSQL prints the stored jsonb differently from what was sent; `stored_as` is
        // what it prints.
        Headers::parse(out.headers.as_deref()).payload(stored_as.to_owned())
    }

    #[test]
    fn compact_json_is_flagged_and_restored() {
        let out = outgoing(br#"{"n":1,"action":"Succeed"}"#, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(out.headers.as_deref(), Some(r#"{"x-drover-body":"compact"}"#));
        assert_eq!(
            round_trip(br#"{"n":1,"action":"Succeed"}"#, r#"{"n": 1, "action": "Succeed"}"#),
            br#"{"n":1,"action":"Succeed"}"#
        );
    }

    #[test]
    fn other_json_is_kept_exactly() {
        let payload = br#"{"zebra": 1, "a": [1.50, 2]}"#;
        assert_eq!(round_trip(payload, r#"{"a": [1.50, 2], "zebra": 1}"#), payload.to_vec());
        let float = br#"{"x":1e-7}"#;
        assert_eq!(round_trip(float, r#"{"x": 0.0000001}"#), float.to_vec());
    }

    #[test]
    fn scalars_need_no_header() {
        assert_eq!(outgoing(b"42", DEFAULT_MAX_ATTEMPTS).headers, None);
        assert_eq!(outgoing(br#""hi""#, 3).headers.as_deref(), Some(r#"{"x-drover-max-attempts":3}"#));
    }

    #[test]
    fn non_json_goes_as_a_string() {
        assert_eq!(round_trip(b"{not json", r#""{not json""#), b"{not json");
        let out = outgoing(&[0xff, 0, 1], DEFAULT_MAX_ATTEMPTS);
        assert_eq!(out.body, r#""ff0001""#);
        assert_eq!(Headers::parse(out.headers.as_deref()).payload(out.body), vec![0xff, 0, 1]);
        assert_eq!(round_trip(br#"{"a":"\u0000"}"#, r#""{\"a\":\"\\u0000\"}""#), br#"{"a":"\u0000"}"#);
    }

    #[test]
    fn foreign_messages_get_defaults() {
        let headers = Headers::parse(Some(r#"{"x-drover-max-attempts": "lots", "x-drover-released": -1}"#));
        assert_eq!(headers.max_attempts(), DEFAULT_MAX_ATTEMPTS);
        assert_eq!(headers.attempt(3), 3);
        assert_eq!(Headers::parse(None).payload(r#"{"id": 1}"#.into()), br#"{"id": 1}"#);
        assert_eq!(Headers::parse(Some("[1]")).max_attempts(), DEFAULT_MAX_ATTEMPTS);
    }
}
