//! Retention: deleting finished tasks after their keep time, in bounded batches.

use std::time::Duration;

use drover_core::{BackendError, Status};

use crate::columns::micros;
use crate::error::retry_on_lock_conflict;
use crate::storage::MysqlStorage;

/// One bounded batch of one status, oldest ids first (index `drover_tasks_status_id`), so a
/// prune never holds many row locks or a long transaction.
const PRUNE_BATCH: &str = "DELETE FROM drover_tasks
  WHERE queue = ? AND status = ? AND updated_at < UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND
  ORDER BY id LIMIT ?";

impl<T, C> MysqlStorage<T, C> {
    /// Delete this queue's finished tasks older than the configured
    /// [`Retention`](crate::Retention) (by the time they last changed), a batch at a time.
    /// Returns how many were deleted. Call it from a timer (every few minutes, say) in one
    /// process or many: concurrent prunes only delete the same rows once.
    ///
    /// ```no_run
    /// # async fn run(storage: drover_mysql::MysqlStorage<String>) -> Result<(), drover_core::BackendError> {
    /// let mut every = tokio::time::interval(std::time::Duration::from_secs(300));
    /// loop {
    ///     every.tick().await;
    ///     let deleted = storage.prune().await?;
    ///     tracing::info!(deleted, "pruned finished tasks");
    /// }
    /// # }
    /// ```
    pub async fn prune(&self) -> Result<u64, BackendError> {
        let retention = self.config().retention().clone();
        let mut deleted = 0;
        for (status, age) in
            [(Status::Done, retention.done), (Status::Dead, retention.dead), (Status::Cancelled, retention.cancelled)]
        {
            if let Some(age) = age {
                deleted += self.prune_status(status, age, retention.batch).await?;
            }
        }
        Ok(deleted)
    }

    /// Delete tasks with `status` unchanged for longer than `older_than`, `batch` rows per
    /// statement. Returns how many were deleted.
    pub async fn prune_status(&self, status: Status, older_than: Duration, batch: usize) -> Result<u64, BackendError> {
        if !status.is_final() {
            return Err(BackendError::Unsupported(format!(
                "prune deletes finished tasks only (done, dead, cancelled), not {status} ones"
            )));
        }
        let batch = batch.max(1);
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let mut deleted = 0;
        loop {
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
            deleted += done.rows_affected();
            if done.rows_affected() < batch as u64 {
                return Ok(deleted);
            }
        }
    }
}
