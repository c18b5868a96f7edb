//! Turning script replies into Drover's types.

use chrono::{DateTime, Utc};
use drover_core::{ClaimedTask, LeaseToken, NewTask, PushOptions, Status, TaskId, TaskInfo, TickPushed, TickRecord};
use redis::Value;

/// A reply that is not what the script returns.
pub(crate) type BadReply = String;

fn items(value: Value) -> Result<Vec<Value>, BadReply> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => Err(format!("expected an array from the script, got {other:?}")),
    }
}

fn bytes(value: Value) -> Result<Vec<u8>, BadReply> {
    match value {
        Value::BulkString(b) => Ok(b),
        Value::SimpleString(s) => Ok(s.into_bytes()),
        Value::Int(n) => Ok(n.to_string().into_bytes()),
        other => Err(format!("expected a string from the script, got {other:?}")),
    }
}

fn text(value: Value) -> Result<String, BadReply> {
    String::from_utf8(bytes(value)?).map_err(|e| format!("expected UTF-8 text: {e}"))
}

fn int(value: Value) -> Result<i64, BadReply> {
    match value {
        Value::Int(n) => Ok(n),
        other => {
            let s = text(other)?;
            s.parse().map_err(|_| format!("expected a number, got {s:?}"))
        }
    }
}

fn float(value: Value) -> Result<f64, BadReply> {
    match value {
        Value::Double(d) => Ok(d),
        Value::Int(n) => Ok(n as f64),
        other => {
            let s = text(other)?;
            s.parse().map_err(|_| format!("expected a number, got {s:?}"))
        }
    }
}

fn task_id(value: Value) -> Result<TaskId, BadReply> {
    let s = text(value)?;
    s.parse().map_err(|e| format!("bad task id in Redis: {e}"))
}

fn small<N: TryFrom<i64>>(n: i64, what: &str) -> Result<N, BadReply> {
    N::try_from(n).map_err(|_| format!("{what} {n} is out of range"))
}

/// The push script's reply: for each task whose unique key was already held, its position in
/// the call (from 1) and the holder's id.
/// The tick script's reply: `{-1}` (taken), `{-2, id}` (skipped for that unfinished task) or
/// the push script's reply for the one task `pushed` (empty, or the position and id of a
/// unique key's holder).
pub(crate) fn tick_reply(value: Value, pushed: TaskId) -> Result<TickPushed, BadReply> {
    let mut it = items(value)?.into_iter();
    match (it.next().map(int).transpose()?, it.next()) {
        (None, _) => Ok(TickPushed::Pushed(pushed)),
        (Some(-1), None) => Ok(TickPushed::Taken),
        (Some(-2), Some(id)) => Ok(TickPushed::Overlapped(task_id(id)?)),
        (Some(1), Some(holder)) => Ok(TickPushed::Pushed(task_id(holder)?)),
        (code, _) => Err(format!("the tick script returned {code:?}, not -1, -2 or a push reply")),
    }
}

/// A schedule's entry in the ticks hash: `<last tick ms>:<last task id>`.
pub(crate) fn tick_entry(schedule: String, entry: &str) -> Result<TickRecord, BadReply> {
    let (ms, id) = entry.split_once(':').ok_or_else(|| format!("bad tick entry for `{schedule}`: {entry:?}"))?;
    let ms: i64 = ms.parse().map_err(|_| format!("bad tick time for `{schedule}`: {entry:?}"))?;
    let id =
        if id.is_empty() { None } else { Some(id.parse().map_err(|e| format!("bad task id for `{schedule}`: {e}"))?) };
    Ok(TickRecord::new(schedule, time(ms), id))
}

pub(crate) fn unique_hits(value: Value) -> Result<Vec<(usize, TaskId)>, BadReply> {
    let items = items(value)?;
    if items.len() % 2 != 0 {
        return Err(format!("the push script returned {} values, not two per duplicate", items.len()));
    }
    let mut hits = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(position), Some(id)) = (it.next(), it.next()) {
        hits.push((small(int(position)?, "position")?, task_id(id)?));
    }
    Ok(hits)
}

/// A ready-set member: the task's `run_at` as 15 digits of Unix milliseconds, then its id.
fn ready_member(value: Value) -> Result<(TaskId, DateTime<Utc>), BadReply> {
    let s = text(value)?;
    let (ms, id) = s.split_at_checked(15).ok_or_else(|| format!("bad ready member in Redis: {s:?}"))?;
    let ms: i64 = ms.parse().map_err(|_| format!("bad run time in a ready member: {s:?}"))?;
    let id = id.parse().map_err(|e| format!("bad task id in Redis: {e}"))?;
    Ok((id, time(ms)))
}

