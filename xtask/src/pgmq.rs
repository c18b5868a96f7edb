//! pgmq for the `drover-pgmq` tests and bench: installed once per machine into the PostgreSQL
//! at `DATABASE_URL`, from the PyPI package `pgmq` (which ships pgmq's `pgmq.sql` and is also
//! the Python client the interop tests use). Nothing of pgmq is kept in this repository.
//!
//! `cargo xtask services` calls [`ensure`]: when the database already has pgmq it does
//! nothing; otherwise it makes a Python virtual environment in the cache folder (once),
//! installs the package there with pip, and runs its `pgmq.sql` with psql in one transaction.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::servers::SERVERS;

/// The PyPI release whose `pgmq/sql/pgmq.sql` is installed (pgmq 1.13.0).
const PACKAGE: &str = "pgmq==1.1.4";

/// Whether the database has the pgmq functions `drover-pgmq` calls.
const PRESENT: &str = "SELECT to_regprocedure('pgmq.send_batch(text, jsonb[], jsonb[], timestamp with time zone)') \
                       IS NOT NULL";

/// The virtual environment holding the PyPI `pgmq` package: `DROVER_PGMQ_VENV`, or
/// `drover/pgmq-venv` in the cache folder. The interop tests find the Python client there too.
pub fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("DROVER_PGMQ_VENV").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("drover").join("pgmq-venv")
}

fn database_url() -> String {
    SERVERS.iter().find(|s| s.key == "postgres").map(|s| s.url()).unwrap_or_default()
}

/// Run `command` quietly; its output becomes the error when it fails.
fn run(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| anyhow::anyhow!("{what}: could not run {:?}: {e}", command.get_program()))?;
    if !output.status.success() {
        anyhow::bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn installed(url: &str) -> anyhow::Result<bool> {
    let out = run(Command::new("psql").args([url, "-XAtqc", PRESENT]), "checking for pgmq with psql")?;
    Ok(out == "t")
}

/// The path of `pgmq.sql` in the virtual environment, installing the package first if needed.
fn sql_file() -> anyhow::Result<PathBuf> {
    let venv = venv();
    let python = venv.join("bin").join("python");
    let locate = "import os, pgmq; print(os.path.join(os.path.dirname(pgmq.__file__), 'sql', 'pgmq.sql'))";
    if let Ok(path) = run(Command::new(&python).args(["-c", locate]), "locating pgmq.sql") {
        return Ok(PathBuf::from(path));
    }
    println!("pgmq: installing the PyPI package {PACKAGE} into {}", venv.display());
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv), "python3 -m venv")?;
    run(
        Command::new(venv.join("bin").join("pip")).args(["install", "--quiet", "--disable-pip-version-check", PACKAGE]),
        "pip install pgmq",
    )?;
    Ok(PathBuf::from(run(Command::new(&python).args(["-c", locate]), "locating pgmq.sql")?))
}

/// Make sure the database has pgmq (and this machine the Python client); returns what was done.
pub fn ensure() -> anyhow::Result<String> {
    let url = database_url();
    // The Python client is wanted by the interop tests even where the database has pgmq.
    let sql = sql_file()?;
    if installed(&url)? {
        return Ok("already installed".to_owned());
    }
    let version = std::fs::read_to_string(sql.with_file_name("VERSION")).unwrap_or_default();
    println!("pgmq: installing pgmq {} from {} into {url}", version.trim(), sql.display());
    run(
        Command::new("psql").arg(&url).args(["-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f"]).arg(&sql),
        "psql -f pgmq.sql",
    )?;
    if !installed(&url)? {
        anyhow::bail!("pgmq.sql ran but the database still lacks pgmq.send_batch");
    }
    Ok(format!("installed pgmq {}", version.trim()))
}
