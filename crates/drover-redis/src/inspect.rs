//! Reading and steering a queue: counts, pages, one task, workers, queues; cancel, requeue,
//! purge.

use chrono::{DateTime, Utc};
use drover_core::{BackendError, Cancel, Codec, Inspect, ListQuery, QueueStats, Requeue, TaskId, TaskInfo};
use redis::Value;

use crate::config::MAX_BATCH;
use crate::connection::backend_error;
use crate::keys::QUEUES_KEY;
use crate::scripts;
use crate::storage::RedisStorage;
use crate::values::{ints, scored, task_info, task_page};

/// A worker that claimed from the queue, as [`RedisStorage::workers`] lists it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WorkerSeen {
    /// The worker's name.
    pub name: String,
    /// When it last claimed (even when it found nothing).
    pub last_claim: DateTime<Utc>,
}

impl<T, C> Inspect for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn stats(&self) -> Result<QueueStats, BackendError> {
        let value: Value = self.run("stats", &scripts::STATS, |_| {}).await?;
        let n = ints(value).map_err(|e| BackendError::server("stats", e))?;
        let mut stats = QueueStats::default();
        for (i, name) in QueueStats::NAMES.iter().enumerate() {
            stats.record(name, n.get(i).copied().unwrap_or(0));
        }
        let oldest = n.get(QueueStats::NAMES.len()).copied().filter(|ms| *ms >= 0);
        stats.oldest_due_at = oldest.and_then(chrono::DateTime::from_timestamp_millis);
        Ok(stats)
    }

    /// Pages newest first by id; `limit` is capped at 1,000 per call. Pending and running
    /// tasks are found by scanning the id index (5,000 ids per script call).
    async fn list(&self, query: ListQuery) -> Result<Vec<TaskInfo>, BackendError> {
        let limit = query.limit.min(MAX_BATCH as u64);
        let mut found = Vec::new();
        let mut to_skip = query.offset;
        let mut rank = 0i64;
        while (found.len() as u64) < limit {
            let value: Value = self
                .run("list", &scripts::LIST, |inv| {
                    inv.arg(query.status.map(|s| s.as_str()).unwrap_or(""))
                        .arg(to_skip)
                        .arg(limit - found.len() as u64)
                        .arg(rank);
                })
                .await?;
            let page = task_page(self.shared.queue.as_str(), value).map_err(|e| BackendError::server("list", e))?;
            found.extend(page.tasks);
            to_skip = to_skip.saturating_sub(page.skipped);
            match page.next_rank {
                Some(next) => rank = next,
                None => break,
            }
        }
        Ok(found)
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskInfo>, BackendError> {
        self.check_namespace()?;
        let mut conn = self.shared.conn.clone();
        let id_text = id.to_string();
        // A running task's lease deadline is its score in the leases set, not a hash field.
        let (value, deadline): (Value, Value) = redis::pipe()
            .cmd("HGETALL")
            .arg(self.shared.keys.task(&id_text))
            .cmd("ZSCORE")
            .arg(self.shared.keys.leases())
            .arg(&id_text)
            .query_async(&mut conn)
            .await
            .map_err(|e| backend_error("get", e))?;
        match with_deadline(value, deadline) {
            Value::Array(fields) if fields.is_empty() => Ok(None),
            fields => {
                task_info(id, self.shared.queue.as_str(), fields).map(Some).map_err(|e| BackendError::server("get", e))
            }
        }
    }
}

impl<T, C> Cancel for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn cancel(&self, id: TaskId) -> Result<bool, BackendError> {
        let n: i64 = self
            .run("cancel", &scripts::CANCEL, |inv| {
                inv.arg(id.to_string());
            })
            .await?;
        Ok(n == 1)
    }
}

impl<T, C> Requeue for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn requeue(&self, id: TaskId) -> Result<bool, BackendError> {
        let n: i64 = self
            .run("requeue", &scripts::REQUEUE, |inv| {
                inv.arg(id.to_string());
            })
            .await?;
        if n == 1 {
            self.shared.wakeup.notify();
        }
        Ok(n == 1)
    }
}

impl<T, C> RedisStorage<T, C> {
    /// Workers that claimed from this queue in the last day, most recent first (at most
    /// 1,000).
    pub async fn workers(&self) -> Result<Vec<WorkerSeen>, BackendError> {
        let mut conn = self.shared.conn.clone();
        let value: Value = redis::cmd("ZRANGE")
            .arg(self.shared.keys.workers())
            .arg(0)
            .arg(MAX_BATCH - 1)
            .arg("REV")
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(|e| backend_error("list workers", e))?;
        let seen = scored(value).map_err(|e| BackendError::server("list workers", e))?;
        Ok(seen
            .into_iter()
            .map(|(name, ms)| WorkerSeen {
                name,
                last_claim: DateTime::<Utc>::from_timestamp_millis(ms as i64).unwrap_or(DateTime::<Utc>::MIN_UTC),
            })
            .collect())
    }

    /// The namespaces of every queue pushed to on this server (at most 1,000 a call: pass
    /// `cursor` 0 first, then the returned cursor until it is 0).
    pub async fn queues(&self, cursor: u64) -> Result<(u64, Vec<String>), BackendError> {
        let mut conn = self.shared.conn.clone();
        redis::cmd("SSCAN")
            .arg(QUEUES_KEY)
            .arg(cursor)
            .arg("COUNT")
            .arg(MAX_BATCH)
            .query_async(&mut conn)
            .await
            .map_err(|e| backend_error("list queues", e))
    }

