//! Message ids and task ids.
//!
//! An rsmq message id is 32 characters: the send time in microseconds in base 36 (10
//! characters), then 22 random characters from `A-Z a-z 0-9`. Drover's task ids are ULIDs
//! (128 bits), and 22 base-62 digits hold 128 bits, so a message Drover sends gets an id that
//! *is* its task id: the ULID's milliseconds * 1000 as the time, the ULID as a base-62 number
//! in place of the random characters. rsmq clients see an ordinary id (and a `sent` time
//! from the ULID). The claim script (`scripts/common.lua`, `task_id_of`) reads ids back the
//! same way, and gives a message someone else sent a task id of its time and a hash of its
//! id, recorded so the task id finds the message again.

use drover_core::TaskId;

/// rsmq's character set for the random part, in the order its digits count.
const BASE62: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// 36^10: the time part stays 10 characters.
const TIME_MODULUS: u64 = 3_656_158_440_062_976;

/// The rsmq message id of the message Drover sends for task `id`.
pub(crate) fn message_id(id: TaskId) -> String {
    let value = id.to_u128();
    let ms = u64::try_from(value >> 80).unwrap_or(0);
    let micros = ms.wrapping_mul(1_000) % TIME_MODULUS;
    let mut out = Vec::with_capacity(32);
    out.extend(digits(u128::from(micros), BASE36, 10));
    out.extend(digits(value, BASE62, 22));
    String::from_utf8_lossy(&out).into_owned()
}

/// The task id held by a message id Drover made, or `None` for any other id.
pub(crate) fn task_id_of(message_id: &[u8]) -> Option<TaskId> {
    if message_id.len() != 32 {
        return None;
    }
    let mut value: u128 = 0;
    for &byte in &message_id[10..] {
        let digit = BASE62.iter().position(|&c| c == byte)? as u128;
        value = value.checked_mul(62)?.checked_add(digit)?;
    }
    let id = TaskId::from_u128(value);
    // The time part must be the one Drover makes from the id.
    (message_id == self::message_id(id).as_bytes()).then_some(id)
}

/// The task id as the scripts write it: 32 hex digits.
pub(crate) fn task_hex(id: TaskId) -> String {
    format!("{:032x}", id.to_u128())
}

/// A task id written by a script.
pub(crate) fn parse_task_hex(hex: &[u8]) -> Option<TaskId> {
    let text = std::str::from_utf8(hex).ok()?;
    (text.len() == 32).then_some(())?;
    u128::from_str_radix(text, 16).ok().map(TaskId::from_u128)
}

/// `value` in base `alphabet.len()`, most significant digit first, zero-padded to `width`.
fn digits(mut value: u128, alphabet: &[u8], width: usize) -> Vec<u8> {
    let base = alphabet.len() as u128;
    let mut out = vec![alphabet[0]; width];
    for slot in out.iter_mut().rev() {
        *slot = alphabet[(value % base) as usize];
        value /= base;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_rsmq_ids() {
        for _ in 0..100 {
            let task = TaskId::new();
            let id = message_id(task);
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
            // rsmq's `sent`: the first 10 characters in base 36, over 1000, is the time in ms.
            let micros = u64::from_str_radix(&id[..10], 36).unwrap();
            assert_eq!(micros / 1000, task.created_at().timestamp_millis() as u64);
            assert_eq!(parse_task_hex(task_hex(task).as_bytes()), Some(task));
            assert_eq!(task_id_of(id.as_bytes()), Some(task));
        }
    }

    #[test]
    fn the_largest_id_fits() {
        let id = message_id(TaskId::from_u128(u128::MAX));
        assert_eq!(id.len(), 32);
        assert!(parse_task_hex(b"xyz").is_none());
        assert_eq!(task_id_of(id.as_bytes()), Some(TaskId::from_u128(u128::MAX)));
        // An id the npm client made: random characters after the time.
        assert_eq!(task_id_of(b"lx2h1a9k3mQ7fXbT0pLrZcW2yN8vKdEa"), None);
        assert_eq!(task_id_of(b"short"), None);
    }
}
