//! Embedded, versioned migrations, recorded in their own table (`drover_migrations`) so they
//! never mix with an application's own sqlx migrations in the same file.

use drover_core::BackendError;
use sqlx::sqlite::{SqliteArguments, SqlitePool};
use sqlx::Row;

use crate::batch::{execute_on, fetch_all_on};
use crate::codec::now_millis;
use crate::error::sql;
use crate::storage::add;

/// One schema change.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

/// Every migration, in order. Append only: a released migration never changes.
const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, description: "tasks", sql: include_str!("../migrations/0001_tasks.sql") }];

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS drover_migrations (
    version     INTEGER NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL
)";

/// Apply the migrations `pool`'s database lacks, all in one immediate transaction, so two
/// processes setting up the same file at once apply each migration exactly once.
pub(crate) async fn run(pool: &SqlitePool) -> Result<(), BackendError> {
    const OP: &str = "setting up the drover tables (migrations)";
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| sql(OP, e))?;
    execute_on(&mut tx, CREATE_MIGRATIONS_TABLE, SqliteArguments::default()).await.map_err(|e| sql(OP, e))?;
    let rows =
        fetch_all_on(&mut tx, "SELECT COALESCE(MAX(version), 0) FROM drover_migrations", SqliteArguments::default())
            .await
            .map_err(|e| sql(OP, e))?;
    let applied: i64 = match rows.first() {
        Some(row) => row.try_get(0).map_err(|e| sql(OP, e))?,
        None => 0,
    };
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if applied > known {
        return Err(BackendError::Schema(format!(
            "the database is at drover-sqlite schema version {applied}, newer than this build knows \
             ({known}); upgrade drover-sqlite"
        )));
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > applied) {
        // SQLite runs every statement of a query text in turn.
        execute_on(&mut tx, migration.sql, SqliteArguments::default()).await.map_err(|e| sql(OP, e))?;
        let mut args = SqliteArguments::default();
        add(&mut args, migration.version, OP)?;
        add(&mut args, migration.description, OP)?;
        add(&mut args, now_millis(), OP)?;
        execute_on(
            &mut tx,
            "INSERT INTO drover_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
            args,
        )
        .await
        .map_err(|e| sql(OP, e))?;
    }
    tx.commit().await.map_err(|e| sql(OP, e))
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn versions_increase_by_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "migration {} is out of order", m.description);
        }
    }
}
