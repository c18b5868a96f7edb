//! The `drover` command through PgBouncer 1.18 in transaction pooling mode (Debian's
//! `pgbouncer`, installed by `cargo xtask services`), in front of the PostgreSQL database at
//! `DATABASE_URL`, with one server connection, so every command process gets the server
//! connection the one before it used.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../drover-postgres/tests/common/pgbouncer.rs"]
mod pgbouncer;

use std::process::{Command, Output};

use drover_core::TaskId;
use pgbouncer::{PgBouncer, Upstream};
use serde_json::Value;

fn direct() -> Upstream {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    Upstream::parse(&url).unwrap_or_else(|e| panic!("DATABASE_URL: {e}"))
}

/// Run the binary with `args`, `DROVER_PG_TRANSACTION_POOLING` set to `pooling` (or unset).
fn drover(url: &str, pooling: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_drover"));
    command.arg("--url").arg(url).args(args).env_remove("DROVER_URL").env_remove("DROVER_PG_TRANSACTION_POOLING");
    if let Some(value) = pooling {
        command.env("DROVER_PG_TRANSACTION_POOLING", value);
    }
    command.output().expect("run the drover binary")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn ok(output: Output, what: &str) -> Output {
    assert!(output.status.success(), "{what} failed: {}", text(&output));
    output
}

#[test]
fn every_command_kind_works_through_pgbouncer_with_the_switch_and_not_without_it() {
    let bouncer = PgBouncer::start(&direct(), 1).unwrap_or_else(|e| panic!("{e}"));
    let url = bouncer.url();
    let queue = format!("cli-pgb-{}", TaskId::new());

    ok(drover(&url, None, &["--pg-transaction-pooling", "migrate"]), "migrate");
    for i in 0..3 {
        let job = format!(r#"{{"n":{i}}}"#);
        ok(drover(&url, None, &["--pg-transaction-pooling", "push", &queue, &job]), "push");
    }
    // The environment variable does what the flag does.
    let listed = ok(drover(&url, Some("true"), &["--json", "list", &queue]), "list");
    let tasks: Value = serde_json::from_slice(&listed.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&listed)));
    assert_eq!(tasks.as_array().map(Vec::len), Some(3), "{tasks}");
    let queues = ok(drover(&url, Some("1"), &["--json", "queues"]), "queues");
    assert!(String::from_utf8_lossy(&queues.stdout).contains(&queue), "{}", text(&queues));
    let id = tasks[0]["id"].as_str().unwrap_or_else(|| panic!("a task id in {tasks}")).to_owned();
    ok(drover(&url, Some("true"), &["cancel", &id]), "cancel");
    let shown = ok(drover(&url, Some("true"), &["--json", "show", &id, "--queue", &queue]), "show");
    assert!(String::from_utf8_lossy(&shown.stdout).contains("cancelled"), "{}", text(&shown));

    // Without the switch, each process names its statements `sqlx_s_1`, … on the one server
    // connection, which still holds the previous process's: the second one fails.
    let failures: Vec<String> = (0..3)
        .map(|_| drover(&url, Some("false"), &["queues"]))
        .filter(|output| !output.status.success())
        .map(|output| text(&output))
        .collect();
    assert!(
        failures.iter().any(|message| message.contains("prepared statement")),
        "the default mode should fail through a transaction pooler (else this test proves nothing): {failures:?}\n{}",
        bouncer.log()
    );

    // The switch is for PostgreSQL URLs only.
    let redis = drover("redis://127.0.0.1:6379", None, &["--pg-transaction-pooling", "queues"]);
    assert_eq!(redis.status.code(), Some(4), "{}", text(&redis));
    assert!(text(&redis).contains("postgres:// URLs only"), "{}", text(&redis));
}
