//! The shared migration runner on a real SQLite file: set-up is idempotent, a database set up
//! by a newer build is refused, an edited migration is refused, and a table from a build that
//! recorded no checksums gets them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drover_core::BackendError;
use drover_sqlite::SqliteStorage;

async fn fresh(name: &str) -> sqlx::SqlitePool {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite-migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    let _ = std::fs::remove_file(&path);
    drover_sqlite::connect_pool(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap()
}

#[tokio::test]
async fn setup_is_idempotent_and_records_checksums() {
    let pool = fresh("idempotent").await;
    SqliteStorage::setup(&pool).await.unwrap();
    SqliteStorage::setup(&pool).await.unwrap();
    let sums: Vec<Option<i64>> =
        sqlx::query_scalar("SELECT checksum FROM drover_migrations").fetch_all(&pool).await.unwrap();
    assert!(!sums.is_empty() && sums.iter().all(Option::is_some), "{sums:?}");
}

#[tokio::test]
async fn a_database_of_a_newer_build_is_refused() {
    let pool = fresh("newer").await;
    SqliteStorage::setup(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO drover_migrations (version, description, applied_at, checksum) VALUES (99, 'future', 0, 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let error = SqliteStorage::setup(&pool).await.unwrap_err();
    assert!(matches!(error, BackendError::Schema(_)), "{error}");
    assert!(error.to_string().contains("version 99, newer than this drover-sqlite knows"), "{error}");
}

#[tokio::test]
async fn an_edited_migration_is_refused_and_a_missing_checksum_is_filled_in() {
    let pool = fresh("edited").await;
    SqliteStorage::setup(&pool).await.unwrap();
    sqlx::query("UPDATE drover_migrations SET checksum = NULL").execute(&pool).await.unwrap();
    SqliteStorage::setup(&pool).await.unwrap();
    let filled: Option<i64> =
        sqlx::query_scalar("SELECT checksum FROM drover_migrations WHERE version = 1").fetch_one(&pool).await.unwrap();
    assert!(filled.is_some(), "a checksum missing from an older build's record is filled in");
    sqlx::query("UPDATE drover_migrations SET checksum = checksum + 1 WHERE version = 1").execute(&pool).await.unwrap();
    let error = SqliteStorage::setup(&pool).await.unwrap_err();
    assert!(matches!(error, BackendError::Schema(_)) && error.to_string().contains("differs"), "{error}");
}
