//! A real board for the browser and schemathesis tests: SQLite in a temporary file, the board
//! served on 127.0.0.1:0, optionally a worker, and where the outside tools live.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use drover_board::{Auth, Board, Role};
use drover_core::{Admin, BoxDynError, Monitor, QueueStats, WorkerBuilder};
use drover_sqlite::{SqliteAdmin, SqliteConfig, SqliteStorage};
use serde::{Deserialize, Serialize};

pub const TOKEN: &str = "browser-operator-token-0123456789";
pub const QUEUE: &str = "email";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
}

/// Addresses the worker has seen: a `bounce` address fails the first time only, so a dead
/// task that is retried then finishes.
static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

async fn send_email(email: Email) -> Result<(), BoxDynError> {
    tokio::time::sleep(Duration::from_millis(30)).await;
    let first = SEEN.lock().unwrap_or_else(|p| p.into_inner()).insert(email.to.clone());
    if email.to.starts_with("bounce") && first {
        return Err(format!("SMTP 550 for {}: no such mailbox <{}>", email.to, email.to).into());
    }
    Ok(())
}

pub struct Running {
    pub url: String,
    pub storage: SqliteStorage<Email>,
    pub admin: SqliteAdmin,
    path: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

impl Running {
    /// The board over a fresh SQLite file, with a worker on the `email` queue when `worker`.
    pub async fn start(worker: bool) -> Running {
        let path = std::env::temp_dir().join(format!("drover-board-{:016x}.db", fastrand::u64(..)));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let storage =
            SqliteStorage::<Email>::connect_with_config(&url, SqliteConfig::new(QUEUE)).await.expect("SQLite");
        let admin = SqliteAdmin::new(drover_sqlite::connect_pool(&url).await.expect("SQLite pool"));
        // A recurring job the board lists (not run: the tests count the email queue's tasks).
        let digests =
            SqliteStorage::<Email>::connect_with_config(&url, SqliteConfig::new("digest")).await.expect("SQLite");
        let digest = drover_cron::CronJob::with_job(
            "daily-digest",
            drover_cron::Schedule::cron("0 7 * * *").expect("a cron expression"),
            |_| Email { to: "team@example.com".into() },
        )
        .expect("a schedule name")
        .pipe_to(digests);
        let app = Board::new()
            .register(admin.clone())
            .schedule(digest)
            .auth(Auth::new().token(TOKEN, Role::Operator))
            .into_router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve the board") });
        if worker {
            let worker = WorkerBuilder::new("browser-test-worker")
                .concurrency(2)
                .poll_interval(Duration::from_millis(100))
                .backend(storage.clone())
                .build_fn(send_email);
            tokio::spawn(async move { Monitor::new().register(worker).run().await });
        }
        Running { url: format!("http://{addr}"), storage, admin, path }
    }

    pub async fn stats(&self) -> QueueStats {
        self.admin.stats(QUEUE).await.expect("stats")
    }

    /// Poll the queue's counts until `done` says so (at most `within`).
    pub async fn wait_for(&self, what: &str, within: Duration, done: impl Fn(&QueueStats) -> bool) -> QueueStats {
        let deadline = Instant::now() + within;
        loop {
            let stats = self.stats().await;
            if done(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "waited {within:?} for {what}; the queue has {stats:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `drover/NAME` in the cache folder, where `cargo xtask services` installs the outside tools.
pub fn cache_dir(name: &str) -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("drover").join(name)
}

/// A folder under the target directory for the test's artifacts (screenshots, reports).
pub fn artifacts(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("drover-board").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the artifacts folder");
    dir
}

impl Running {
    /// The task `id` of the queue, as the storage has it.
    pub async fn admin_task(&self, id: &str) -> drover_core::TaskInfo {
        let id = id.parse().expect("a task id");
        self.admin.get(QUEUE, id).await.expect("get").expect("the task exists")
    }
}
