//! A queue's limits across every worker ([`GlobalConcurrency`], [`GlobalRate`],
//! [`KeyConcurrency`]), kept in its `drover_queue_settings` row and enforced by the claim (see
//! `claim.rs`).

use drover_core::{BackendError, Codec, GlobalConcurrency, GlobalRate, KeyConcurrency, Rate};

use crate::error::backend_error;
use crate::MysqlStorage;

/// Set the cap; the row is created if the queue has none.
const SET_MAX_RUNNING: &str = "INSERT INTO drover_queue_settings (queue, max_running, updated_at) \
     VALUES (?, ?, UTC_TIMESTAMP(6)) \
     ON DUPLICATE KEY UPDATE max_running = VALUES(max_running), updated_at = VALUES(updated_at)";

/// Set the per-key limit.
const SET_MAX_PER_KEY: &str = "INSERT INTO drover_queue_settings (queue, max_per_key, updated_at) \
     VALUES (?, ?, UTC_TIMESTAMP(6)) \
     ON DUPLICATE KEY UPDATE max_per_key = VALUES(max_per_key), updated_at = VALUES(updated_at)";

/// Set the rate; a changed rate starts from a clean arrival time.
const SET_RATE: &str = "INSERT INTO drover_queue_settings (queue, rate_starts, rate_per_ms, rate_tat, updated_at) \
     VALUES (?, ?, ?, 0, UTC_TIMESTAMP(6)) \
     ON DUPLICATE KEY UPDATE rate_starts = VALUES(rate_starts), rate_per_ms = VALUES(rate_per_ms), \
     rate_tat = 0, updated_at = VALUES(updated_at)";

impl<T, C> GlobalConcurrency for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running(&self, max: Option<u32>) -> Result<(), BackendError> {
        self.check()?;
        // The column is a signed INT: caps beyond it are as good as none.
        let max = max.map(|n| i32::try_from(n.max(1)).unwrap_or(i32::MAX));
        sqlx::query(SET_MAX_RUNNING)
            .bind(self.queue_name())
            .bind(max)
            .execute(self.pool())
            .await
            .map_err(|e| backend_error("set the queue's cap on running tasks", e))?;
        // Claims notice the change on their own; idle workers here try at once (a raised cap).
        self.shared.wakeup.notify();
        Ok(())
    }

    async fn max_running(&self) -> Result<Option<u32>, BackendError> {
        let max: Option<Option<i32>> =
            sqlx::query_scalar("SELECT max_running FROM drover_queue_settings WHERE queue = ?")
                .bind(self.queue_name())
                .fetch_optional(self.pool())
                .await
                .map_err(|e| backend_error("read the queue's cap on running tasks", e))?;
        Ok(max.flatten().and_then(|n| u32::try_from(n).ok()))
    }
}

impl<T, C> GlobalRate for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_rate(&self, rate: Option<Rate>) -> Result<(), BackendError> {
        self.check()?;
        let starts = rate.map(|r| i32::try_from(r.starts.max(1)).unwrap_or(i32::MAX));
        let per_ms = rate.map(|r| i64::try_from(r.per.as_millis()).unwrap_or(i64::MAX).max(1));
        sqlx::query(SET_RATE)
            .bind(self.queue_name())
            .bind(starts)
            .bind(per_ms)
            .execute(self.pool())
            .await
            .map_err(|e| backend_error("set the queue's rate of starts", e))?;
        self.shared.wakeup.notify();
        Ok(())
    }

    async fn rate(&self) -> Result<Option<Rate>, BackendError> {
        let row: Option<(Option<i32>, Option<i64>)> =
            sqlx::query_as("SELECT rate_starts, rate_per_ms FROM drover_queue_settings WHERE queue = ?")
                .bind(self.queue_name())
                .fetch_optional(self.pool())
                .await
                .map_err(|e| backend_error("read the queue's rate of starts", e))?;
        Ok(row.and_then(|(starts, per_ms)| Rate::from_stored(starts.map(i64::from), per_ms)))
    }
}

impl<T, C> KeyConcurrency for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn set_max_running_per_key(&self, k: Option<u32>) -> Result<(), BackendError> {
        self.check()?;
        let k = k.map(|n| i32::try_from(n.max(1)).unwrap_or(i32::MAX));
        sqlx::query(SET_MAX_PER_KEY)
            .bind(self.queue_name())
            .bind(k)
            .execute(self.pool())
            .await
            .map_err(|e| backend_error("set the queue's per-key limit", e))?;
        // A raised or removed limit frees tasks at once: idle workers here try again.
        self.shared.wakeup.notify();
        Ok(())
    }

    async fn max_running_per_key(&self) -> Result<Option<u32>, BackendError> {
        let k: Option<Option<i32>> =
            sqlx::query_scalar("SELECT max_per_key FROM drover_queue_settings WHERE queue = ?")
                .bind(self.queue_name())
                .fetch_optional(self.pool())
                .await
                .map_err(|e| backend_error("read the queue's per-key limit", e))?;
        Ok(k.flatten().and_then(|n| u32::try_from(n).ok()))
    }
}
