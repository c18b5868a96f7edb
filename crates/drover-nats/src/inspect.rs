//! `Inspect`: counts, pages and single tasks, read from the streams where each status lives.
//!
//! | status | where | how it is read |
//! |---|---|---|
//! | pending (due) | work stream, past the work consumer's delivered sequence | consumer info `num_pending`; one task: get the last message on `ready.<id>` |
//! | pending (scheduled, long retry) | delay stream | stream info `messages`; `delay.<id>` |
//! | pending (short retry, a delayed Nak) | work stream, delivered | this process remembers the Naks it sent; elsewhere it reads as running |
//! | running | work stream, delivered and unacked | consumer info `num_ack_pending`; a claim held here gives its lease deadline |
//! | dead | dead stream | stream info; `dead.<id>` |
//! | done | done stream (a record per task, kept `keep_done`) | stream info; `done.<id>` |
//!
//! A page lists the task ids of each stream from the subjects the server reports (stream info
//! with a subject filter: one subject per task), sorts them newest first, and reads only the
//! tasks of the page.

use std::collections::HashMap;

use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::Stream;
use chrono::{DateTime, Utc};
use drover_core::{BackendError, ListQuery, NewTask, PushOptions, QueueStats, Status, TaskId, TaskInfo};
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::dead::last_on;
use crate::envelope::Envelope;
use crate::inner::{lock, Inner};
use crate::names::id_of_subject;

/// Which stream a task was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Work,
    Delay,
    Dead,
    Done,
}

