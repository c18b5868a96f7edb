//! `LISTEN/NOTIFY` wake-ups: one listener connection per pool, shared by every storage made
//! from that pool, feeding one [`WakeupSender`] per queue.
//!
//! Every statement that makes work due (enqueue, `drover.push_job`, release, requeue, a retry
//! due at once) runs `pg_notify('drover_tasks', queue)`, delivered when its transaction
//! commits. The listener task routes each notification by its payload (the queue name) to
//! the queue's sender. A burst is debounced: the task drains every notification already
//! buffered and wakes each queue once. When the connection breaks it reconnects with backoff
//! (100 ms doubling to 30 s) and wakes every queue once reconnected, since notifications sent
//! meanwhile are lost; workers also poll at their poll interval, so a lost wake-up only
//! delays work.
//!
//! The listener connection comes from the pool, or from a URL of its own
//! ([`PostgresConfig::set_listen_url`](crate::PostgresConfig::set_listen_url)); behind a
//! transaction-mode pooler without such a URL there is none (`LISTEN` holds a session, which
//! such a pooler does not give), and the hub only passes on this process's own pushes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use drover_core::{Wakeup, WakeupSender};
use sqlx::postgres::PgListener;
use sqlx::PgPool;

use crate::db::{run, Db};

/// The channel every notification goes to; the payload is the queue name.
pub(crate) const CHANNEL: &str = "drover_tasks";

/// How often an idle listener checks whether any storage still uses it.
const LIVENESS_CHECK: Duration = Duration::from_secs(10);

/// Where a hub's `LISTEN` connection comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// One of the pool's connections.
    Pool,
    /// A connection of its own to this URL.
    Url(String),
    /// None: only this process's pushes wake its workers (behind a transaction-mode pooler).
    Off,
}

/// The wake-ups of every queue of one pool, and the listener task feeding them.
pub(crate) struct Hub {
    db: Db,
    source: Source,
    senders: Mutex<HashMap<String, WakeupSender>>,
    running: AtomicBool,
    /// Queues with pushes not yet announced to other processes, and whether a task is
    /// announcing them.
    unannounced: Mutex<(HashSet<String>, bool)>,
}

/// Announce pushes to other processes: one `NOTIFY` per queue, from a transaction of its own.
const ANNOUNCE_SQL: &str = "SELECT count(pg_notify('drover_tasks', q)) FROM unnest($1::text[]) AS q";

/// The hubs of this process, each with the address that names its pool, whether that pool
/// is behind a transaction-mode pooler, and its source.
type Hubs = Vec<(usize, bool, Source, Weak<Hub>)>;

/// The hubs of this process, one per pool (identified by its shared connect options).
fn registry() -> MutexGuard<'static, Hubs> {
    static REGISTRY: OnceLock<Mutex<Hubs>> = OnceLock::new();
    // The registry holds plain data, so a panic elsewhere cannot leave it inconsistent.
    REGISTRY.get_or_init(Mutex::default).lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    /// The hub of `db`'s pool listening from `source`, shared with every other storage of
    /// the same pool and source.
    pub(crate) fn for_pool(db: &Db, source: Source) -> Arc<Hub> {
        // Clones of a pool share one `Arc` of connect options: its address names the pool.
        // The hub keeps the pool (and so that `Arc`) alive, so the address is not reused
        // while the entry is live.
        let key = Arc::as_ptr(&db.pool.connect_options()) as usize;
        let mut hubs = registry();
        hubs.retain(|(_, _, _, hub)| hub.strong_count() > 0);
        if let Some(hub) = hubs
            .iter()
            .find(|(k, pooled, s, _)| *k == key && *pooled == db.pooled && *s == source)
            .and_then(|(_, _, _, hub)| hub.upgrade())
        {
            return hub;
        }
        let hub = Arc::new(Hub {
            db: db.clone(),
            source: source.clone(),
            senders: Mutex::default(),
            running: AtomicBool::new(false),
            unannounced: Mutex::default(),
        });
        hubs.push((key, db.pooled, source, Arc::downgrade(&hub)));
        hub
    }

    fn senders(&self) -> MutexGuard<'_, HashMap<String, WakeupSender>> {
        self.senders.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sender(&self, queue: &str) -> WakeupSender {
        self.senders().entry(queue.to_owned()).or_default().clone()
    }

    /// A wake-up for `queue`, starting the listener task if it is not running. `None` outside
    /// a Tokio runtime (the worker then polls).
    pub(crate) fn subscribe(self: &Arc<Self>, queue: &str) -> Option<Wakeup> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let wakeup = self.sender(queue).subscribe();
        if self.source != Source::Off && !self.running.swap(true, Ordering::AcqRel) {
            let guard = RunningGuard(Arc::downgrade(self));
            handle.spawn(listen(Arc::downgrade(self), self.db.pool.clone(), self.source.clone(), guard));
        }
        Some(wakeup)
    }

    /// Wake this process's workers of `queue` at once (a push from this process), without
    /// waiting for the notification's round trip through the server.
    pub(crate) fn notify_local(&self, queue: &str) {
        if let Some(sender) = self.senders().get(queue) {
            sender.notify();
        }
    }

    /// Tell other processes' workers that `queue` has new work, after the push committed.
    ///
    /// Pushes through the pool do not `NOTIFY` inside their own transaction: PostgreSQL holds
    /// one database-wide lock from a notifying transaction's pre-commit until its commit is
    /// flushed, which would serialize every push behind the previous one's disk flush. A
    /// notification sent afterwards, from a transaction that writes nothing, holds that lock
    /// only briefly. Bursts are coalesced: one statement in flight per pool, naming every
    /// queue pushed to meanwhile.
    pub(crate) fn announce(self: &Arc<Self>, queue: &str) {
        let start = {
            let mut pending = self.unannounced.lock().unwrap_or_else(|p| p.into_inner());
            pending.0.insert(queue.to_owned());
            !std::mem::replace(&mut pending.1, true)
        };
        if !start {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.unannounced.lock().unwrap_or_else(|p| p.into_inner()).1 = false;
            return;
        };
        let hub = self.clone();
        runtime.spawn(async move {
            loop {
                let queues: Vec<String> = {
                    let mut pending = hub.unannounced.lock().unwrap_or_else(|p| p.into_inner());
                    if pending.0.is_empty() {
                        pending.1 = false;
                        return;
                    }
                    pending.0.drain().collect()
                };
                if let Err(error) = run!(&hub.db, execute, sqlx::query(ANNOUNCE_SQL).bind(&queues)) {
                    // Other processes' workers find the work at their next poll.
                    tracing::debug!(%error, "drover-postgres: could not NOTIFY other processes of new tasks");
                }
            }
        });
    }

    fn notify_all(&self) {
        for sender in self.senders().values() {
            sender.notify();
        }
    }
}

