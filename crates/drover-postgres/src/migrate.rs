//! Embedded, versioned migrations into the `drover` schema.
//!
//! [`setup`] runs in one transaction under a transaction-scoped advisory lock, so several
//! processes starting at once apply each migration exactly once (the others wait, then find
//! it applied), and a failed migration leaves nothing half-done. Applied migrations are
//! recorded in `drover.schema_migrations` with a checksum; an edited migration is refused.

use futures_util::future::BoxFuture;
use sqlx::{Executor, PgPool};

use crate::error::db_error;
use drover_core::BackendError;

/// One migration: a version, a name and its SQL.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order. Never edit one that shipped; add a new one.
const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "tasks", sql: include_str!("../migrations/0001_tasks.sql") },
    Migration { version: 2, name: "push_job", sql: include_str!("../migrations/0002_push_job.sql") },
    Migration { version: 3, name: "finished_index", sql: include_str!("../migrations/0003_finished_index.sql") },
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

/// The newest schema version this crate knows.
pub(crate) fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Apply every migration not applied yet. Boxed so that callers' futures stay `Send` (the
/// transaction's executor otherwise trips the compiler's higher-ranked `Send` check).
pub(crate) fn setup(pool: &PgPool) -> BoxFuture<'_, Result<(), BackendError>> {
    Box::pin(run(pool))
}

async fn run(pool: &PgPool) -> Result<(), BackendError> {
    const OP: &str = "setup (running migrations)";
    let mut tx = pool.begin().await.map_err(|e| db_error(OP, e))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error(OP, e))?;
    // A plain string runs through the simple query protocol: several statements at once.
    (&mut *tx).execute(PREPARE).await.map_err(|e| db_error(OP, e))?;
    let applied: Vec<(i32, i64)> = sqlx::query_as("SELECT version, checksum FROM drover.schema_migrations")
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db_error(OP, e))?;
    for migration in MIGRATIONS {
        let checksum = checksum(migration.sql);
        if let Some((_, recorded)) = applied.iter().find(|(v, _)| *v == migration.version) {
            if *recorded != checksum {
                return Err(BackendError::Schema(format!(
                    "drover migration {} ({}) differs from the one applied to this database; \
                     migrations must never change once applied (is an older or patched drover-postgres running?)",
                    migration.version, migration.name
                )));
            }
            continue;
        }
        (&mut *tx).execute(migration.sql).await.map_err(|e| {
            BackendError::server(OP, format!("migration {} ({}) failed: {e}", migration.version, migration.name))
        })?;
        sqlx::query("INSERT INTO drover.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(checksum)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error(OP, e))?;
        tracing::info!(version = migration.version, name = migration.name, "applied drover migration");
    }
    tx.commit().await.map_err(|e| db_error(OP, e))
}

/// FNV-1a over the migration text: enough to notice an edited migration.
fn checksum(sql: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_by_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i32::try_from(i).unwrap_or(0) + 1, "{}", m.name);
        }
        assert_eq!(latest_version(), 3);
    }

    #[test]
    fn checksums_differ() {
        assert_ne!(checksum("a"), checksum("b"));
        assert_eq!(checksum("abc"), checksum("abc"));
    }
}
