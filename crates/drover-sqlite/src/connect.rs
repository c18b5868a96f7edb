//! Opening a database tuned for a job queue: WAL, a busy timeout, `synchronous = NORMAL`,
//! foreign keys, and a pool sized for SQLite's single writer.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use drover_core::BackendError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// How long a write waits for another process's write lock before it fails with
/// "database is locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of a pool made by [`connect_pool`] for a file database. Writes of this
/// process's storages take turns (SQLite has one writer); the other connections serve reads,
/// claims that find nothing, and a caller's open transaction.
pub const FILE_POOL_SIZE: u32 = 4;

static MEMORY_SEQ: AtomicU64 = AtomicU64::new(0);

/// Whether `url` names an in-memory database (`sqlite::memory:`, `sqlite://:memory:`,
/// `mode=memory`).
fn is_memory(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    rest.starts_with(":memory:") || url.contains("mode=memory")
}

/// Connection options for `url`, tuned for a job queue.
///
/// A file database (`sqlite://drover.db`, `sqlite:///var/lib/app/jobs.db`; created if missing
/// unless the URL sets `mode=`) gets:
/// - `journal_mode = WAL`: readers never block the writer nor the writer readers, and several
///   processes can share the file;
/// - `synchronous = NORMAL`: in WAL mode a commit is not fsynced, the WAL is at checkpoints.
///   A crash of the process (even `kill -9`) loses nothing committed; a power cut or OS crash
///   may lose the last commits before the latest checkpoint, never corrupting the file. With
///   `FULL` every commit waits for the disk (about 10–100× fewer writes per second); set it
///   with `.synchronous(SqliteSynchronous::Full)` on these options if a lost push after a power
///   cut is not acceptable;
/// - `busy_timeout` of [`BUSY_TIMEOUT`], `foreign_keys = ON`, a 16 MiB page cache per
///   connection (so at most 64 MiB of the process's memory for a pool of 4), reads through a
///   memory map of up to 2 GiB, SQLite's largest (a connection re-reads pages another
///   connection changed; mapped, that costs no system call, and the pages are the OS's file
///   cache, not the process's memory; with a map of 256 MiB a drain of a 1,000,000-task
///   backlog ran at 66% of a 10,000-task one, with 2 GiB at 78%), a checkpoint every 16,000
///   WAL pages (64 MiB: a drain rewrites the same index pages over and over, and a checkpoint
///   writes each page once however often the WAL holds it; with 4,000 pages the large drain
///   ran at 78%, with 16,000 at 80%), in-memory temporary tables, and room for 256 prepared
///   statements per connection.
///
/// An in-memory database (`sqlite::memory:`) is private to the pool, shared by its
/// connections through SQLite's `memdb` VFS, and gone when the pool closes.
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, BackendError> {
    if is_memory(url) {
        // A named memdb database (a name starting with '/') is shared by every connection of
        // this process that opens it, with ordinary locking, unlike the shared-cache mode
        // sqlx uses for `:memory:`, whose table locks fail at once instead of waiting.
        let name = format!("/drover-memory-{}-{}", std::process::id(), MEMORY_SEQ.fetch_add(1, Ordering::Relaxed));
        return Ok(SqliteConnectOptions::new()
            .filename(name)
            .vfs("memdb")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Memory)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true));
    }
    let options = SqliteConnectOptions::from_str(url).map_err(|e| {
        BackendError::Config(format!(
            "`{url}` is not a SQLite URL ({e}); use for example sqlite://drover.db or sqlite::memory:"
        ))
    })?;
    let options = if url.contains("mode=") { options } else { options.create_if_missing(true) };
    Ok(options
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .pragma("cache_size", "-16384")
        .pragma("mmap_size", "2147418112")
        .pragma("wal_autocheckpoint", "16000")
        .pragma("temp_store", "memory")
        .statement_cache_capacity(256))
}

/// A pool for `url` with [`connect_options`]: [`FILE_POOL_SIZE`] connections for a file, and
/// for an in-memory database connections that are never closed while the pool lives (the
/// database lives as long as one of them).
pub async fn connect_pool(url: &str) -> Result<SqlitePool, BackendError> {
    let options = connect_options(url)?;
    let pool = SqlitePoolOptions::new().max_connections(FILE_POOL_SIZE).min_connections(1);
    let pool = if is_memory(url) { pool.idle_timeout(None).max_lifetime(None) } else { pool };
    pool.connect_with(options).await.map_err(|e| {
        BackendError::connection(
            "opening the SQLite database",
            format!("{e} (URL `{url}`; check that the directory exists and is writable)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_memory("sqlite::memory:"));
        assert!(is_memory("sqlite://:memory:"));
        assert!(is_memory("sqlite://x.db?mode=memory"));
        assert!(!is_memory("sqlite://drover.db?mode=rwc"));
        assert!(!is_memory("sqlite:drover.db"));
    }
}
