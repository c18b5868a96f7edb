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
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(MAX_BATCH);
            // On a cluster, the master of the queue's slot holds all its keys: scan that node.
            let (next, keys): (u64, Vec<String>) = self
                .shared
                .conn
                .query_on_node_of(&self.shared.keys.prefix, &scan)
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

impl<T, C> RedisStorage<T, C> {
    /// The queue's settings hash, read by the claim script on every claim.
    fn settings_key(&self) -> String {
        format!("{}:settings", self.shared.keys.prefix)
    }

    /// Set and delete fields of the settings hash, then wake idle workers everywhere (a
    /// resume, a raised cap or rate is used at once).
    async fn change_settings(
        &self,
        operation: &'static str,
        set: &[(&str, String)],
        delete: &[&str],
    ) -> Result<(), BackendError> {
        self.check_namespace()?;
        let key = self.settings_key();
        let mut pipe = redis::pipe();
        if !delete.is_empty() {
            pipe.cmd("HDEL").arg(&key).arg(delete).ignore();
        }
        if !set.is_empty() {
            pipe.cmd("HSET").arg(&key).arg(set).ignore();
        }
        pipe.cmd("PUBLISH").arg(&self.shared.keys.channel).arg("push").ignore();
        let mut conn = self.shared.conn.clone();
        let () = pipe.query_async(&mut conn).await.map_err(|e| backend_error(operation, e))?;
        self.shared.wakeup.notify();
        Ok(())
    }

    /// Fields of the settings hash.
    async fn settings<V: redis::FromRedisValue>(
        &self,
        operation: &'static str,
        fields: &[&str],
    ) -> Result<V, BackendError> {
        self.check_namespace()?;
        let mut conn = self.shared.conn.clone();
        redis::cmd("HMGET")
            .arg(self.settings_key())
            .arg(fields)
            .query_async(&mut conn)
            .await
            .map_err(|e| backend_error(operation, e))
    }
}

impl<T, C> drover_core::Pause for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_paused(&self, paused: bool) -> Result<(), BackendError> {
        const OP: &str = "pause or resume the queue";
        if paused {
            self.change_settings(OP, &[("paused", "1".to_owned())], &[]).await
        } else {
            self.change_settings(OP, &[], &["paused"]).await
        }
    }

    async fn is_paused(&self) -> Result<bool, BackendError> {
        let (paused,): (Option<String>,) = self.settings("read whether the queue is paused", &["paused"]).await?;
        Ok(paused.is_some())
    }
}

impl<T, C> drover_core::GlobalConcurrency for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running(&self, max: Option<u32>) -> Result<(), BackendError> {
        const OP: &str = "set the queue's cap";
        match max {
            Some(n) => self.change_settings(OP, &[("max_running", n.max(1).to_string())], &[]).await,
            None => self.change_settings(OP, &[], &["max_running"]).await,
        }
    }

    async fn max_running(&self) -> Result<Option<u32>, BackendError> {
        let (max,): (Option<u32>,) = self.settings("read the queue's cap", &["max_running"]).await?;
        Ok(max)
    }
}

impl<T, C> drover_core::KeyConcurrency for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running_per_key(&self, k: Option<u32>) -> Result<(), BackendError> {
        const OP: &str = "set the queue's per-key limit";
        match k {
            Some(n) => self.change_settings(OP, &[("max_per_key", n.max(1).to_string())], &[]).await,
            None => self.change_settings(OP, &[], &["max_per_key"]).await,
        }
    }

    async fn max_running_per_key(&self) -> Result<Option<u32>, BackendError> {
        let (k,): (Option<u32>,) = self.settings("read the queue's per-key limit", &["max_per_key"]).await?;
        Ok(k)
    }
}

impl<T, C> drover_core::GlobalRate for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_rate(&self, rate: Option<drover_core::Rate>) -> Result<(), BackendError> {
        const OP: &str = "set the queue's rate";
        match rate {
            Some(rate) => {
                let per_ms = u64::try_from(rate.per.as_millis()).unwrap_or(u64::MAX).max(1);
                let fields = [
                    ("rate_n", rate.starts.max(1).to_string()),
                    ("rate_per", per_ms.to_string()),
                    ("rate_tat", "0".to_owned()),
                ];
                self.change_settings(OP, &fields, &[]).await
            }
            None => self.change_settings(OP, &[], &["rate_n", "rate_per", "rate_tat"]).await,
        }
    }

    async fn rate(&self) -> Result<Option<drover_core::Rate>, BackendError> {
        let (n, per): (Option<i64>, Option<i64>) =
            self.settings("read the queue's rate", &["rate_n", "rate_per"]).await?;
        Ok(drover_core::Rate::from_stored(n, per))
    }
}
