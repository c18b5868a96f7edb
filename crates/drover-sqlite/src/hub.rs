//! What the storages of one database share inside this process: the wake-ups of each queue
//! and the write [`Group`].
//!
//! SQLite has a single writer per database file. Writers in different connections that
//! collide wait in SQLite's busy handler, which sleeps in steps of milliseconds; at thousands
//! of writes per second that sleeping costs more than the writes. So the storages of one file
//! in one process take turns (and share round trips) in one group first, and SQLite's busy
//! timeout is left to arbitrate between processes only. Pushes notify the queue's
//! [`WakeupSender`], so a worker in the same process starts a new job without polling;
//! workers in other processes poll.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use drover_core::WakeupSender;
use sqlx::sqlite::SqliteConnectOptions;

use crate::group::Group;

/// One database file's shared state in this process.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    pub(crate) group: Group,
    wakeups: Mutex<HashMap<String, WakeupSender>>,
}

impl Hub {
    /// The hub of the database `options` open, made on first use.
    /// The hub lives while a storage of the database does (the registry holds it weakly), so
    /// its writer connection closes when the last storage goes.
    pub(crate) fn of(options: &SqliteConnectOptions) -> Arc<Hub> {
        static HUBS: OnceLock<Mutex<HashMap<PathBuf, Weak<Hub>>>> = OnceLock::new();
        let key = database_key(options);
        let hubs = HUBS.get_or_init(Default::default);
        // Every change leaves the map consistent, so a poisoned lock is safe to keep using.
        let mut hubs = hubs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(hub) = hubs.get(&key).and_then(Weak::upgrade) {
            return hub;
        }
        hubs.retain(|_, hub| hub.strong_count() > 0);
        let hub = Arc::new(Hub::default());
        hubs.insert(key, Arc::downgrade(&hub));
        hub
    }

    /// The wake-up channel of `queue`.
    pub(crate) fn wakeup(&self, queue: &str) -> WakeupSender {
        let mut wakeups = self.wakeups.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        wakeups.entry(queue.to_owned()).or_default().clone()
    }
}

/// The database's identity: the canonical path of a file (so `./jobs.db` and an absolute
/// path meet), or the name of an in-memory database.
fn database_key(options: &SqliteConnectOptions) -> PathBuf {
    let name = options.get_filename();
    std::fs::canonicalize(name).unwrap_or_else(|_| name.to_path_buf())
}
