//! Shared by the tests: a storage on its own queue, and cleanup of queues old tests left.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use drover_core::TaskId;
use drover_nats::{NatsConfig, NatsStorage, NatsStorageType};
use futures_util::StreamExt;

pub fn url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| drover_nats::DEFAULT_URL.to_owned())
}

/// A config on a fresh queue `t<ulid>` (in-memory streams, short claim waits).
pub fn config(tag: &str) -> NatsConfig {
    NatsConfig::new(url())
        .set_queue(format!("t{tag}{}", TaskId::new()))
        .set_storage(NatsStorageType::Memory)
        .set_ack_wait(Duration::from_secs(10))
}

pub async fn connect<T>(config: NatsConfig) -> NatsStorage<T> {
    drop_old_test_streams(&url()).await;
    NatsStorage::connect(config).await.unwrap_or_else(|e| {
        panic!("connect to NATS at NATS_URL ({e}); start it with `nats-server -js` (see the README)")
    })
}

/// Delete test streams (`DROVER_t…`) made more than 10 minutes ago, once per process.
pub async fn drop_old_test_streams(url: &str) {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let Ok(client) = async_nats::connect(url).await else { return };
        let js = async_nats::jetstream::new(client);
        let mut names = js.stream_names();
        let mut old = Vec::new();
        while let Some(Ok(name)) = names.next().await {
            let Some(rest) = name.strip_prefix("DROVER_t").or_else(|| name.strip_prefix("KV_drover_t")) else { continue };
            let ulid: String = rest.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let Some(id) = (0..ulid.len().saturating_sub(25)).find_map(|i| ulid.get(i..i + 26)?.parse::<TaskId>().ok())
            else {
                continue;
            };
            if chrono::Utc::now() - id.created_at() > chrono::TimeDelta::minutes(10) {
                old.push(name);
            }
        }
        for name in old {
            let _ = js.delete_stream(&name).await;
        }
    })
    .await;
}
