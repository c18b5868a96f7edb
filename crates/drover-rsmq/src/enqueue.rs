//! The produce side: rsmq's sendMessage for batches of tasks.

use chrono::Utc;
use drover_core::{BackendError, Codec, Enqueue, NewTask, TaskId, DEFAULT_MAX_ATTEMPTS};
use redis::Value;

use crate::config::MAX_BATCH;
use crate::message_id::message_id;
use crate::scripts;
use crate::storage::RsmqStorage;

impl<T, C> Enqueue for RsmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// Send each task as an rsmq message whose body is the payload, byte for byte; up to
    /// 1,000 messages per script call, each call all or nothing.
    ///
    /// A run time becomes rsmq's per-message delay, in milliseconds of the server's clock
    /// (a past run time makes the message visible at once, ahead of newer ones); no run time
    /// means the queue's own `delay`. A max attempts other than the default is kept beside
    /// the message. Priorities and unique keys have no place in rsmq and are refused.
    async fn enqueue(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        for task in &tasks {
            self.check_options(task)?;
        }
        for chunk in tasks.chunks(MAX_BATCH) {
            self.send_chunk(chunk).await?;
        }
        if !tasks.is_empty() {
            self.shared.wakeup.notify();
        }
        Ok(tasks.iter().map(|t| t.id).collect())
    }
}

impl<T, C> RsmqStorage<T, C> {
    fn check_options(&self, task: &NewTask) -> Result<(), BackendError> {
        if task.priority != 0 {
            return Err(BackendError::Unsupported(format!(
                "rsmq queues have no priorities (asked for priority {}): push with priority 0, or use a \
                 queue per priority",
                task.priority
            )));
        }
        if let Some(key) = &task.unique_key {
            return Err(BackendError::Unsupported(format!(
                "rsmq queues cannot deduplicate by unique key (asked for `{key}`): push without a unique key"
            )));
        }
        drover_core::refuse_concurrency_keys("rsmq", std::slice::from_ref(task))
    }

    async fn send_chunk(&self, chunk: &[NewTask]) -> Result<(), BackendError> {
        let default_attempts = self.shared.config.max_attempts();
        let now = Utc::now();
        let reply: Value = self
            .run("push", &scripts::SEND, |inv| {
                inv.arg(chunk.len());
                for task in chunk {
                    let delay = task
                        .run_at
                        .map(|at| at.signed_duration_since(now).num_milliseconds().to_string())
                        .unwrap_or_default();
                    // The default attempt limit (the same for every push that sets none) follows
                    // the storage's; any other is the push's own.
                    let max = if task.max_attempts == DEFAULT_MAX_ATTEMPTS || task.max_attempts == default_attempts {
                        String::new()
                    } else {
                        task.max_attempts.to_string()
                    };
                    inv.arg(message_id(task.id))
                        .arg(task.payload.as_slice())
                        .arg(rsmq_length(&task.payload))
                        .arg(delay)
                        .arg(max);
                }
            })
            .await?;
        match reply {
            Value::Array(items) if matches!(items.first(), Some(Value::Int(1))) => Ok(()),
            Value::Array(items) if matches!(items.first(), Some(Value::Int(0))) => {
                let number = |i: usize| match items.get(i) {
                    Some(Value::Int(n)) => *n,
                    _ => 0,
                };
                Err(BackendError::Unsupported(format!(
                    "message {} of the push is {} characters long, more than the rsmq queue `{}`'s maxsize of {}; \
                     nothing was sent (make the job smaller, or raise the queue's maxsize with rsmq's \
                     setQueueAttributes, up to 65,536 or -1 for no limit)",
                    number(1),
                    number(2),
                    self.shared.config.queue(),
                    number(3)
                )))
            }
            other => Err(BackendError::server("push", format!("the send script returned {other:?}"))),
        }
    }
}

/// The length rsmq compares with `maxsize`: JavaScript's `message.length`, in UTF-16 code
/// units. A payload that is not UTF-8 counts its bytes.
pub(crate) fn rsmq_length(payload: &[u8]) -> usize {
    match std::str::from_utf8(payload) {
        Ok(text) => text.encode_utf16().count(),
        Err(_) => payload.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::rsmq_length;

    #[test]
    fn length_counts_like_javascript() {
        assert_eq!(rsmq_length(b"abc"), 3);
        assert_eq!(rsmq_length("é".as_bytes()), 1);
        assert_eq!(rsmq_length("🎉".as_bytes()), 2);
        assert_eq!(rsmq_length(&[0xff, 0xfe]), 2);
    }
}
