//! `cargo xtask ci`: format check, clippy, docs, tests — in that order, stopping at the first
//! step that fails and naming it.

use crate::{cargo, display_command, test, TestOptions};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = TestOptions::parse(args)?;
    let steps: [(&str, &[&str]); 3] = [
        ("fmt", &["fmt", "--all", "--", "--check"]),
        ("clippy", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
        ("doc", &["doc", "--workspace", "--no-deps"]),
    ];
    let total = steps.len() + 1;
    for (index, (name, args)) in steps.iter().enumerate() {
        let mut command = cargo();
        command.args(*args);
        if *name == "doc" {
            command.env("RUSTDOCFLAGS", "-Dwarnings");
        }
        let mut line = display_command(&command);
        if *name == "doc" {
            line.insert_str(0, "RUSTDOCFLAGS=-Dwarnings ");
        }
        println!("==> ci [{}/{total}] {name}: {line}", index + 1);
        let status = command.status()?;
        if !status.success() {
            anyhow::bail!("ci step `{name}` failed ({status}): `{line}`");
        }
    }
    println!("==> ci [{total}/{total}] test: cargo xtask test");
    test::run_with(&options).map_err(|error| anyhow::anyhow!("ci step `test` failed: {error:#}"))?;
    println!("==> ci: all {total} steps passed");
    Ok(())
}