fn time_of(message: &StreamMessage) -> DateTime<Utc> {
    let nanos = message.time.unix_timestamp_nanos();
    DateTime::from_timestamp_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

fn ms_time(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// A monotonic deadline as wall-clock time.
fn wall(at: Instant) -> DateTime<Utc> {
    let now = Instant::now();
    let left = at.saturating_duration_since(now);
    Utc::now() + chrono::TimeDelta::from_std(left).unwrap_or(chrono::TimeDelta::zero())
}

impl Inner {
    fn info(&self, id: TaskId, envelope: &Envelope, payload: Vec<u8>, status: Status) -> TaskInfo {
        let mut info = TaskInfo::from_new(&self.names.queue, &NewTask::new(payload, PushOptions::new()), Utc::now());
        info.id = id;
        info.status = status;
        info.attempt = envelope.attempts;
        info.max_attempts = envelope.max_attempts;
        info.unique_key = envelope.unique_key.clone();
        info.last_error = envelope.last_error.clone();
        info.created_at = envelope.enqueued_at();
        info
    }

    async fn delivered_seq(&self) -> Result<u64, BackendError> {
        let mut consumer = self.top.consumer.clone();
        let info = consumer.info().await.map_err(|e| BackendError::connection("consumer info", e))?;
        Ok(info.delivered.stream_sequence)
    }

    /// The task as the message found in `place` shows it.
    async fn info_of(&self, id: TaskId, place: Place, message: StreamMessage) -> Result<TaskInfo, BackendError> {
        let envelope = Envelope::from_headers(id, Some(&message.headers));
        let stored = time_of(&message);
        let due = envelope.run_at_ms.and_then(ms_time).unwrap_or(stored);
        let status = match place {
            Place::Work if message.sequence <= self.delivered_seq().await? => Status::Running,
            Place::Work | Place::Delay => Status::Pending,
            Place::Dead => Status::Dead,
            Place::Done => Status::Done,
        };
        let mut info = self.info(id, &envelope, message.payload.to_vec(), status);
        info.updated_at = stored;
        info.run_at = due;
        if status == Status::Running {
            // Delivered and unacked: running, or waiting for a short retry this process sent.
            let st = lock(&self.state);
            if let Some(claim) = st.claim_of(id) {
                info.attempt = claim.attempt;
                info.lease_expires_at = Some(wall(claim.deadline));
            } else if let Some(retry) = st.retry_of(id) {
                info.status = Status::Pending;
                info.attempt = retry.attempt;
                info.run_at = retry.run_at;
                info.last_error = Some(retry.error.clone());
            } else {
                info.attempt = envelope.attempts.saturating_add(1);
            }
        }
        Ok(info)
    }

    fn stream_of(&self, place: Place) -> Option<(&Stream, String)> {
        Some(match place {
            Place::Work => (&self.top.work, self.names.ready_all()),
            Place::Delay => (&self.top.delay, self.names.delay_all()),
            Place::Dead => (&self.top.dead, self.names.dead_all()),
            Place::Done => (self.top.done.as_ref()?, self.names.done_all()),
        })
    }

    fn subject_of(&self, place: Place, id: TaskId) -> String {
        match place {
            Place::Work => self.names.ready_of(id),
            Place::Delay => self.names.delay_of(id),
            Place::Dead => self.names.dead_of(id),
            Place::Done => self.names.done_of(id),
        }
    }

    async fn find_in(&self, place: Place, id: TaskId) -> Result<Option<TaskInfo>, BackendError> {
        let Some((stream, _)) = self.stream_of(place) else { return Ok(None) };
        match last_on(stream, self.subject_of(place, id)).await? {
            Some(message) => Ok(Some(self.info_of(id, place, message).await?)),
            None => Ok(None),
        }
    }

    /// One task: from the stream that holds it. A task being moved is briefly in two: its copy
    /// is stored before the original goes. A delivered work message with no claim here may be
    /// such an original (acked, not yet removed), so the other streams are asked first; and a
    /// task found nowhere is looked for once more, in case it moved between two looks.
    pub(crate) async fn get(&self, id: TaskId) -> Result<Option<TaskInfo>, BackendError> {
        for _ in 0..2 {
            let work = self.find_in(Place::Work, id).await?;
            if let Some(info) = &work {
                if info.status != Status::Running || info.lease_expires_at.is_some() {
                    return Ok(work);
                }
            }
            for place in [Place::Delay, Place::Dead, Place::Done] {
                if let Some(info) = self.find_in(place, id).await? {
                    return Ok(Some(info));
                }
            }
            if work.is_some() {
                return Ok(work);
            }
        }
        Ok(None)
    }

    pub(crate) async fn stats(&self) -> Result<QueueStats, BackendError> {
        let mut consumer = self.top.consumer.clone();
        let info = consumer.info().await.map_err(|e| BackendError::connection("consumer info", e))?;
        let (ready, ack_pending, delivered) =
            (info.num_pending, info.num_ack_pending as u64, info.delivered.stream_sequence);
        let count = |stream: Option<&Stream>| {
            let stream = stream.cloned();
            async move {
                let Some(mut stream) = stream else { return Ok(0) };
                Ok::<u64, BackendError>(
                    stream.info().await.map_err(|e| BackendError::connection("stream info", e))?.state.messages,
                )
            }
        };
        let delayed = count(Some(&self.top.delay)).await?;
        let dead = count(Some(&self.top.dead)).await?;
        let done = count(self.top.done.as_ref()).await?;
        let retrying = {
            let st = lock(&self.state);
            st.retrying_now()
        };
        let retrying = retrying.min(ack_pending);
        let mut stats = QueueStats::default();
        stats.pending = ready + delayed + retrying;
        stats.scheduled = delayed + retrying;
        stats.running = ack_pending - retrying;
        stats.dead = dead;
        stats.done = done;
        stats.oldest_due_at = if ready == 0 { None } else { self.first_due(delivered).await? };
        Ok(stats)
    }

    /// When the first undelivered work message became due.
    async fn first_due(&self, delivered: u64) -> Result<Option<DateTime<Utc>>, BackendError> {
        let subject = self.names.ready_all();
        match self.top.work.get_first_raw_message_by_subject(&subject, delivered.saturating_add(1)).await {
            Ok(message) => {
                let envelope = Envelope::from_headers(TaskId::default(), Some(&message.headers));
                Ok(Some(envelope.run_at_ms.and_then(ms_time).unwrap_or_else(|| time_of(&message))))
            }
            Err(e) if e.to_string().contains("no message found") => Ok(None),
            Err(e) => Err(BackendError::connection("read the head of the queue", e)),
        }
    }

    /// The ids of the tasks in `place`, from the subjects the server reports.
    async fn ids_in(&self, place: Place) -> Result<Vec<TaskId>, BackendError> {
        let Some((stream, filter)) = self.stream_of(place) else { return Ok(Vec::new()) };
        let mut subjects = stream
            .info_with_subjects(&filter)
            .await
            .map_err(|e| BackendError::connection("list a stream's tasks", e))?;
        let mut ids = Vec::new();
        while let Some(next) = subjects.next().await {
            let (subject, _) = next.map_err(|e| BackendError::connection("list a stream's tasks", e))?;
            if let Some(id) = id_of_subject(&subject) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    pub(crate) async fn list(&self, query: ListQuery) -> Result<Vec<TaskInfo>, BackendError> {
        let places: &[Place] = match query.status {
            None => &[Place::Work, Place::Delay, Place::Dead, Place::Done],
            Some(Status::Pending) => &[Place::Work, Place::Delay],
            Some(Status::Running) => &[Place::Work],
            Some(Status::Dead) => &[Place::Dead],
            Some(Status::Done) => &[Place::Done],
            Some(Status::Cancelled) => &[],
        };
        // A task in two streams (being moved) is listed once, where it goes last.
        let mut found: HashMap<TaskId, Place> = HashMap::new();
        for place in places {
            for id in self.ids_in(*place).await? {
                found.insert(id, *place);
            }
        }
        let mut ids: Vec<(TaskId, Place)> = found.into_iter().collect();
        ids.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
        let (mut skip, limit) = (query.offset, usize::try_from(query.limit).unwrap_or(usize::MAX));
        let mut out = Vec::new();
        for (id, place) in ids {
            if out.len() >= limit {
                break;
            }
            // Only a work-stream task needs reading to know its status.
            let known = place != Place::Work || query.status.is_none();
            if known && skip > 0 {
                skip -= 1;
                continue;
            }
            let Some(info) = self.find_in(place, id).await? else { continue };
            if query.status.is_some_and(|s| s != info.status) {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            out.push(info);
        }
        Ok(out)
    }
}
