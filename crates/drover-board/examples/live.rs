//! A worker and the board on one SQLite file: emails are pushed every second, most are sent,
//! some fail and retry, a few are malformed and end dead, so the board has something to show.
//! Retry the dead ones, pause the queue and watch the worker stop claiming; a recurring
//! digest (every 30 seconds, drover-cron) shows on the schedules page.
//!
//! ```text
//! cargo run -p drover-board --example live
//! ```
//!
//! Set `DROVER_BOARD_TOKEN` (or `DROVER_BOARD_USER` and `DROVER_BOARD_PASSWORD`) to choose the
//! login; without them the example makes a token for this run and prints it.
//! `DROVER_BOARD_ADDR` (default 127.0.0.1:3000) and `DROVER_BOARD_DB` (default
//! `drover-board-demo.db` in the temporary folder) move it.

use std::time::Duration;

use drover_board::{Auth, Board, Role};
use drover_core::{BoxDynError, Enqueue, Monitor, NewTask, PushOptions, WorkerBuilder};
use drover_sqlite::{SqliteAdmin, SqliteConfig, SqliteStorage};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Email {
    to: String,
}

async fn send_email(email: Email, attempt: drover_core::Attempt) -> Result<(), BoxDynError> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    if email.to.starts_with("flaky") && attempt.0 < 3 {
        return Err(format!("SMTP 421 from mx.example.com for {}: try again later", email.to).into());
    }
    if email.to.starts_with("bounce") {
        return Err(format!("SMTP 550 for {}: no such mailbox <{}>", email.to, email.to).into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::var("DROVER_BOARD_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let path = std::env::var_os("DROVER_BOARD_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("drover-board-demo.db"));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let storage = SqliteStorage::<Email>::connect_with_config(&url, SqliteConfig::new("email")).await?;
    let admin = SqliteAdmin::new(drover_sqlite::connect_pool(&url).await?);

    let mut auth = Auth::from_env();
    let logins = ["TOKEN", "USER", "PASSWORD", "READ_ONLY_TOKEN", "READ_ONLY_USER", "READ_ONLY_PASSWORD"];
    if !logins.iter().any(|name| std::env::var_os(format!("DROVER_BOARD_{name}")).is_some()) {
        let token = format!("{:032x}", fastrand::u128(..));
        println!("No DROVER_BOARD_* login set; this run's operator token is {token}");
        auth = Auth::new().token(token, Role::Operator);
    }
    auth.validate()?;

    // A recurring job: every 30 s a digest email, pushed by the pipe the monitor runs.
    let digest =
        drover_cron::CronJob::with_job("team-digest", drover_cron::Schedule::every(Duration::from_secs(30))?, |_| {
            Email { to: "team@example.com".to_owned() }
        })?
        .pipe_to(storage.clone());

    let app = Board::new().register(admin).schedule(digest.clone()).auth(auth).into_router();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("The board: http://{addr}/ (log in at http://{addr}/_board/login); jobs in {}", path.display());

    let producer = storage.clone();
    tokio::spawn(async move {
        for i in 0u64.. {
            let to = match i % 10 {
                3 => format!("flaky{i}@example.com"),
                7 => format!("bounce{i}@example.com"),
                _ => format!("user{i}@example.com"),
            };
            let _ = producer.push_with(Email { to }, PushOptions::new().max_attempts(3)).await;
            if i % 25 == 24 {
                let malformed = NewTask::new(format!("{{\"to\": {i}}}").into_bytes(), PushOptions::new());
                let _ = producer.enqueue(vec![malformed]).await;
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    });

    let worker = WorkerBuilder::new("email-worker").concurrency(2).backend(storage).build_fn(send_email);
    let monitor = Monitor::new().register(worker).register(digest);
    tokio::select! {
        served = axum::serve(listener, app) => served?,
        ran = monitor.run_with_signal(tokio::signal::ctrl_c()) => ran?,
    }
    Ok(())
}
