//! Worker self-registration (see [`drover_core::WorkerRegistry`]): each worker's record as JSON
//! in the hash `drover:{registry}:workers`, its last sighting (the server's `TIME`, in ms) in
//! the sorted set `drover:{registry}:seen`. Both keys share a hash tag, so each script touches
//! one Cluster slot.

use std::time::Duration;

use drover_core::{BackendError, WorkerRecord, WorkerRegistry};
use futures_util::future::BoxFuture;

use crate::connection::{backend_error, RedisConnection};

const WORKERS_KEY: &str = "drover:{registry}:workers";
const SEEN_KEY: &str = "drover:{registry}:seen";

/// The server's time in ms.
const NOW: &str =
    "local t = redis.call('TIME')\nlocal now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n";

/// Register or refresh worker ARGV[1] with its record ARGV[2], seen now.
const BEAT: &str = "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\nredis.call('ZADD', KEYS[2], now, ARGV[1])\nreturn 1";

/// Drop workers not seen within ARGV[1] ms, then return the others' records, each followed by
/// its last sighting.
const LIST: &str = "local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - tonumber(ARGV[1])))
for i = 1, #dead, 500 do
  local chunk = {unpack(dead, i, math.min(i + 499, #dead))}
  redis.call('HDEL', KEYS[1], unpack(chunk))
  redis.call('ZREM', KEYS[2], unpack(chunk))
end
local out = {}
local live = redis.call('ZRANGEBYSCORE', KEYS[2], now - tonumber(ARGV[1]), '+inf', 'WITHSCORES')
for i = 1, #live, 2 do
  local record = redis.call('HGET', KEYS[1], live[i])
  if record then
    out[#out + 1] = record
    out[#out + 1] = live[i + 1]
  end
end
return out";

/// The workers of a Redis server: what `RedisStorage` and `RedisAdmin` hand out.
#[derive(Clone)]
pub(crate) struct RedisRegistry {
    conn: RedisConnection,
}

impl RedisRegistry {
    pub(crate) fn new(conn: RedisConnection) -> Self {
        Self { conn }
    }
}

impl WorkerRegistry for RedisRegistry {
    fn beat<'a>(&'a self, worker: &'a WorkerRecord) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let _: i64 = redis::Script::new(&format!("{NOW}{BEAT}"))
                .key(WORKERS_KEY)
                .key(SEEN_KEY)
                .arg(&worker.id)
                .arg(worker.to_json())
                .invoke_async(&mut conn)
                .await
                .map_err(|e| backend_error("register worker", e))?;
            Ok(())
        })
    }

    fn leave<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let _: () = redis::pipe()
                .atomic()
                .hdel(WORKERS_KEY, id)
                .ignore()
                .zrem(SEEN_KEY, id)
                .ignore()
                .query_async(&mut conn)
                .await
                .map_err(|e| backend_error("deregister worker", e))?;
            Ok(())
        })
    }

    fn workers(&self, age_out: Duration) -> BoxFuture<'_, Result<Vec<WorkerRecord>, BackendError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let age = i64::try_from(age_out.as_millis()).unwrap_or(i64::MAX / 2);
            let reply: Vec<(Vec<u8>, f64)> = redis::Script::new(&format!("{NOW}{LIST}"))
                .key(WORKERS_KEY)
                .key(SEEN_KEY)
                .arg(age)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| backend_error("list workers", e))?;
            let mut workers = reply
                .into_iter()
                .map(|(json, seen)| {
                    let mut record = WorkerRecord::from_json(&json)?;
                    if let Some(at) = chrono::DateTime::from_timestamp_millis(seen as i64) {
                        record.last_seen = at;
                    }
                    Ok(record)
                })
                .collect::<Result<Vec<_>, BackendError>>()?;
            workers.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
            Ok(workers)
        })
    }
}
