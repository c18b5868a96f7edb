//! `PushTicks`: cron ticks pushed once per (schedule, tick), from a KV bucket and message ids.
//!
//! The bucket `<prefix>_<queue>_ticks` keeps one key per schedule (`s.<hex of the name>`)
//! whose value is the schedule's record (last tick, last task). A push reads the record; if
//! the tick is not newer it is taken. Otherwise the tick's task is published with a message
//! id made of the queue, the schedule and the tick. Of callers racing for one tick, the work
//! stream stores the first publish and answers the others `duplicate` (they report the tick
//! taken); the one that stored it writes the record with a compare-and-set on the revision
//! it read. The skip of [`Overlap::Skip`] writes only the record, by compare-and-set too. A
//! caller that dies between its publish and its record leaves the task pushed and the record
//! behind; a later call for that tick is dropped by the duplicate window (2 minutes by
//! default). Past the window an old tick whose record was never written could be pushed
//! again: keep the duplicate window longer than a tick push can take.

use async_nats::jetstream::kv::{CreateErrorKind, Operation, Store, UpdateErrorKind};
use chrono::{DateTime, Utc};
use drover_core::{BackendError, Codec, Overlap, PushTicks, TaskId, TickPush, TickPushed, TickRecord};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::inner::Inner;
use crate::storage::NatsStorage;

#[derive(Serialize, Deserialize)]
struct Stored {
    schedule: String,
    last_tick_us: i64,
    last_task: Option<TaskId>,
}

impl Stored {
    fn record(&self) -> Option<TickRecord> {
        Some(TickRecord::new(
            self.schedule.clone(),
            DateTime::from_timestamp_micros(self.last_tick_us)?,
            self.last_task,
        ))
    }
}

fn key_of(schedule: &str) -> String {
    let hex: String = schedule.bytes().map(|b| format!("{b:02x}")).collect();
    format!("s.{hex}")
}

fn tick_us(tick: DateTime<Utc>) -> i64 {
    tick.timestamp_micros()
}

impl Inner {
    async fn ticks(&self) -> Result<&Store, BackendError> {
        self.kv
            .get_or_try_init(|| {
                crate::unique::open_bucket(self, &self.names.ticks_bucket, "Drover cron: each schedule's last tick")
            })
            .await
    }

    async fn read_tick(&self, key: &str) -> Result<Option<(Stored, u64)>, BackendError> {
        let store = self.ticks().await?;
        let entry = store.entry(key).await.map_err(|e| BackendError::connection("read a schedule's tick", e))?;
        let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else { return Ok(None) };
        let stored: Stored = serde_json::from_slice(&entry.value)
            .map_err(|e| BackendError::Corrupt(format!("the tick record `{key}` is not Drover's: {e}")))?;
        Ok(Some((stored, entry.revision)))
    }

    /// Write `stored` if the key is still at `revision` (`None`: absent). False on a conflict.
    async fn write_tick(&self, key: &str, stored: &Stored, revision: Option<u64>) -> Result<bool, BackendError> {
        let store = self.ticks().await?;
        let value = serde_json::to_vec(stored).map_err(|e| BackendError::Corrupt(e.to_string()))?.into();
        match revision {
            None => match store.create(key, value).await {
                Ok(_) => Ok(true),
                Err(e) if matches!(e.kind(), CreateErrorKind::AlreadyExists) => Ok(false),
                Err(e) => Err(BackendError::connection("record a tick", e)),
            },
            Some(revision) => match store.update(key, value, revision).await {
                Ok(_) => Ok(true),
                Err(e) if matches!(e.kind(), UpdateErrorKind::WrongLastRevision) => Ok(false),
                Err(e) => Err(BackendError::connection("record a tick", e)),
            },
        }
    }

    pub(crate) async fn push_tick(&self, push: TickPush) -> Result<TickPushed, BackendError> {
        let key = key_of(&push.schedule);
        let tick = tick_us(push.tick);
        loop {
            let current = self.read_tick(&key).await?;
            if let Some((stored, _)) = &current {
                if stored.last_tick_us >= tick {
                    return Ok(TickPushed::Taken);
                }
            }
            let revision = current.as_ref().map(|(_, r)| *r);
            let previous = current.as_ref().and_then(|(s, _)| s.last_task);
            if let (Overlap::Skip, Some(previous)) = (push.overlap, previous) {
                if self.unfinished(previous).await? {
                    let stored =
                        Stored { schedule: push.schedule.clone(), last_tick_us: tick, last_task: Some(previous) };
                    if self.write_tick(&key, &stored, revision).await? {
                        return Ok(TickPushed::Overlapped(previous));
                    }
                    continue;
                }
            }
            // The message id is the tick's, not the task's: of callers racing for one tick, each
            // with its own task, the stream keeps the first publish and tells the others.
            let mut messages = Inner::enqueue_messages(std::slice::from_ref(&push.task))?;
            let Some(mut message) = messages.pop() else { return Ok(TickPushed::Taken) };
            message.msg_id = format!("tick.{}.{key}.{tick}", self.names.queue);
            if self.publish_once(message).await? {
                return Ok(TickPushed::Taken);
            }
            // This call pushed the tick's task: record it, whoever wrote the record meanwhile.
            let mut revision = revision;
            loop {
                let stored =
                    Stored { schedule: push.schedule.clone(), last_tick_us: tick, last_task: Some(push.task.id) };
                if self.write_tick(&key, &stored, revision).await? {
                    return Ok(TickPushed::Pushed(push.task.id));
                }
                match self.read_tick(&key).await? {
                    Some((stored, _)) if stored.last_tick_us >= tick => return Ok(TickPushed::Pushed(push.task.id)),
                    current => revision = current.map(|(_, r)| r),
                }
            }
        }
    }

    pub(crate) async fn tick_records(&self) -> Result<Vec<TickRecord>, BackendError> {
        let store = self.ticks().await?;
        let mut keys = store.keys().await.map_err(|e| BackendError::connection("list tick records", e))?;
        let mut names = Vec::new();
        while let Some(key) = keys.next().await {
            names.push(key.map_err(|e| BackendError::connection("list tick records", e))?);
        }
        let mut out = Vec::new();
        for key in names {
            if let Some(record) = self.read_tick(&key).await?.and_then(|(s, _)| s.record()) {
                out.push(record);
            }
        }
        out.sort_by(|a, b| a.schedule.cmp(&b.schedule));
        Ok(out)
    }
}

impl<T, C> PushTicks for NatsStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T> + 'static,
{
    async fn push_tick(&self, push: TickPush) -> Result<TickPushed, BackendError> {
        self.inner.push_tick(push).await
    }

    async fn tick_record(&self, schedule: &str) -> Result<Option<TickRecord>, BackendError> {
        Ok(self.inner.read_tick(&key_of(schedule)).await?.and_then(|(s, _)| s.record()))
    }

    async fn tick_records(&self) -> Result<Vec<TickRecord>, BackendError> {
        self.inner.tick_records().await
    }
}
