//! Embedded, versioned migrations, safe to run from many processes at once.
//!
//! Drover keeps its own migration table (`drover_migrations`) instead of sqlx's
//! `_sqlx_migrations`, so an application that runs its own sqlx migrations on the same
//! database never sees Drover's versions as unknown ones.

use std::future::Future;
use std::pin::Pin;

use drover_core::BackendError;
use sqlx::{Executor, MySqlConnection, MySqlPool, Row};

use crate::error::backend_error;

/// One migration: a version, what it does, and its SQL (statements ending a line with `;`).
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

/// Every migration, in order. Never edit one that has shipped: add a new one.
const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, description: "tasks", sql: include_str!("../migrations/0001_tasks.sql") }];

/// The advisory lock that serializes `setup` across processes (`GET_LOCK` works on MySQL and
/// MariaDB alike and is released when its session ends, even if a process dies mid-way).
const LOCK_NAME: &str = "drover_migrations";

/// How long `setup` waits for another process's migrations, in seconds.
const LOCK_TIMEOUT_S: i64 = 120;

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS drover_migrations (
    version BIGINT NOT NULL PRIMARY KEY,
    description VARCHAR(255) NOT NULL,
    applied_at DATETIME(6) NOT NULL
) ENGINE = InnoDB";

const APPLIED_VERSIONS: &str = "SELECT version FROM drover_migrations ORDER BY version";

const RECORD_VERSION: &str =
    "INSERT INTO drover_migrations (version, description, applied_at) VALUES (?, ?, UTC_TIMESTAMP(6))";

/// Bring the schema up to date. Statements of a migration are idempotent (`IF NOT EXISTS`),
/// because MySQL commits DDL implicitly and a migration cut short cannot roll back.
pub(crate) async fn run(pool: &MySqlPool) -> Result<(), BackendError> {
    let mut conn = pool.acquire().await.map_err(|e| backend_error("setup: connect", e))?;
    let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
        .bind(LOCK_NAME)
        .bind(LOCK_TIMEOUT_S)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| backend_error("setup: take the migration lock", e))?;
    if locked != Some(1) {
        return Err(BackendError::LockTimeout(format!(
            "setup: another process held the `{LOCK_NAME}` lock (GET_LOCK) for {LOCK_TIMEOUT_S} s; \
             is a migration stuck? Check SELECT IS_USED_LOCK('{LOCK_NAME}')"
        )));
    }
    let result = apply(&mut conn).await;
    // The lock also goes away with the session; releasing it keeps the pooled connection clean.
    let released = sqlx::query("DO RELEASE_LOCK(?)").bind(LOCK_NAME).execute(&mut *conn).await;
    result?;
    released.map_err(|e| backend_error("setup: release the migration lock", e))?;
    Ok(())
}

/// Boxed: the future stays `Send` for every lifetime of the connection borrow.
fn apply(conn: &mut MySqlConnection) -> Pin<Box<dyn Future<Output = Result<(), BackendError>> + Send + '_>> {
    Box::pin(async move {
        sqlx::query(CREATE_MIGRATIONS_TABLE)
            .execute(&mut *conn)
            .await
            .map_err(|e| backend_error("setup: create drover_migrations", e))?;
        let applied: Vec<i64> = sqlx::query(APPLIED_VERSIONS)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| backend_error("setup: read drover_migrations", e))?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()
            .map_err(|e| backend_error("setup: read drover_migrations", e))?;
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        if let Some(newest) = applied.iter().copied().max().filter(|v| *v > known) {
            return Err(BackendError::Schema(format!(
                "setup: the database has Drover schema version {newest}, newer than this drover-mysql knows \
             ({known}); upgrade drover-mysql in this program"
            )));
        }
        // Collected first: an iterator adapter with a closure held across an await makes the
        // future not `Send` for every lifetime.
        let pending: Vec<&Migration> = MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)).collect();
        for migration in pending {
            for statement in statements(migration.sql) {
                conn.execute(statement).await.map_err(|e| backend_error("setup: migrate", e))?;
            }
            sqlx::query(RECORD_VERSION)
                .bind(migration.version)
                .bind(migration.description)
                .execute(&mut *conn)
                .await
                .map_err(|e| backend_error("setup: record a migration", e))?;
            tracing::info!(version = migration.version, description = migration.description, "applied a migration");
        }
        Ok(())
    })
}

/// The statements of a migration file: split where a line's code (before any `--` comment)
/// ends with `;`, skipping chunks that hold only comments.
fn statements(sql: &str) -> Vec<&str> {
    let code = |line: &str| line.split("--").next().unwrap_or_default().trim().to_owned();
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in sql.split_inclusive('\n') {
        offset += line.len();
        if code(line).ends_with(';') {
            out.push(&sql[start..offset]);
            start = offset;
        }
    }
    out.push(&sql[start..]);
    out.into_iter().filter(|chunk| chunk.lines().any(|l| !code(l).is_empty())).map(str::trim).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_and_skips_comments() {
        let sql =
            "-- a comment\nCREATE TABLE a (\n  x INT -- note;\n);\n\n-- only a comment;\nCREATE INDEX b ON a (x);\n";
        let got = statements(sql);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].contains("CREATE TABLE a"));
        assert!(got[1].contains("CREATE INDEX b"));
    }
}
