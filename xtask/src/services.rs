//! `cargo xtask services`: report every backend server, start the local ones that are down
//! (or bring them up with `docker compose`), and say how to get the rest.
//!
//! Exits non-zero only when a server that an existing backend crate needs stays down; a
//! server no crate needs yet is only a warning.

use crate::backends;
use crate::servers::{docker_compose_works, Server, SERVERS};
use crate::{display_command, workspace_root};

/// What became of one server.
enum Status {
    Up,
    Started(&'static str),
    Down(String),
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        anyhow::bail!("`services` takes no options (got `{arg}`)");
    }
    let mut docker: Option<bool> = None;
    let mut rows = Vec::new();
    for server in SERVERS {
        let status = ensure(server, &mut docker);
        rows.push((server, status));
    }

    println!();
    println!("{:<11} {:<45} {:<16} needed by", "server", "URL", "status");
    let mut missing_needed = Vec::new();
    for (server, status) in &rows {
        let needed = backends::needing(server);
        let status_text = match status {
            Status::Up => "up".to_owned(),
            Status::Started(how) => format!("started ({how})"),
            Status::Down(_) if needed.is_empty() => "DOWN (warning)".to_owned(),
            Status::Down(_) => "DOWN".to_owned(),
        };
        let needed_text = if needed.is_empty() { "no crate yet".to_owned() } else { needed.join(", ") };
        println!("{:<11} {:<45} {:<16} {needed_text}", server.name, server.url(), status_text);
        if matches!(status, Status::Down(_)) && !needed.is_empty() {
            missing_needed.push(server.name);
        }
    }
    println!();
    for (server, status) in &rows {
        if let Status::Down(help) = status {
            println!("{} is not available:\n{help}\n", server.name);
        }
    }
    // pgmq lives inside PostgreSQL: install it once the server is up (see `pgmq.rs`).
    let postgres_up = rows.iter().any(|(s, status)| s.key == "postgres" && !matches!(status, Status::Down(_)));
    if postgres_up && backends::BackendSpec::by_name("pgmq").is_ok_and(|b| b.exists()) {
        match crate::pgmq::ensure() {
            Ok(done) => println!("pgmq: {done} (needed by pgmq)"),
            Err(error) => {
                println!("pgmq could not be installed: {error:#}\n");
                missing_needed.push("pgmq (inside PostgreSQL)");
            }
        }
    }
    if crate::backends::crate_exists("drover-prometheus") {
        match crate::tools::ensure_promtool() {
            Ok(done) => println!("{done} (needed by drover-prometheus)"),
            Err(error) => {
                println!("promtool could not be installed: {error:#}\n");
                missing_needed.push("promtool");
            }
        }
    }
    // drover-postgres's tests through PgBouncer (tests/conformance_pgbouncer.rs).
    if crate::backends::crate_exists("drover-postgres") {
        match crate::tools::ensure_pgbouncer() {
            Ok(done) => println!("{done} (needed by drover-postgres)"),
            Err(error) => {
                println!("pgbouncer could not be installed: {error:#}\n");
                missing_needed.push("pgbouncer");
            }
        }
    }
    // The production worker template's deployment files (examples/tests/deploy_files.rs).
    for (tool, ensure) in [
        ("systemd-analyze", crate::tools::ensure_systemd_analyze as fn() -> anyhow::Result<&'static str>),
        ("hadolint", crate::tools::ensure_hadolint),
    ] {
        match ensure() {
            Ok(done) => println!("{done} (needed by drover-examples)"),
            Err(error) => {
                println!("{tool} could not be installed: {error:#}\n");
                missing_needed.push(tool);
            }
        }
    }
    // drover-board's browser test (chromium driven by playwright-core) and schemathesis test.
    if crate::backends::crate_exists("drover-board") {
        for (tool, ensure) in [
            ("chromium", crate::tools::ensure_chromium as fn() -> anyhow::Result<&'static str>),
            ("playwright-core", crate::tools::ensure_playwright_core),
            ("schemathesis", crate::tools::ensure_schemathesis),
        ] {
            match ensure() {
                Ok(done) => println!("{done} (needed by drover-board)"),
                Err(error) => {
                    println!("{tool} could not be installed: {error:#}\n");
                    missing_needed.push(tool);
                }
            }
        }
    }
    if missing_needed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("servers that existing backend crates need are down: {}", missing_needed.join(", "))
    }
}

/// Make `server` answer if we can.
fn ensure(server: &'static Server, docker: &mut Option<bool>) -> Status {
    let url = server.url();
    if server.answers() {
        println!("{}: up at {url}", server.name);
        return Status::Up;
    }
    if !server.is_default_local() {
        println!("{}: down at {url}", server.name);
        return Status::Down(format!(
            "  it does not answer at {url}. {} points away from this machine's default \
             ({}), where `cargo xtask services` starts servers, so nothing was started;\n  \
             start the server it names, or unset {} to use the local default",
            server.env, server.default_url, server.env
        ));
    }
    let mut failures = Vec::new();
    if let Some(program) = server.installed() {
        println!("{}: down; starting the local server ({}): {}", server.name, program.display(), server.start);
        match server.start_local() {
            Ok(()) => {
                println!("{}: up", server.name);
                return Status::Started("local");
            }
            Err(error) => {
                println!("{}: could not start: {error:#}", server.name);
                failures.push(format!("  the local server would not start: {error:#}"));
            }
        }
    }
    if *docker.get_or_insert_with(docker_compose_works) {
        let mut command = std::process::Command::new("docker");
        command.args(["compose", "up", "-d", server.compose_service]).current_dir(workspace_root());
        println!("{}: down; running `{}`", server.name, display_command(&command));
        match command.status() {
            Ok(status) if status.success() => {
                if server.wait_until_answers(server.start_wait * 2) {
                    println!("{}: up", server.name);
                    return Status::Started("docker compose");
                }
                failures.push(format!(
                    "  `docker compose up -d {}` ran but nothing answers at {url}",
                    server.compose_service
                ));
            }
            Ok(status) => {
                failures.push(format!("  `docker compose up -d {}` failed ({status})", server.compose_service))
            }
            Err(error) => failures.push(format!("  could not run docker: {error}")),
        }
    }
    if server.installed().is_none() {
        failures.push(format!(
            "  nothing answers at {url}, it is not installed here, and `docker compose` does not work.\n  \
             Install it: apt-get install -y {}\n  then start it: {}\n  \
             or, where Docker runs: docker compose up -d {}\n  \
             or point {} at a server that runs.",
            server.apt_package, server.start, server.compose_service, server.env
        ));
    }
    Status::Down(failures.join("\n"))
}
