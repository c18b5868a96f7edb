//! Embedded, versioned migrations into the `drover` schema.
//!
//! [`setup`] runs in one transaction under a transaction-scoped advisory lock, so several
//! processes starting at once apply each migration exactly once (the others wait, then find
//! it applied), and a failed migration leaves nothing half-done. Applied migrations are
//! recorded in `drover.schema_migrations` with a checksum; an edited migration is refused.
//!
//! Every statement is unnamed (`persistent(false)`) and inside that one transaction, so the
//! set-up also runs through a pooler in transaction mode (PgBouncer): nothing of it outlives
//! the transaction, and the transaction keeps one server connection. A set-up runs once per
//! start, so the statements it does not cache cost nothing that matters.

use drover_core::BackendError;
use drover_sqlx::migrate::{self, Applied, BoxFuture, Migration, MigrationStore};
use sqlx::{Executor, PgPool, Postgres, Transaction};

use crate::error::db_error;

/// Every migration, in order. Never edit one that shipped; add a new one.
const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "tasks", sql: include_str!("../migrations/0001_tasks.sql") },
    Migration { version: 2, name: "push_job", sql: include_str!("../migrations/0002_push_job.sql") },
    Migration { version: 3, name: "finished_index", sql: include_str!("../migrations/0003_finished_index.sql") },
    Migration { version: 4, name: "cron_ticks", sql: include_str!("../migrations/0004_cron_ticks.sql") },
    Migration { version: 5, name: "queue_settings", sql: include_str!("../migrations/0005_queue_settings.sql") },
    Migration { version: 6, name: "max_running", sql: include_str!("../migrations/0006_max_running.sql") },
    Migration { version: 7, name: "rate", sql: include_str!("../migrations/0007_rate.sql") },
    Migration { version: 8, name: "concurrency_key", sql: include_str!("../migrations/0008_concurrency_key.sql") },
    Migration { version: 9, name: "running_key_index", sql: include_str!("../migrations/0009_running_key_index.sql") },
    Migration { version: 10, name: "attempts", sql: include_str!("../migrations/0010_attempts.sql") },
    Migration { version: 11, name: "workers", sql: include_str!("../migrations/0011_workers.sql") },
    Migration { version: 12, name: "key_lease_index", sql: include_str!("../migrations/0012_key_lease_index.sql") },
];

/// The advisory lock key ("drover" in ASCII) that serializes concurrent set-ups.
const MIGRATION_LOCK: i64 = 0x0064_726f_7665_7201;

const PREPARE: &str = "CREATE SCHEMA IF NOT EXISTS drover;
CREATE TABLE IF NOT EXISTS drover.schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   bigint      NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);";

const OP: &str = "setup (running migrations)";

/// The newest schema version this crate knows.
pub(crate) fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| i32::try_from(m.version).unwrap_or(i32::MAX))
}

/// Apply every migration not applied yet, in one transaction under a transaction-scoped
/// advisory lock: several processes starting at once apply each migration exactly once (the
/// others wait, then find it applied), and a failed migration leaves nothing half-done.
/// Boxed so that callers' futures stay `Send`.
pub(crate) fn setup(pool: &PgPool) -> futures_util::future::BoxFuture<'_, Result<(), BackendError>> {
    Box::pin(async move {
        let mut store = Store { pool, tx: None };
        migrate::run(&mut store, "drover-postgres", MIGRATIONS).await
    })
}

/// The set-up's transaction.
struct Store<'p> {
    pool: &'p PgPool,
    tx: Option<Transaction<'static, Postgres>>,
}

impl Store<'_> {
    fn tx(&mut self) -> Result<&mut Transaction<'static, Postgres>, BackendError> {
        self.tx.as_mut().ok_or_else(|| BackendError::Corrupt("the migration transaction is not open".into()))
    }
}

impl MigrationStore for Store<'_> {
    fn begin(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await.map_err(|e| db_error(OP, e))?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(MIGRATION_LOCK)
                .persistent(false)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error(OP, e))?;
            // A plain string runs through the simple query protocol: several statements at once.
            (&mut *tx).execute(PREPARE).await.map_err(|e| db_error(OP, e))?;
            self.tx = Some(tx);
            Ok(())
        })
    }

    fn applied(&mut self) -> BoxFuture<'_, Vec<Applied>> {
        Box::pin(async move {
            let rows: Vec<(i32, i64)> = sqlx::query_as("SELECT version, checksum FROM drover.schema_migrations")
                .persistent(false)
                .fetch_all(&mut **self.tx()?)
                .await
                .map_err(|e| db_error(OP, e))?;
            Ok(rows
                .into_iter()
                .map(|(version, sum)| Applied { version: i64::from(version), checksum: Some(sum) })
                .collect())
        })
    }

    fn apply<'a>(&'a mut self, migration: &'a Migration, checksum: i64) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let tx = self.tx()?;
            (&mut **tx).execute(migration.sql).await.map_err(|e| {
                BackendError::server(OP, format!("migration {} ({}) failed: {e}", migration.version, migration.name))
            })?;
            sqlx::query("INSERT INTO drover.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)")
                .bind(i32::try_from(migration.version).unwrap_or(i32::MAX))
                .bind(migration.name)
                .bind(checksum)
                .persistent(false)
                .execute(&mut **tx)
                .await
                .map_err(|e| db_error(OP, e))?;
            Ok(())
        })
    }

    fn record_checksum(&mut self, _version: i64, _checksum: i64) -> BoxFuture<'_, ()> {
        // PostgreSQL has recorded checksums from the start.
        Box::pin(async { Ok(()) })
    }

    fn finish(&mut self, ok: bool) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match (self.tx.take(), ok) {
                (Some(tx), true) => tx.commit().await.map_err(|e| db_error(OP, e)),
                (Some(tx), false) => tx.rollback().await.map_err(|e| db_error(OP, e)),
                (None, _) => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_by_one() {
        assert!(migrate::versions_are_consecutive(MIGRATIONS));
        assert_eq!(latest_version(), i32::try_from(MIGRATIONS.len()).unwrap_or(0), "versions run 1..=n");
    }
}
