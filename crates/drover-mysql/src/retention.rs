//! Retention: deleting finished tasks after their keep time, in bounded batches.

use std::time::Duration;

use drover_core::{BackendError, Codec, Prune, Pruned, RetentionService, Status};

use crate::columns::micros;
use crate::error::retry_on_lock_conflict;
use crate::storage::MysqlStorage;

/// One bounded batch of one status, oldest ids first (index `drover_tasks_status_id`), so a
/// prune never holds many row locks or a long transaction.
const PRUNE_BATCH: &str = "DELETE FROM drover_tasks
  WHERE queue = ? AND status = ? AND updated_at < UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND
  ORDER BY id LIMIT ?";

impl<T, C> Prune for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn delete_finished(&self, status: Status, older_than: Duration, limit: usize) -> Result<u64, BackendError> {
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let done = retry_on_lock_conflict("prune", || {
            Box::pin(
                sqlx::query(PRUNE_BATCH)
                    .bind(self.queue_name())
                    .bind(status.as_str())
                    .bind(micros(older_than))
                    .bind(limit)
                    .execute(self.pool()),
            )
        })
        .await?;
        Ok(done.rows_affected())
    }
}

impl<T: Send + 'static, C: Codec<T>> MysqlStorage<T, C> {
    /// Delete this queue's finished tasks older than the configured
    /// [`Retention`](crate::Retention) (by the time they last changed), a batch at a time.
    /// Call it from a timer in one process or many (concurrent prunes delete each row once),
    /// or run [`RetentionService::run_forever`](drover_core::RetentionService::run_forever).
    ///
    /// ```no_run
    /// # async fn run(storage: drover_mysql::MysqlStorage<String>) -> Result<(), drover_core::BackendError> {
    /// let pruned = storage.prune().await?;
    /// tracing::info!(deleted = pruned.total(), "pruned finished tasks");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn prune(&self) -> Result<Pruned, BackendError> {
        RetentionService::new(self.clone(), self.config().retention().clone()).run_once().await
    }
}
