//! Retention: delete finished tasks older than the configured ages, in bounded batches.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use drover_core::{BackendError, Codec, Prune, Pruned, RetentionService, Status};
use uuid::Uuid;

use crate::backend::micros;
use crate::db::run;
use crate::error::db_error;
use crate::storage::PostgresStorage;

const PRUNE_SQL: &str = include_str!("../sql/prune.sql");

/// The smallest task id (ULID as uuid) made at `age` ago: every task created before then has a
/// smaller id.
fn id_cutoff(age: Duration) -> Uuid {
    let then = SystemTime::now().checked_sub(age).unwrap_or(UNIX_EPOCH);
    let ms = then.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Uuid::from_u128((ms & 0xFFFF_FFFF_FFFF) << 80)
}

impl<T, C> Prune for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn delete_finished(&self, status: Status, older_than: Duration, limit: usize) -> Result<u64, BackendError> {
        let deleted = run!(
            &self.inner.db,
            execute,
            sqlx::query(PRUNE_SQL)
                .bind(self.queue_name())
                .bind(status.as_str())
                .bind(id_cutoff(older_than))
                .bind(micros(older_than))
                .bind(i64::try_from(limit.max(1)).unwrap_or(i64::MAX))
        )
        .map_err(|e| db_error("prune", e))?
        .rows_affected();
        Ok(deleted)
    }
}

impl<T: Send + 'static, C: Codec<T>> PostgresStorage<T, C> {
    /// One retention pass over this queue with the configured [`Retention`](crate::Retention):
    /// delete done, dead and cancelled tasks that finished longer ago than their age, in
    /// statements of at most `Retention::batch` rows (each its own short transaction).
    pub async fn prune(&self) -> Result<Pruned, BackendError> {
        RetentionService::new(self.clone(), self.inner.config.retention().clone()).run_once().await
    }

    /// Prune every `Retention::interval`, forever: spawn it once per queue, beside the
    /// workers (`tokio::spawn(storage.clone().run_retention())`). A failed pass is logged and
    /// tried again at the next tick, so a database restart does not stop it.
    pub async fn run_retention(self) {
        let retention = self.inner.config.retention().clone();
        RetentionService::new(self, retention).run_forever().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_is_below_ids_made_now() {
        let now = drover_core::TaskId::new();
        let cutoff = id_cutoff(Duration::from_secs(1));
        assert!(cutoff.as_u128() < now.to_u128());
        assert!(id_cutoff(Duration::ZERO).as_u128() <= drover_core::TaskId::new().to_u128());
    }
}
