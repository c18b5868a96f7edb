//! Wake-ups: the scripts `PUBLISH` to the queue's channel when due work appears (a push, a
//! zero-delay retry, a release, a requeue), and one task per storage holds a dedicated
//! `SUBSCRIBE` connection that turns each message into a [`WakeupSender::notify`].
//!
//! Pub/sub rather than a blocking pop on a marker list: a marker wakes one waiter, a message
//! wakes every worker process. A message missed while the subscription reconnects costs at
//! most one poll interval, because the worker also polls.
//!
//! On a Redis Cluster, `PUBLISH` reaches every node over the cluster bus, so the subscription
//! is a plain connection to one node; when it breaks (the node died), the next one is tried.

use std::sync::{Arc, Weak};
use std::time::Duration;

use drover_core::WakeupSender;
use futures_util::StreamExt;

use crate::storage::Shared;

/// How often an idle subscription checks that its storage still exists.
const ALIVE_CHECK: Duration = Duration::from_secs(5);

/// Start the listener on the current Tokio runtime. Returns false outside a runtime (the
/// worker then polls).
pub(crate) fn spawn_listener(
    clients: Arc<[redis::Client]>,
    channel: String,
    sender: WakeupSender,
    owner: Weak<Shared>,
) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return false;
    };
    runtime.spawn(listen(clients, channel, sender, owner));
    true
}

async fn listen(clients: Arc<[redis::Client]>, channel: String, sender: WakeupSender, owner: Weak<Shared>) {
    let mut failures = 0u32;
    // On a cluster, the node to try next: a message published on any node reaches every node,
    // so any one will do, and a failed one is left for the next.
    let mut node = 0usize;
    while owner.strong_count() > 0 {
        let Some(client) = clients.get(node % clients.len().max(1)) else { return };
        match subscribe(client, &channel).await {
            Ok(pubsub) => {
                failures = 0;
                // Work may have arrived while nobody listened.
                sender.notify();
                let mut messages = pubsub.into_on_message();
                loop {
                    match tokio::time::timeout(ALIVE_CHECK, messages.next()).await {
                        Ok(Some(_)) => sender.notify(),
                        Ok(None) => break,
                        Err(_) if owner.strong_count() == 0 => return,
                        Err(_) => {}
                    }
                }
                tracing::debug!(channel, "redis wake-up subscription closed; reconnecting");
                node = node.wrapping_add(1);
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                node = node.wrapping_add(1);
                tracing::debug!(channel, %error, "redis wake-up subscription failed; retrying");
            }
        }
        let backoff = Duration::from_millis(100u64.saturating_mul(1 << failures.min(5)));
        tokio::time::sleep(backoff).await;
    }
}

async fn subscribe(client: &redis::Client, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = tokio::time::timeout(Duration::from_secs(5), client.get_async_pubsub())
        .await
        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "timed out connecting")))??;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