/// Marks the hub's task as stopped however it ends (including its runtime shutting down), so
/// the next subscription starts a new one.
struct RunningGuard(Weak<Hub>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Some(hub) = self.0.upgrade() {
            hub.running.store(false, Ordering::Release);
        }
    }
}

/// Backoff between failed (re)connections: 100 ms doubling to 30 s.
fn reconnect_backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(9))).min(Duration::from_secs(30))
}

/// The listener task: runs while any storage holds the hub.
async fn listen(hub: Weak<Hub>, pool: PgPool, source: Source, _running: RunningGuard) {
    let mut failures = 0u32;
    let mut listener: Option<PgListener> = None;
    loop {
        if hub.strong_count() == 0 {
            return;
        }
        let active = match listener.as_mut() {
            Some(active) => active,
            None => match connect(&pool, &source).await {
                Ok(fresh) => {
                    if failures > 0 {
                        tracing::info!("drover-postgres: the LISTEN connection is back");
                    }
                    failures = 0;
                    // Anything notified while we were away is lost: wake every queue once.
                    if let Some(hub) = hub.upgrade() {
                        hub.notify_all();
                    }
                    listener.insert(fresh)
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let wait = reconnect_backoff(failures);
                    tracing::warn!(%error, ?wait, "drover-postgres: could not LISTEN; workers poll meanwhile");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            },
        };
        let received = tokio::time::timeout(LIVENESS_CHECK, active.try_recv()).await;
        match received {
            Err(_elapsed) => {}
            Ok(Ok(Some(first))) => {
                // Debounce: take every notification already here, wake each queue once.
                let mut queues: HashSet<String> = HashSet::from([first.payload().to_owned()]);
                while let Some(more) = active.next_buffered() {
                    queues.insert(more.payload().to_owned());
                }
                if let Some(hub) = hub.upgrade() {
                    let senders = hub.senders();
                    for queue in &queues {
                        if let Some(sender) = senders.get(queue) {
                            sender.notify();
                        }
                    }
                }
            }
            Ok(Ok(None)) => {
                // The connection broke and sqlx reconnected it; notifications may be lost.
                if let Some(hub) = hub.upgrade() {
                    hub.notify_all();
                }
            }
            Ok(Err(sqlx::Error::PoolClosed)) => return,
            Ok(Err(error)) => {
                tracing::warn!(%error, "drover-postgres: the LISTEN connection failed; reconnecting");
                listener = None;
                failures = failures.saturating_add(1);
                tokio::time::sleep(reconnect_backoff(failures)).await;
            }
        }
    }
}

async fn connect(pool: &PgPool, source: &Source) -> Result<PgListener, sqlx::Error> {
    // From the pool, the listener holds one of its connections; closing the pool ends it
    // (the task then stops), so `pool.close()` never waits on it. From a URL, it is the
    // listener's own, closed when the last storage of the hub is gone.
    let mut listener = match source {
        Source::Url(url) => PgListener::connect(url).await?,
        Source::Pool | Source::Off => PgListener::connect_with(pool).await?,
    };
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
