//! Retention: delete finished tasks older than the configured ages, in bounded batches.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use drover_core::{BackendError, Status};
use uuid::Uuid;

use crate::backend::micros;
use crate::error::db_error;
use crate::storage::PostgresStorage;

const PRUNE_SQL: &str = include_str!("../sql/prune.sql");

/// What one [`PostgresStorage::prune`] pass deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pruned {
    /// Done tasks deleted.
    pub done: u64,
    /// Dead tasks deleted.
    pub dead: u64,
    /// Cancelled tasks deleted.
    pub cancelled: u64,
}

impl Pruned {
    /// Tasks deleted in all.
    pub fn total(&self) -> u64 {
        self.done + self.dead + self.cancelled
    }
}

/// The smallest task id (ULID as uuid) made at `age` ago: every task created before then has a
/// smaller id.
fn id_cutoff(age: Duration) -> Uuid {
    let then = SystemTime::now().checked_sub(age).unwrap_or(UNIX_EPOCH);
    let ms = then.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Uuid::from_u128((ms & 0xFFFF_FFFF_FFFF) << 80)
}

impl<T, C> PostgresStorage<T, C> {
    /// One retention pass over this queue: delete done, dead and cancelled tasks that finished
    /// longer ago than their configured age, in statements of at most `Retention::batch`
    /// rows (each its own short transaction), until none are left.
    pub async fn prune(&self) -> Result<Pruned, BackendError> {
        let retention = self.inner.config.retention().clone();
        let mut pruned = Pruned::default();
        for (status, age) in
            [(Status::Done, retention.done), (Status::Dead, retention.dead), (Status::Cancelled, retention.cancelled)]
        {
            let Some(age) = age else { continue };
            let batch = i64::try_from(retention.batch.max(1)).unwrap_or(i64::MAX);
            loop {
                let deleted = sqlx::query(PRUNE_SQL)
                    .bind(self.queue_name())
                    .bind(status.as_str())
                    .bind(id_cutoff(age))
                    .bind(micros(age))
                    .bind(batch)
                    .execute(&self.inner.pool)
                    .await
                    .map_err(|e| db_error("prune", e))?
                    .rows_affected();
                match status {
                    Status::Done => pruned.done += deleted,
                    Status::Dead => pruned.dead += deleted,
                    _ => pruned.cancelled += deleted,
                }
                if deleted < u64::try_from(batch).unwrap_or(u64::MAX) {
                    break;
                }
            }
        }
        Ok(pruned)
    }

    /// Prune every `Retention::interval`, forever: spawn it once per queue, beside the
    /// workers (`tokio::spawn(storage.clone().run_retention())`). A failed pass is logged and
    /// tried again at the next tick, so a database restart does not stop it.
    pub async fn run_retention(self) {
        let mut ticks = tokio::time::interval(self.inner.config.retention().interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.prune().await {
                Ok(pruned) if pruned.total() > 0 => {
                    tracing::debug!(queue = self.queue_name(), ?pruned, "drover-postgres: pruned finished tasks");
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(queue = self.queue_name(), %error, "drover-postgres: pruning failed; trying again later");
                }
            }
        }
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
