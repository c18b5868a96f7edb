//! Cancel, requeue, queue creation and rsmq's queue attributes.

use drover_core::{BackendError, Cancel, Codec, Requeue, TaskId};
use redis::Value;

use crate::message_id::{message_id, task_hex};
use crate::scripts;
use crate::storage::RsmqStorage;

/// A queue's attributes as rsmq's `getQueueAttributes` reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueAttributes {
    /// Default visibility timeout of a receive, in seconds.
    pub vt: u64,
    /// Default delay of a send, in seconds.
    pub delay: u64,
    /// Largest message in characters, or -1 for no limit.
    pub maxsize: i64,
    /// Receives ever made (by Drover claims and rsmq clients).
    pub totalrecv: u64,
    /// Messages ever sent.
    pub totalsent: u64,
    /// When the queue was created, in Unix seconds.
    pub created: u64,
    /// When its attributes last changed, in Unix seconds.
    pub modified: u64,
    /// Messages in the queue (visible, hidden and delayed).
    pub msgs: u64,
    /// Messages not visible now (received and not yet deleted, or delayed), counted from the
    /// start of the current second as rsmq does.
    pub hiddenmsgs: u64,
}

impl<T, C> RsmqStorage<T, C> {
    /// rsmq's createQueue, with the configured `vt`, `delay` and `maxsize`, if the queue does
    /// not exist. Returns whether it was created. Pushes create the queue too; this is for
    /// making it before the first push (so rsmq clients can receive from it).
    pub async fn create_queue(&self) -> Result<bool, BackendError> {
        let created: i64 = self.run("create queue", &scripts::CREATE, |_| {}).await?;
        Ok(created == 1)
    }

    /// rsmq's deleteQueue: the queue, its messages and Drover's side data are deleted (the
    /// dead queue stays). Returns whether the queue existed. Workers still running on it see
    /// an empty queue; a later push creates it again.
    pub async fn delete_queue(&self) -> Result<bool, BackendError> {
        let deleted: i64 = self.run("delete queue", &scripts::DELETE, |_| {}).await?;
        Ok(deleted == 1)
    }

    /// The queue's attributes, as rsmq's getQueueAttributes; `None` when it does not exist.
    pub async fn attributes(&self) -> Result<Option<QueueAttributes>, BackendError> {
        self.read_attributes("queue").await
    }

    /// The dead queue's attributes; `None` while no message has died.
    pub async fn dead_attributes(&self) -> Result<Option<QueueAttributes>, BackendError> {
        self.read_attributes("dead").await
    }

    async fn read_attributes(&self, which: &'static str) -> Result<Option<QueueAttributes>, BackendError> {
        let values: Vec<Value> = self
            .run("queue attributes", &scripts::ATTRIBUTES, |inv| {
                inv.arg(which);
            })
            .await?;
        if values.is_empty() {
            return Ok(None);
        }
        let number = |i: usize| -> i64 {
            match values.get(i) {
                Some(Value::Int(n)) => *n,
                Some(Value::BulkString(text)) => {
                    std::str::from_utf8(text).ok().and_then(|t| t.parse().ok()).unwrap_or(0)
                }
                _ => 0,
            }
        };
        let unsigned = |i: usize| u64::try_from(number(i)).unwrap_or(0);
        Ok(Some(QueueAttributes {
            vt: unsigned(0),
            delay: unsigned(1),
            maxsize: number(2),
            totalrecv: unsigned(3),
            totalsent: unsigned(4),
            created: unsigned(5),
            modified: unsigned(6),
            msgs: unsigned(7),
            hiddenmsgs: unsigned(8),
        }))
    }
}

impl<T, C> Cancel for RsmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// Delete the message (rsmq's deleteMessage) while it is in the queue, pending or running;
    /// a running claim's completion is then ignored. A cancelled task is gone: rsmq keeps
    /// no record of it.
    async fn cancel(&self, id: TaskId) -> Result<bool, BackendError> {
        let cancelled: i64 = self
            .run("cancel", &scripts::CANCEL, |inv| {
                inv.arg(task_hex(id)).arg(message_id(id));
            })
            .await?;
        Ok(cancelled == 1)
    }
}

impl<T, C> Requeue for RsmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// Move a dead message from the dead queue back to the queue, visible now, with its
    /// receive count (the attempt) reset. Cancelled tasks were deleted and cannot come back,
    /// so requeueing one returns false, as does a message an rsmq client took from the dead
    /// queue.
    async fn requeue(&self, id: TaskId) -> Result<bool, BackendError> {
        let requeued: i64 = self
            .run("requeue", &scripts::REQUEUE, |inv| {
                inv.arg(task_hex(id)).arg(message_id(id));
            })
            .await?;
        if requeued == 1 {
            self.shared.wakeup.notify();
        }
        Ok(requeued == 1)
    }
}
