//! Realtime wake-ups. With rsmq's `realtime` option every send publishes the queue length on
//! `<ns>:rt:<queue>`; a storage used by a worker keeps one task subscribed to that channel
//! (on a connection of its own: a multiplexed connection cannot subscribe) and wakes its idle
//! workers on each message. The worker polls as well, so a message lost while the
//! subscription reconnects delays work by one poll interval at most.

use std::sync::Weak;
use std::time::Duration;

use drover_core::WakeupSender;
use futures_util::{Stream, StreamExt};

use crate::storage::Shared;

/// How often a quiet subscription checks whether its storage was dropped.
const OWNER_CHECK: Duration = Duration::from_secs(5);
/// Reconnect delays double from the first to the last.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(3);

/// Start listening on the current Tokio runtime. False outside a runtime: workers then poll.
pub(crate) fn spawn_listener(
    client: redis::Client,
    channel: String,
    sender: WakeupSender,
    owner: Weak<Shared>,
) -> bool {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(listen(client, channel, sender, owner));
            true
        }
        Err(_) => false,
    }
}

async fn listen(client: redis::Client, channel: String, sender: WakeupSender, owner: Weak<Shared>) {
    let mut retry = FIRST_RETRY;
    while owner.strong_count() > 0 {
        match open(&client, &channel).await {
            Ok(pubsub) => {
                retry = FIRST_RETRY;
                // Whatever was sent while nobody listened is claimable now.
                sender.notify();
                if !forward(pubsub.into_on_message(), &sender, &owner).await {
                    return;
                }
                tracing::debug!(channel, "rsmq realtime subscription ended; subscribing again");
            }
            Err(error) => tracing::debug!(channel, %error, "rsmq realtime subscription failed; retrying"),
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// Wake the workers on every message until the stream ends (true: subscribe again) or the
/// storage is gone (false: stop).
async fn forward(
    mut messages: impl Stream<Item = redis::Msg> + Unpin,
    sender: &WakeupSender,
    owner: &Weak<Shared>,
) -> bool {
    loop {
        match tokio::time::timeout(OWNER_CHECK, messages.next()).await {
            Ok(Some(_)) => sender.notify(),
            Ok(None) => return true,
            Err(_) => {
                if owner.strong_count() == 0 {
                    return false;
                }
            }
        }
    }
}

async fn open(client: &redis::Client, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let connecting = tokio::time::timeout(Duration::from_secs(5), client.get_async_pubsub()).await;
    let mut pubsub = connecting.map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "timed out")))??;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
