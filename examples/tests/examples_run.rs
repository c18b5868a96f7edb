//! Every example runs to completion and prints its result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn run(bin: &str, args: &[&str], expect: &str) {
    let output = Command::new(bin).args(args).env("RUST_LOG", "warn").output().expect("example binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{bin} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(expect), "{bin} did not print {expect:?}\nstdout:\n{stdout}");
}

#[test]
fn demo() {
    run(env!("CARGO_BIN_EXE_demo"), &["2000"], "lost         0");
}

#[test]
fn concurrency() {
    run(env!("CARGO_BIN_EXE_concurrency"), &[], "processed 500 emails");
}

#[test]
fn graceful_shutdown() {
    run(env!("CARGO_BIN_EXE_graceful_shutdown"), &[], "nothing lost");
}

#[test]
fn retries() {
    run(env!("CARGO_BIN_EXE_retries"), &[], "30 done, 2 dead");
}

#[test]
fn rate_limit() {
    run(env!("CARGO_BIN_EXE_rate_limit"), &[], "processed 250 jobs");
}

#[test]
fn multiple_workers() {
    run(env!("CARGO_BIN_EXE_multiple_workers"), &[], "processed 100 emails and 12 reports");
}

#[test]
fn metrics() {
    run(
        env!("CARGO_BIN_EXE_metrics"),
        &[],
        r#"drover_jobs_total{outcome="done",queue="email",worker="email-worker"} 17"#,
    );
}
