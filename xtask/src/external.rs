//! `cargo xtask external`: build and run the user applications under `tests/external/`, crates
//! outside the workspace that depend on Drover the way a user's application does (with the
//! sqlx of their own choosing), against the servers here.
//!
//! Each gets the workspace's `Cargo.lock` as its starting point, so it resolves the same
//! versions the workspace was tested with, and shares the workspace's target directory, so only
//! what its own feature set changes is compiled again.

use std::path::PathBuf;

use crate::{cargo, display_command, workspace_root};

/// The applications, each a directory with its own `Cargo.toml` and `[workspace]`.
const APPS: &[&str] = &["seed-postgres"];

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(other) = args.first() {
        anyhow::bail!("`cargo xtask external` takes no arguments, got `{other}`");
    }
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    for app in APPS {
        let dir = root.join("tests/external").join(app);
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))
            .map_err(|e| anyhow::anyhow!("copying Cargo.lock into {}: {e}", dir.display()))?;
        let mut command = cargo();
        command
            .args(["run", "--quiet", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .env(
                "DATABASE_URL",
                std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
            );
        println!("$ {}", display_command(&command));
        let status = command.status()?;
        if !status.success() {
            anyhow::bail!("the external application `{app}` failed ({status})");
        }
        println!("external application `{app}`: ok");
    }
    Ok(())
}