    /// Delete every key of this queue (tasks of every status, indexes, workers), in batches
    /// of 1,000. Meant for tests and for retiring a queue: workers should be stopped first.
    pub async fn purge(&self) -> Result<u64, BackendError> {
        self.check_namespace()?;
        let mut conn = self.shared.conn.clone();
        let pattern = self.shared.keys.scan_pattern();
        let mut cursor = 0u64;
        let mut deleted = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(MAX_BATCH)
                .query_async(&mut conn)
                .await
                .map_err(|e| backend_error("purge", e))?;
            if !keys.is_empty() {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| backend_error("purge", e))?;
                deleted += n;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let _: i64 = redis::cmd("SREM")
            .arg(QUEUES_KEY)
            .arg(self.shared.queue.as_str())
            .query_async(&mut conn)
            .await
            .map_err(|e| backend_error("purge", e))?;
        Ok(deleted)
    }
}

/// HGETALL's reply as flat pairs, with the lease deadline added as field `l` when there is one.
fn with_deadline(fields: Value, deadline: Value) -> Value {
    let mut flat = match fields {
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    if !flat.is_empty() && deadline != Value::Nil {
        flat.push(Value::BulkString(b"l".to_vec()));
        flat.push(deadline);
    }
    Value::Array(flat)
}

impl<T, C> drover_core::Pause for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_paused(&self, paused: bool) -> Result<(), BackendError> {
        self.check_namespace()?;
        let key = format!("{}:paused", self.shared.keys.prefix);
        let mut conn = self.shared.conn.clone();
        let mut pipe = redis::pipe();
        if paused {
            pipe.cmd("SET").arg(&key).arg(1).ignore();
        } else {
            // Idle workers everywhere claim again at once.
            pipe.cmd("DEL").arg(&key).ignore().cmd("PUBLISH").arg(&self.shared.keys.channel).arg("push").ignore();
        }
        let () = pipe.query_async(&mut conn).await.map_err(|e| backend_error("pause or resume the queue", e))?;
        if !paused {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    async fn is_paused(&self) -> Result<bool, BackendError> {
        self.check_namespace()?;
        let mut conn = self.shared.conn.clone();
        redis::cmd("EXISTS")
            .arg(format!("{}:paused", self.shared.keys.prefix))
            .query_async(&mut conn)
            .await
            .map_err(|e| backend_error("read whether the queue is paused", e))
    }
}

impl<T, C> drover_core::GlobalConcurrency for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running(&self, max: Option<u32>) -> Result<(), BackendError> {
        self.check_namespace()?;
        let key = format!("{}:max_running", self.shared.keys.prefix);
        let mut conn = self.shared.conn.clone();
        let mut pipe = redis::pipe();
        match max {
            Some(n) => pipe.cmd("SET").arg(&key).arg(n.max(1)).ignore(),
            None => pipe.cmd("DEL").arg(&key).ignore(),
        };
        pipe.cmd("PUBLISH").arg(&self.shared.keys.channel).arg("push").ignore();
        let () = pipe.query_async(&mut conn).await.map_err(|e| backend_error("set the queue's cap", e))?;
        self.shared.wakeup.notify();
        Ok(())
    }

    async fn max_running(&self) -> Result<Option<u32>, BackendError> {
        self.check_namespace()?;
        let mut conn = self.shared.conn.clone();
        redis::cmd("GET")
            .arg(format!("{}:max_running", self.shared.keys.prefix))
            .query_async(&mut conn)
            .await
            .map_err(|e| backend_error("read the queue's cap", e))
    }
}

impl<T, C> drover_core::GlobalRate for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_rate(&self, rate: Option<drover_core::Rate>) -> Result<(), BackendError> {
        self.check_namespace()?;
        let key = format!("{}:rate", self.shared.keys.prefix);
        let mut conn = self.shared.conn.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(&key).ignore();
        if let Some(rate) = rate {
            let per_ms = u64::try_from(rate.per.as_millis()).unwrap_or(u64::MAX).max(1);
            pipe.cmd("HSET")
                .arg(&key)
                .arg("n")
                .arg(rate.starts.max(1))
                .arg("per")
                .arg(per_ms)
                .arg("tat")
                .arg(0)
                .ignore();
        }
        pipe.cmd("PUBLISH").arg(&self.shared.keys.channel).arg("push").ignore();
        let () = pipe.query_async(&mut conn).await.map_err(|e| backend_error("set the queue's rate", e))?;
        self.shared.wakeup.notify();
        Ok(())
    }

    async fn rate(&self) -> Result<Option<drover_core::Rate>, BackendError> {
        self.check_namespace()?;
        let mut conn = self.shared.conn.clone();
        let (n, per): (Option<u32>, Option<u64>) = redis::cmd("HMGET")
            .arg(format!("{}:rate", self.shared.keys.prefix))
            .arg("n")
            .arg("per")
            .query_async(&mut conn)
            .await
            .map_err(|e| backend_error("read the queue's rate", e))?;
        Ok(n.zip(per).map(|(n, per)| drover_core::Rate::new(n, std::time::Duration::from_millis(per))))
    }
}
