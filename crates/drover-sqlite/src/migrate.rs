//! Embedded, versioned migrations, recorded in their own table (`drover_migrations`) so they
//! never mix with an application's own sqlx migrations in the same file. The runner is the one
//! every SQL backend shares (`drover_sqlx::migrate`): checksums, a database newer than the code
//! refused; here the lock is SQLite's own write lock (`BEGIN IMMEDIATE`), so two processes
//! setting up the same file at once apply each migration exactly once.

use drover_core::BackendError;
use drover_sqlx::migrate::{self, Applied, BoxFuture, Migration, MigrationStore};
use sqlx::sqlite::{SqliteArguments, SqlitePool};
use sqlx::{Row, Sqlite, Transaction};

use crate::batch::{execute_on, fetch_all_on};
use crate::codec::now_millis;
use crate::error::sql;
use crate::storage::add;

/// Every migration, in order. Append only: a released migration never changes.
const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "tasks", sql: include_str!("../migrations/0001_tasks.sql") },
    Migration { version: 2, name: "cron_ticks", sql: include_str!("../migrations/0002_cron_ticks.sql") },
    Migration { version: 3, name: "queue_settings", sql: include_str!("../migrations/0003_queue_settings.sql") },
    Migration { version: 4, name: "limits", sql: include_str!("../migrations/0004_limits.sql") },
    Migration { version: 5, name: "concurrency_key", sql: include_str!("../migrations/0005_concurrency_key.sql") },
    Migration { version: 6, name: "attempts", sql: include_str!("../migrations/0006_attempts.sql") },
    Migration { version: 7, name: "workers", sql: include_str!("../migrations/0007_workers.sql") },
];

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS drover_migrations (
    version     INTEGER NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL,
    checksum    INTEGER
)";

const OP: &str = "setting up the drover tables (migrations)";

/// Apply the migrations `pool`'s database lacks, all in one immediate transaction.
pub(crate) async fn run(pool: &SqlitePool) -> Result<(), BackendError> {
    let mut store = Store { pool, tx: None };
    migrate::run(&mut store, "drover-sqlite", MIGRATIONS).await
}

/// The set-up's transaction.
struct Store<'p> {
    pool: &'p SqlitePool,
    tx: Option<Transaction<'static, Sqlite>>,
}

impl Store<'_> {
    fn tx(&mut self) -> Result<&mut Transaction<'static, Sqlite>, BackendError> {
        self.tx.as_mut().ok_or_else(|| BackendError::Corrupt("the migration transaction is not open".into()))
    }
}

impl MigrationStore for Store<'_> {
    fn begin(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.tx = Some(self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| sql(OP, e))?);
            let tx = self.tx()?;
            execute_on(tx, CREATE_MIGRATIONS_TABLE, SqliteArguments::default()).await.map_err(|e| sql(OP, e))?;
            // Tables made before checksums were recorded lack the column.
            let columns = fetch_all_on(tx, "PRAGMA table_info(drover_migrations)", SqliteArguments::default())
                .await
                .map_err(|e| sql(OP, e))?;
            let has_checksum =
                columns.iter().any(|row| row.try_get::<String, _>("name").is_ok_and(|n| n == "checksum"));
            if !has_checksum {
                execute_on(tx, "ALTER TABLE drover_migrations ADD COLUMN checksum INTEGER", SqliteArguments::default())
                    .await
                    .map_err(|e| sql(OP, e))?;
            }
            Ok(())
        })
    }

    fn applied(&mut self) -> BoxFuture<'_, Vec<Applied>> {
        Box::pin(async move {
            let rows =
                fetch_all_on(self.tx()?, "SELECT version, checksum FROM drover_migrations", SqliteArguments::default())
                    .await
                    .map_err(|e| sql(OP, e))?;
            rows.iter()
                .map(|row| Ok(Applied { version: row.try_get(0)?, checksum: row.try_get(1)? }))
                .collect::<Result<_, sqlx::Error>>()
                .map_err(|e| sql(OP, e))
        })
    }

    fn apply<'a>(&'a mut self, migration: &'a Migration, checksum: i64) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let tx = self.tx()?;
            // SQLite runs every statement of a query text in turn.
            execute_on(tx, migration.sql, SqliteArguments::default()).await.map_err(|e| sql(OP, e))?;
            let mut args = SqliteArguments::default();
            add(&mut args, migration.version, OP)?;
            add(&mut args, migration.name, OP)?;
            add(&mut args, now_millis(), OP)?;
            add(&mut args, checksum, OP)?;
            let record =
                "INSERT INTO drover_migrations (version, description, applied_at, checksum) VALUES (?1, ?2, ?3, ?4)";
            execute_on(tx, record, args).await.map_err(|e| sql(OP, e))?;
            Ok(())
        })
    }

    fn record_checksum(&mut self, version: i64, checksum: i64) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut args = SqliteArguments::default();
            add(&mut args, checksum, OP)?;
            add(&mut args, version, OP)?;
            execute_on(self.tx()?, "UPDATE drover_migrations SET checksum = ?1 WHERE version = ?2", args)
                .await
                .map_err(|e| sql(OP, e))?;
            Ok(())
        })
    }

    fn finish(&mut self, ok: bool) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match (self.tx.take(), ok) {
                (Some(tx), true) => tx.commit().await.map_err(|e| sql(OP, e)),
                (Some(tx), false) => tx.rollback().await.map_err(|e| sql(OP, e)),
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
    }
}
