//! Drover's development tasks, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`).
//!
//! - `ci`: format check, clippy, docs, then the tests, stopping at the first failure.
//! - `test`: check the servers the selected backends need, then `cargo test`.
//! - `services`: report, and where possible start, every backend server.
//! - `external`: build and run the user applications of `tests/external/` (outside the workspace).
//! - `bench`: the standard workload of DESIGN.md "Performance", built in release mode.

mod backends;
mod bench;
mod ci;
mod external;
mod pgmq;
mod servers;
mod services;
mod test;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  ci [--backend NAME]... [--skip-missing]
        cargo fmt --check, clippy -D warnings, doc -D warnings, then `test`
  test [--backend NAME]... [--skip-missing] [-- CARGO_TEST_ARGS...]
        check the servers the backends need, then cargo test (the workspace by default)
  services
        report every backend server; start the local ones that are down
  external
        build and run the applications of tests/external (outside the workspace, sqlx 0.9)
  bench [--backend NAME]... [--json] [--n N] [--runs R]
        throughput and latency of the standard workload; rewrites docs/benchmarks.md

backends: memory sqlite postgres mysql redis rsmq amqp nats pgmq (only those whose crate exists)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let result = match command.as_str() {
        "ci" => ci::run(rest),
        "test" => test::run(rest),
        "services" => services::run(rest),
        "external" => external::run(rest),
        "bench" => bench::run(rest),
        "bench-inner" => bench::run_inner(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(anyhow::anyhow!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask {command}: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// A `cargo` command run from the workspace root, using the cargo that runs xtask.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// The command line of `command`, for messages.
fn display_command(command: &Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut line = program;
    for arg in command.get_args() {
        let arg = arg.to_string_lossy();
        line.push(' ');
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            line.push_str(&format!("'{arg}'"));
        } else {
            line.push_str(&arg);
        }
    }
    line
}

/// The options shared by `ci` and `test`: which backends, whether to skip missing servers,
/// and extra arguments for `cargo test` (after `--`).
#[derive(Debug, Default)]
struct TestOptions {
    backends: Vec<String>,
    skip_missing: bool,
    cargo_test_args: Vec<String>,
}

impl TestOptions {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut options = Self::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--backend" => {
                    let name = args.next().ok_or_else(|| anyhow::anyhow!("--backend needs a name"))?;
                    options.backends.push(name.clone());
                }
                "--skip-missing" => options.skip_missing = true,
                "--" => {
                    options.cargo_test_args.extend(args.by_ref().cloned());
                }
                other => match other.strip_prefix("--backend=") {
                    Some(name) => options.backends.push(name.to_owned()),
                    None => anyhow::bail!("unknown option `{other}`\n\n{USAGE}"),
                },
            }
        }
        Ok(options)
    }
}
