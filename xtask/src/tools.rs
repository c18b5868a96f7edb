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
    for args in [&["update", "-qq"][..], &["install", "-y", "-qq", "--no-install-recommends", "prometheus"][..]] {
        let output = Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive").output()?;
        if !output.status.success() {
            anyhow::bail!(
                "apt-get {} failed (run as root, or install Debian's `prometheus` package yourself):\n{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    if present("promtool") {
        Ok("promtool installed (Debian package prometheus)")
    } else {
        anyhow::bail!("the prometheus package installed, but promtool is not on PATH")
    }
}
