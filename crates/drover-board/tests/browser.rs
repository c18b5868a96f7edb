//! The board in a real browser: headless Chromium (Debian's `chromium`) driven by npm's
//! `playwright-core` through `tests/browser/board.js`, against a board and a worker on SQLite.
//! The script logs in, reads a queue's counts, opens a dead task, retries it and watches the
//! worker finish it, pauses the queue and sees the worker stop claiming, and resumes, sets the
//! queue's cap and rate on its page and removes the rate again, filters the queue's tasks by
//! id and runs every pending task now in bulk, and sees the schedules page; a
//! screenshot of each page is kept under the target directory
//! (`$CARGO_TARGET_TMPDIR/drover-board/browser/`). `cargo xtask services` installs both tools.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod running;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use drover_core::{Admin, Enqueue, PushOptions};
use running::{artifacts, cache_dir, Email, Running, QUEUE, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_in_chromium_retries_a_dead_task_and_pauses_a_queue() {
    let chromium = std::env::var("DROVER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let playwright =
        std::env::var_os("DROVER_PLAYWRIGHT_DIR").map(Into::into).unwrap_or_else(|| cache_dir("playwright"));
    let modules = playwright.join("node_modules");
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: `cargo xtask services` installs Debian's chromium package (or set DROVER_CHROMIUM)"
    );
    assert!(
        modules.join("playwright-core").join("package.json").exists(),
        "playwright-core is not in {}: `cargo xtask services` installs it with npm (or set DROVER_PLAYWRIGHT_DIR)",
        modules.display()
    );

    let board = Running::start(true).await;
    // A task that fails its only attempt, then a steady stream of ordinary ones.
    board
        .storage
        .push_with(Email { to: "bounce@example.com".into() }, PushOptions::new().max_attempts(1))
        .await
        .expect("push");
    board.wait_for("the bounce to die", Duration::from_secs(10), |s| s.dead == 1).await;
    let producer = board.storage.clone();
    let pushing = tokio::spawn(async move {
        for i in 0u64.. {
            producer.push(Email { to: format!("user{i}@example.com") }).await.expect("push");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });

    let shots = artifacts("browser");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("browser").join("board.js");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .env("NODE_PATH", &modules)
        .env("BOARD", &board.url)
        .env("TOKEN", TOKEN)
        .env("QUEUE", QUEUE)
        .env("SHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the browser script finished within 60 s")
        .expect("node runs (Node.js is needed for the browser test)");
    pushing.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}");
    assert!(output.status.success(), "the browser script failed ({}):\n{stdout}\n{stderr}", output.status);

    // What the browser saw is what the storage holds.
    let retried = stdout.lines().find_map(|l| l.strip_prefix("ok: ")).expect("the script names the retried task");
    let task = board.admin_task(retried).await;
    assert_eq!(task.status, drover_core::Status::Done, "{task:?}");
    let stats = board.stats().await;
    assert_eq!(stats.dead, 0, "{stats:?}");
    // The limits the browser set are the storage's: a cap of 2 and, once removed, no rate.
    let summary = board.admin.queue(QUEUE).await.expect("the queue's summary");
    assert_eq!((summary.max_running, summary.rate), (Some(2), None), "{summary:?}");
    for name in [
        "00-refused",
        "01-login",
        "02-overview",
        "03-queue-dead",
        "04-task-dead",
        "05-task-done",
        "06-overview-paused",
        "07-overview-resumed",
        "08-queue",
        "09-workers",
        "10-queue-limits",
        "11-queue-filtered",
        "12-schedules",
    ] {
        let shot = shots.join(format!("{name}.png"));
        let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "no screenshot at {}", shot.display());
    }
}
