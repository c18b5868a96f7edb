//! `MemoryAdmin`: every queue of this process's memory, as [`Admin`](crate::Admin) operates
//! them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::admin::AdminBackend;
use crate::error::BackendError;
use crate::retention::Prune;
use crate::task::{Status, TaskId};

use super::MemoryStorage;

/// Every queue of this process's memory, one [`MemoryStorage`] per name, with every admin
/// operation: counts, searches, requeue, cancel, delete, run now, bulk actions, purge, push,
/// pause and limits. For tests, examples and boards over single-process programs; clones
/// share the queues.
///
/// ```
/// use drover_core::{Admin, AdminBackend, MemoryAdmin, PushOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), drover_core::BackendError> {
/// let admin = MemoryAdmin::new();
/// admin.push("email", b"{\"to\":\"a@example.com\"}".to_vec(), PushOptions::new()).await?;
/// assert_eq!(admin.queues().await?[0].stats.pending, 1);
/// let storage = admin.storage("email"); // the queue's MemoryStorage<()>, for workers
/// # let _ = storage;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryAdmin {
    queues: Arc<Mutex<BTreeMap<String, MemoryStorage<()>>>>,
    registry: crate::MemoryRegistry,
}

impl MemoryAdmin {
    /// No queue yet; [`AdminBackend::storage`] makes each on first use.
    pub fn new() -> Self {
        Self::default()
    }
}

impl AdminBackend for MemoryAdmin {
    type Storage = MemoryStorage<()>;

    fn name(&self) -> &'static str {
        "memory"
    }

    fn storage(&self, queue: &str) -> MemoryStorage<()> {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        queues
            .entry(queue.to_owned())
            .or_insert_with(|| MemoryStorage::named(queue).with_registry(self.registry.clone()))
            .clone()
    }

    fn registry(&self) -> Option<Arc<dyn crate::WorkerRegistry>> {
        Some(Arc::new(self.registry.clone()))
    }

    fn queue_names(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        let names = self.queues.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        Box::pin(async move { Ok(names) })
    }

    /// Memory has no schema.
    fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async { Ok(()) })
    }

    fn prune(
        &self,
        queue: &str,
        status: Status,
        older_than: Duration,
        limit: usize,
    ) -> BoxFuture<'_, Result<u64, BackendError>> {
        let storage = self.storage(queue);
        Box::pin(async move { storage.prune_batch(status, older_than, limit).await })
    }

    fn delete_task(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let storage = self.storage(queue);
        Box::pin(async move { Ok(storage.delete_task(id)) })
    }

    fn run_now(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let storage = self.storage(queue);
        Box::pin(async move { Ok(storage.run_now(id)) })
    }

    crate::admin_limits_from_storage!();
    crate::admin_key_limits_from_storage!();
}
