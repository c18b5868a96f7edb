//! Wake-ups: pushes, releases and zero-delay retries of this process wake its workers
//! directly; pushes from anywhere else (psql, Python, another process) arrive by `LISTEN` on
//! pgmq's insert notification `pgmq.q_<queue>.INSERT`, sent once it is enabled on the queue
//! (`pgmq.enable_notify_insert`). One listener connection per storage (and its clones), started
//! by the first worker that asks. A lost notification only delays work until the next poll.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use drover_core::{Wakeup, WakeupSender};
use sqlx::postgres::PgListener;
use sqlx::PgPool;

use crate::storage::Inner;

/// How often an idle listener checks whether any storage still uses it.
const LIVENESS_CHECK: Duration = Duration::from_secs(10);

/// A wake-up for one worker, starting the listener if it is wanted and not running yet.
pub(crate) fn subscribe(inner: &Arc<Inner>) -> Wakeup {
    let wakeup = inner.wakeup.subscribe();
    let Ok(tables) = &inner.tables else { return wakeup };
    if !inner.config.listen() {
        return wakeup;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return wakeup };
    if !inner.listening.swap(true, Ordering::AcqRel) {
        let task = listen(Arc::downgrade(inner), inner.pool.clone(), tables.channel(), inner.wakeup.clone());
        runtime.spawn(task);
    }
    wakeup
}

/// Backoff between failed (re)connections: 100 ms doubling to 30 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(9))).min(Duration::from_secs(30))
}

/// The listener task: runs while any clone of the storage lives.
async fn listen(inner: Weak<Inner>, pool: PgPool, channel: String, wakeup: WakeupSender) {
    let mut failures = 0u32;
    while inner.strong_count() > 0 {
        match connect(&pool, &channel).await {
            Ok(mut listener) => {
                failures = 0;
                // Anything sent while no one listened is lost: look once.
                wakeup.notify();
                if receive(&inner, &mut listener, &wakeup).await {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, channel, "drover-pgmq: could not LISTEN; workers poll meanwhile");
            }
        }
        failures = failures.saturating_add(1);
        tokio::time::sleep(backoff(failures)).await;
    }
    if let Some(inner) = inner.upgrade() {
        inner.listening.store(false, Ordering::Release);
    }
}

/// Wake on every notification until the connection fails (false) or the storage is gone or
/// the pool closed (true).
async fn receive(inner: &Weak<Inner>, listener: &mut PgListener, wakeup: &WakeupSender) -> bool {
    loop {
        match tokio::time::timeout(LIVENESS_CHECK, listener.try_recv()).await {
            Err(_elapsed) if inner.strong_count() == 0 => return true,
            Err(_elapsed) => {}
            Ok(Ok(Some(_))) => {
                while listener.next_buffered().is_some() {}
                wakeup.notify();
            }
            // sqlx reconnected: notifications may have been lost.
            Ok(Ok(None)) => wakeup.notify(),
            Ok(Err(sqlx::Error::PoolClosed)) => return true,
            Ok(Err(error)) => {
                tracing::warn!(%error, "drover-pgmq: the LISTEN connection failed; reconnecting");
                return false;
            }
        }
    }
}

async fn connect(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}
