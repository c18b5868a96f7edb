//! Embedded, versioned migrations, safe to run from many processes at once.
//!
//! Drover keeps its own migration table (`drover_migrations`) instead of sqlx's
//! `_sqlx_migrations`, so an application that runs its own sqlx migrations on the same
//! database never sees Drover's versions as unknown ones.

use drover_core::BackendError;
use drover_sqlx::migrate::{self, Applied, BoxFuture, Migration, MigrationStore};
use sqlx::pool::PoolConnection;
use sqlx::{Executor, MySql, MySqlPool, Row};

use crate::error::{backend_error, error_number};

/// `ER_DUP_FIELDNAME`: the column exists. MySQL 8 has no `ADD COLUMN IF NOT EXISTS`, so a
/// migration that adds columns does it in one (atomic) `ALTER TABLE`, and finding them there
/// means a run cut short after it, before its version was recorded.
const ER_DUP_FIELDNAME: u16 = 1060;

/// Every migration, in order. Never edit one that has shipped: add a new one.
const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "tasks", sql: include_str!("../migrations/0001_tasks.sql") },
    Migration { version: 2, name: "cron_ticks", sql: include_str!("../migrations/0002_cron_ticks.sql") },
    Migration { version: 3, name: "queue_settings", sql: include_str!("../migrations/0003_queue_settings.sql") },
    Migration { version: 4, name: "limits", sql: include_str!("../migrations/0004_limits.sql") },
    Migration { version: 5, name: "concurrency_key", sql: include_str!("../migrations/0005_concurrency_key.sql") },
    Migration { version: 6, name: "attempts", sql: include_str!("../migrations/0006_attempts.sql") },
    Migration { version: 7, name: "workers", sql: include_str!("../migrations/0007_workers.sql") },
];

/// The advisory lock that serializes `setup` across processes (`GET_LOCK` works on MySQL and
/// MariaDB alike and is released when its session ends, even if a process dies mid-way).
const LOCK_NAME: &str = "drover_migrations";

/// How long `setup` waits for another process's migrations, in seconds.
const LOCK_TIMEOUT_S: i64 = 120;

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS drover_migrations (
    version BIGINT NOT NULL PRIMARY KEY,
    description VARCHAR(255) NOT NULL,
    applied_at DATETIME(6) NOT NULL,
    checksum BIGINT NULL
) ENGINE = InnoDB";

/// Tables made before checksums were recorded lack the column.
const HAS_CHECKSUM: &str = "SELECT COUNT(*) FROM information_schema.COLUMNS \
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'drover_migrations' AND COLUMN_NAME = 'checksum'";

const ADD_CHECKSUM: &str = "ALTER TABLE drover_migrations ADD COLUMN checksum BIGINT NULL";

const APPLIED_VERSIONS: &str = "SELECT version, checksum FROM drover_migrations ORDER BY version";

const RECORD_VERSION: &str = "INSERT INTO drover_migrations (version, description, applied_at, checksum) \
    VALUES (?, ?, UTC_TIMESTAMP(6), ?)";

const RECORD_CHECKSUM: &str = "UPDATE drover_migrations SET checksum = ? WHERE version = ?";

/// Bring the schema up to date, under `GET_LOCK`. Statements of a migration are idempotent
/// (`IF NOT EXISTS`), because MySQL commits DDL implicitly and a migration cut short cannot
/// roll back.
pub(crate) async fn run(pool: &MySqlPool) -> Result<(), BackendError> {
    let mut store = Store { pool, conn: None };
    migrate::run(&mut store, "drover-mysql", MIGRATIONS).await
}

/// The set-up's connection, which holds the lock.
struct Store<'p> {
    pool: &'p MySqlPool,
    conn: Option<PoolConnection<MySql>>,
}

impl Store<'_> {
    fn conn(&mut self) -> Result<&mut PoolConnection<MySql>, BackendError> {
        self.conn.as_mut().ok_or_else(|| BackendError::Corrupt("the migration connection is not open".into()))
    }
}

impl MigrationStore for Store<'_> {
    fn begin(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await.map_err(|e| backend_error("setup: connect", e))?;
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
            // Held from here: `finish` releases it (and the session's end would).
            self.conn = Some(conn);
            let conn = self.conn()?;
            sqlx::query(CREATE_MIGRATIONS_TABLE)
                .execute(&mut **conn)
                .await
                .map_err(|e| backend_error("setup: create drover_migrations", e))?;
            let has: i64 = sqlx::query_scalar(HAS_CHECKSUM)
                .fetch_one(&mut **conn)
                .await
                .map_err(|e| backend_error("setup: read drover_migrations", e))?;
            if has == 0 {
                sqlx::query(ADD_CHECKSUM)
                    .execute(&mut **conn)
                    .await
                    .map_err(|e| backend_error("setup: add checksums to drover_migrations", e))?;
            }
            Ok(())
        })
    }

    fn applied(&mut self) -> BoxFuture<'_, Vec<Applied>> {
        Box::pin(async move {
            let rows = sqlx::query(APPLIED_VERSIONS)
                .fetch_all(&mut **self.conn()?)
                .await
                .map_err(|e| backend_error("setup: read drover_migrations", e))?;
            rows.iter()
                .map(|row| Ok(Applied { version: row.try_get(0)?, checksum: row.try_get(1)? }))
                .collect::<Result<_, sqlx::Error>>()
                .map_err(|e| backend_error("setup: read drover_migrations", e))
        })
    }

    fn apply<'a>(&'a mut self, migration: &'a Migration, checksum: i64) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let conn = self.conn()?;
            for statement in statements(migration.sql) {
                match conn.execute(statement).await {
                    Ok(_) => {}
                    Err(error) if error_number(&error) == Some(ER_DUP_FIELDNAME) => {
                        tracing::info!(version = migration.version, "setup: the migration's columns exist already");
                    }
                    Err(error) => return Err(backend_error("setup: migrate", error)),
                }
            }
            sqlx::query(RECORD_VERSION)
                .bind(migration.version)
                .bind(migration.name)
                .bind(checksum)
                .execute(&mut **conn)
                .await
                .map_err(|e| backend_error("setup: record a migration", e))?;
            Ok(())
        })
    }

    fn record_checksum(&mut self, version: i64, checksum: i64) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query(RECORD_CHECKSUM)
                .bind(checksum)
                .bind(version)
                .execute(&mut **self.conn()?)
                .await
                .map_err(|e| backend_error("setup: record a checksum", e))?;
            Ok(())
        })
    }

    fn finish(&mut self, _ok: bool) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let Some(mut conn) = self.conn.take() else { return Ok(()) };
            // The lock also goes away with the session; releasing it keeps the pooled
            // connection clean.
            sqlx::query("DO RELEASE_LOCK(?)")
                .bind(LOCK_NAME)
                .execute(&mut *conn)
                .await
                .map_err(|e| backend_error("setup: release the migration lock", e))?;
            Ok(())
        })
    }
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
    fn versions_increase_by_one() {
        assert!(migrate::versions_are_consecutive(MIGRATIONS));
    }

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
