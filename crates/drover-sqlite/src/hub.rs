//! What the storages of one database share inside this process: the wake-ups of each queue
//! and a turn-taking gate for writes.
//!
//! SQLite has a single writer per database file. Writers in different connections that
//! collide wait in SQLite's busy handler, which sleeps in steps of milliseconds; at thousands
//! of writes per second that sleeping costs more than the writes. So the storages of one file
//! in one process take turns at an async gate first, and SQLite's busy timeout is left to
//! arbitrate between processes only. Pushes notify the queue's [`WakeupSender`], so a worker in
//! the same process starts a new job without polling; workers in other processes poll.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use drover_core::WakeupSender;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::sync::{Mutex as AsyncMutex, MutexGuard as AsyncMutexGuard};

/// One database file's shared state in this process.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    gate: AsyncMutex<()>,
    wakeups: Mutex<HashMap<String, WakeupSender>>,
}

impl Hub {
    /// The hub of the database `options` open, made on first use.
    pub(crate) fn of(options: &SqliteConnectOptions) -> Arc<Hub> {
        static HUBS: OnceLock<Mutex<HashMap<PathBuf, Arc<Hub>>>> = OnceLock::new();
        let key = database_key(options);
        let hubs = HUBS.get_or_init(Default::default);
        // The maps only ever gain entries, so a poisoned lock still holds a consistent map.
        let mut hubs = hubs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        hubs.entry(key).or_default().clone()
    }

    /// Wait for this process's turn to write.
    pub(crate) async fn write_turn(&self) -> AsyncMutexGuard<'_, ()> {
        self.gate.lock().await
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
