//! The admin contract's conformance (`drover_conformance::admin`): searches with filters and
//! stable pages, delete, run now and bulk actions, on PostgreSQL
//! (postgres://postgres@127.0.0.1:5432/test, or DATABASE_URL), each check on a queue of its own.
#![allow(clippy::expect_used, clippy::panic)]

use drover_postgres::{PostgresAdmin, PostgresStorage};

async fn admin() -> (PostgresAdmin, String) {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} (cargo xtask services starts it): {e}"));
    PostgresStorage::<()>::setup(&pool).await.expect("set up PostgreSQL");
    let queue = format!("admin_{}", drover_core::TaskId::new());
    (PostgresAdmin::new(pool), queue)
}

drover_conformance::admin_conformance_tests!(admin);
