//! Helpers shared by the integration tests: the server URL and storages on fresh queues.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drover_rsmq::{RsmqConfig, RsmqStorage};

/// The shared test server.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A fresh namespace, so tests running at once never share a key.
pub fn fresh_namespace(prefix: &str) -> String {
    format!("{prefix}-{}", drover_core::TaskId::new())
}

/// A storage on the shared server for the queue `config` names.
pub async fn storage<T>(config: RsmqConfig) -> RsmqStorage<T> {
    let url = redis_url();
    let conn = drover_rsmq::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach Redis at {url}: {e}. Start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 \
             --port 6379 --save \"\" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
        )
    });
    RsmqStorage::new(conn, config).unwrap()
}
