//! `RedisAdmin`: every queue of a server, for the `drover` tool and the board.

use std::sync::LazyLock;

use drover_core::{AdminBackend, BackendError, TaskId, WorkerSummary};
use futures_util::future::BoxFuture;
use redis::Script;

use crate::{RedisConfig, RedisConnection, RedisStorage};

/// Delete a task unless it is running (`scripts/admin_delete.lua`).
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(include_str!("../scripts/common.lua"), include_str!("../scripts/admin_delete.lua")))
});

/// Make a pending task due now (`scripts/admin_run_now.lua`).
static RUN_NOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(include_str!("../scripts/common.lua"), include_str!("../scripts/admin_run_now.lua")))
});

/// Every queue (namespace) of a Redis server, as [`drover_core::Admin`] operates them: counts,
/// searches (the contract's default: the newest 10,000 tasks of the status, filtered),
/// requeue, cancel, delete, run now, bulk actions by filter, push, limits, workers. Finished
/// tasks are bounded by their time-to-live and cap ([`RedisConfig`]), not purged on demand.
#[derive(Clone, Debug)]
pub struct RedisAdmin {
    conn: RedisConnection,
}

impl RedisAdmin {
    /// Operate the queues on `conn`'s server.
    pub fn new(conn: impl Into<RedisConnection>) -> Self {
        Self { conn: conn.into() }
    }
}

impl AdminBackend for RedisAdmin {
    type Storage = RedisStorage<()>;

    fn name(&self) -> &'static str {
        "redis"
    }

    fn storage(&self, queue: &str) -> Self::Storage {
        RedisStorage::new_with_config(self.conn.clone(), RedisConfig::default().set_namespace(queue))
    }

    fn queue_names(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async move {
            let any = self.storage("drover");
            let (mut cursor, mut names) = any.queues(0).await?;
            while cursor != 0 {
                let (next, more) = any.queues(cursor).await?;
                names.extend(more);
                cursor = next;
            }
            Ok(names)
        })
    }

    /// Redis has no schema.
    fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async { Ok(()) })
    }

    fn registry(&self) -> Option<std::sync::Arc<dyn drover_core::WorkerRegistry>> {
        Some(std::sync::Arc::new(crate::registry::RedisRegistry::new(self.conn.clone())))
    }

    fn queue_workers(&self, queue: &str) -> BoxFuture<'_, Result<Vec<WorkerSummary>, BackendError>> {
        let storage = self.storage(queue);
        let queue = queue.to_owned();
        Box::pin(async move {
            Ok(storage
                .workers()
                .await?
                .into_iter()
                .map(|w| WorkerSummary::new(w.name, queue.as_str(), None, w.last_claim))
                .collect())
        })
    }

    fn delete_task(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let storage = self.storage(queue);
        Box::pin(async move {
            let n: i64 = storage
                .run("delete a task", &DELETE, |inv| {
                    inv.arg(id.to_string());
                })
                .await?;
            Ok(n == 1)
        })
    }

    fn run_now(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let storage = self.storage(queue);
        Box::pin(async move {
            let n: i64 = storage
                .run("make a task due now", &RUN_NOW, |inv| {
                    inv.arg(id.to_string());
                })
                .await?;
            if n == 1 {
                storage.shared.wakeup.notify();
            }
            Ok(n == 1)
        })
    }

    drover_core::admin_limits_from_storage!();
    drover_core::admin_key_limits_from_storage!();
}
