//! The admin contract's conformance (`drover_conformance::admin`): searches with filters and
//! stable pages, delete, run now and bulk actions, on a fresh SQLite file per check.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use drover_sqlite::{SqliteAdmin, SqliteStorage};

async fn admin() -> (SqliteAdmin, String) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite-conformance-admin");
    std::fs::create_dir_all(&dir).expect("create the test database directory");
    let id = drover_core::TaskId::new();
    let url = format!("sqlite://{}?mode=rwc", dir.join(format!("{id}.db")).display());
    let pool = drover_sqlite::connect_pool(&url).await.unwrap_or_else(|e| panic!("opening {url}: {e}"));
    SqliteStorage::<()>::setup(&pool).await.expect("set up SQLite");
    (SqliteAdmin::new(pool), format!("admin-{id}"))
}

drover_conformance::admin_conformance_tests!(admin);
