//! Shared by the test files: the server URL and fresh, isolated storages.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drover_mysql::{MysqlConfig, MysqlStorage};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::MySqlPool;

/// The server under test: `MYSQL_URL`, or the local default of DESIGN.md.
pub fn url() -> String {
    std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// A small pool with the schema set up. Each test has its own runtime, so its own pool.
pub async fn pool() -> MySqlPool {
    let pool = MySqlPoolOptions::new().max_connections(8).connect(&url()).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to MariaDB/MySQL at {}: {e}. Start it with \
             `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` \
             (or `cargo xtask services`), or set MYSQL_URL",
            url()
        )
    });
    MysqlStorage::setup(&pool).await.expect("setup");
    pool
}

/// A queue name no other test uses.
pub fn queue(prefix: &str) -> String {
    format!("{prefix}-{}", drover_core::TaskId::new())
}

/// A storage on a fresh queue.
pub async fn storage<T>(prefix: &str) -> MysqlStorage<T> {
    MysqlStorage::new_with_config(pool().await, MysqlConfig::new(queue(prefix)))
}
