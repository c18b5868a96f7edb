//! The whole conformance suite against the real PostgreSQL server (`DATABASE_URL`, default
//! postgres://postgres@127.0.0.1:5432/test). Each check gets its own queue name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drover_conformance::TestJob;
use drover_core::TaskId;
use drover_postgres::{PostgresConfig, PostgresStorage};
use sqlx::postgres::PgPoolOptions;

async fn backend() -> PostgresStorage<TestJob> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = PgPoolOptions::new().max_connections(4).connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to PostgreSQL at {url}: {e}; start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        )
    });
    PostgresStorage::setup(&pool).await.expect("setup");
    PostgresStorage::new_with_config(pool, PostgresConfig::new(format!("conf-{}", TaskId::new())))
}

drover_conformance::conformance_tests!(backend; core, priorities, unique_keys, cancel, requeue, inspect, transactions, prune, ticks, pause, global_concurrency, global_rate, key_concurrency, long_drain);
