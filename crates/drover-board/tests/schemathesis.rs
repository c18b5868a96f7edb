//! The OpenAPI document exercised by schemathesis (PyPI) against a running board with data:
//! every operation of `GET /api/v1/openapi.json` (but the endless `/events` stream) called with
//! generated inputs, valid and not, under every check (`--checks all`): no server error, every
//! status, content type, header and body as the document says. `cargo xtask services`
//! installs schemathesis into a virtual environment in the cache folder; its reports stay
//! under the target directory (`$CARGO_TARGET_TMPDIR/drover-board/schemathesis/`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod running;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use drover_core::{Admin, Enqueue, ListQuery, PushOptions, Status};
use running::{artifacts, cache_dir, Email, Running, QUEUE, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_every_answer_as_the_openapi_document_says() {
    let venv = std::env::var_os("DROVER_SCHEMATHESIS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir("schemathesis-venv"));
    let st = venv.join("bin").join("st");
    assert!(
        st.exists(),
        "schemathesis is not at {}: `cargo xtask services` installs it (or set DROVER_SCHEMATHESIS_VENV)",
        st.display()
    );

    // Data of every kind: done, dead, pending (a delayed one) and a cancelled task.
    let board = Running::start(true).await;
    board
        .storage
        .push_with(Email { to: "bounce@example.com".into() }, PushOptions::new().max_attempts(1))
        .await
        .expect("push");
    for i in 0..5 {
        board.storage.push(Email { to: format!("user{i}@example.com") }).await.expect("push");
    }
    board
        .storage
        .push_with(Email { to: "later@example.com".into() }, PushOptions::new().delay(Duration::from_secs(3600)))
        .await
        .expect("push");
    board.wait_for("a dead task and five done", Duration::from_secs(10), |s| s.dead == 1 && s.done == 5).await;

    let dead = board.admin.list(QUEUE, ListQuery::new(Some(Status::Dead), 1)).await.expect("list")[0].id;

    // Once with generated names and ids (mostly 404s and 400s), once on the real store, queue
    // and dead task (pages of real tasks, the task, retry, cancel, pause, purge, push).
    let reports = artifacts("schemathesis");
    // Each run in its own folder: schemathesis reads a schemathesis.toml where it runs.
    let (generated, real) = (reports.join("generated"), reports.join("real"));
    std::fs::create_dir_all(&generated).and_then(|()| std::fs::create_dir_all(&real)).expect("report folders");
    let config = real.join("schemathesis.toml");
    let fixed =
        format!("[parameters]\n\"path.store\" = \"sqlite\"\n\"path.queue\" = \"{QUEUE}\"\n\"path.id\" = \"{dead}\"\n");
    std::fs::write(&config, fixed).expect("write schemathesis.toml");
    for (name, dir, config) in [("generated", &generated, None), ("real", &real, Some(&config))] {
        let mut command = tokio::process::Command::new(&st);
        if let Some(config) = config {
            command.arg("--config-file").arg(config);
        }
        let run = command
            .arg("run")
            .arg(format!("{}/api/v1/openapi.json", board.url))
            .args(["--checks", "all"])
            .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
            .args(["--header", "X-Drover-Csrf: 1"])
            .args(["--exclude-path", "/events"])
            // One worker: with several, Python 3.11's `ast` (which hypothesis calls while
            // generating) fails with "AST constructor recursion depth mismatch".
            .args(["--max-examples", "20", "--seed", "18", "--workers", "1", "--request-timeout", "5"])
            .args(["--generation-database", "none", "--no-color"])
            .args(["--report", "junit", "--report-junit-path"])
            .arg(dir.join("junit.xml"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("schemathesis finished within 60 s")
            .expect("schemathesis runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("schemathesis, {name} parameters:\n{stdout}{stderr}");
        assert!(
            output.status.success(),
            "schemathesis ({name} parameters) found problems ({}):\n{stdout}\n{stderr}",
            output.status
        );
    }
}