/// The claim script's reply: ready member (run time and id), token, attempt, max attempts,
/// payload per task.
/// The claim script's reply when the queue's rate allows no start now: how long until the next
/// one, in milliseconds.
pub(crate) fn rate_wait(value: &Value) -> Option<u64> {
    match value {
        Value::Array(items) if items.len() == 2 => match (&items[0], &items[1]) {
            (Value::Int(-1), Value::Int(ms)) => u64::try_from(*ms).ok(),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn claimed_tasks(value: Value) -> Result<Vec<ClaimedTask>, BadReply> {
    let items = items(value)?;
    if items.len() % 5 != 0 {
        return Err(format!("the claim script returned {} values, not five per task", items.len()));
    }
    let mut tasks = Vec::with_capacity(items.len() / 5);
    let mut it = items.into_iter();
    while let (Some(member), Some(token), Some(attempt), Some(max), Some(payload)) =
        (it.next(), it.next(), it.next(), it.next(), it.next())
    {
        let (id, run_at) = ready_member(member)?;
        tasks.push(
            ClaimedTask::new(
                id,
                LeaseToken(int(token)?),
                small(int(attempt)?, "attempt")?,
                small(int(max)?, "max attempts")?,
                bytes(payload)?,
            )
            .with_run_at(run_at),
        );
    }
    Ok(tasks)
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A task's envelope from its id, its queue and the field/value pairs of its hash.
pub(crate) fn task_info(id: TaskId, queue: &str, fields: Value) -> Result<TaskInfo, BadReply> {
    let fields = items(fields)?;
    let mut task = NewTask::new(Vec::new(), PushOptions::new());
    task.id = id;
    // The creation time is the id's own (a ULID made when the job was pushed).
    let mut info = TaskInfo::from_new(queue, &task, id.created_at());
    let mut lease = None;
    let mut updated = None;
    let mut it = fields.into_iter();
    while let (Some(field), Some(value)) = (it.next(), it.next()) {
        match bytes(field)?.as_slice() {
            b"p" => info.payload = bytes(value)?,
            b"s" => {
                let s = text(value)?;
                info.status = s.parse().map_err(|e| format!("{e}"))?;
            }
            b"a" => info.attempt = small(int(value)?, "attempt")?,
            b"m" => info.max_attempts = small(int(value)?, "max attempts")?,
            b"pr" => info.priority = small(int(value)?, "priority")?,
            b"ra" => info.run_at = time(int(value)?),
            b"u" => updated = Some(time(int(value)?)),
            b"l" => lease = Some(time(float(value)? as i64)),
            b"k" => info.unique_key = Some(text(value)?),
            b"ck" => info.concurrency_key = Some(text(value)?),
            b"e" => info.last_error = Some(String::from_utf8_lossy(&bytes(value)?).into_owned()),
            b"st" => info.started_at = Some(time(int(value)?)),
            b"h" => {
                info.attempts =
                    drover_core::AttemptRecord::decode_history(&bytes(value)?).map_err(|e| format!("{e}"))?
            }
            _ => {}
        }
    }
    // Fields at their defaults are not stored: a task never updated was updated when created.
    info.updated_at = updated.unwrap_or(info.created_at);
    info.lease_expires_at = if info.status == Status::Running { lease } else { None };
    Ok(info)
}

/// One call's worth of a listing.
pub(crate) struct TaskPage {
    /// Where the scan of the id index goes on, if it has not reached the end.
    pub(crate) next_rank: Option<i64>,
    /// Matching tasks skipped for the offset.
    pub(crate) skipped: u64,
    pub(crate) tasks: Vec<TaskInfo>,
}

/// The list script's reply: next rank (or -1), skipped, then id and field/value pairs per task.
pub(crate) fn task_page(queue: &str, value: Value) -> Result<TaskPage, BadReply> {
    let mut it = items(value)?.into_iter();
    let next = it.next().map(int).transpose()?.unwrap_or(-1);
    let skipped = it.next().map(int).transpose()?.unwrap_or(0);
    let mut tasks = Vec::new();
    while let (Some(id), Some(fields)) = (it.next(), it.next()) {
        tasks.push(task_info(task_id(id)?, queue, fields)?);
    }
    Ok(TaskPage { next_rank: (next >= 0).then_some(next), skipped: skipped.max(0).unsigned_abs(), tasks })
}

/// Numbers from a reply of integers.
pub(crate) fn ints(value: Value) -> Result<Vec<i64>, BadReply> {
    items(value)?.into_iter().map(int).collect()
}

/// Member/score pairs (`WITHSCORES`) as (text, score).
pub(crate) fn scored(value: Value) -> Result<Vec<(String, f64)>, BadReply> {
    let items = items(value)?;
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(member), Some(score)) = (it.next(), it.next()) {
        let score = match score {
            Value::Double(d) => d,
            other => {
                let s = text(other)?;
                s.parse().map_err(|_| format!("expected a score, got {s:?}"))?
            }
        };
        out.push((text(member)?, score));
    }
    Ok(out)
}
