//! `cargo xtask test`: check that the servers the selected backends need answer, then run
//! `cargo test`. A missing server is a refusal (naming the server and how to start it) unless
//! `--skip-missing` is given, which skips that backend's crate and says so loudly.

use std::collections::HashMap;

use crate::backends::{self, BackendSpec};
use crate::servers::Server;
use crate::{cargo, display_command, TestOptions};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    run_with(&TestOptions::parse(args)?)
}

pub fn run_with(options: &TestOptions) -> anyhow::Result<()> {
    let whole_workspace = options.backends.is_empty();
    let selected: Vec<&'static BackendSpec> = if whole_workspace {
        backends::existing().collect()
    } else {
        let mut selected = Vec::new();
        for name in &options.backends {
            let backend = BackendSpec::by_name(name)?;
            if !backend.exists() {
                anyhow::bail!(
                    "backend `{name}` has no crate yet (crates/{} does not exist)",
                    backend.crates.first().copied().unwrap_or_default()
                );
            }
            if !selected.iter().any(|b: &&BackendSpec| b.name == backend.name) {
                selected.push(backend);
            }
        }
        selected
    };

    let mut answers: HashMap<&'static str, bool> = HashMap::new();
    let mut refusals = Vec::new();
    let mut skipped: Vec<(&'static BackendSpec, &'static Server)> = Vec::new();
    for backend in &selected {
        for server in backend.required_servers() {
            let up = *answers.entry(server.key).or_insert_with(|| server.answers());
            if up {
                continue;
            }
            if options.skip_missing {
                skipped.push((backend, server));
            } else {
                refusals.push(refusal(backend, server));
            }
            break;
        }
    }
    if !refusals.is_empty() {
        anyhow::bail!("refusing to test without the servers the backends need:\n\n{}", refusals.join("\n\n"));
    }
    print_skipped(&skipped);

    let mut command = cargo();
    command.arg("test");
    if whole_workspace {
        command.arg("--workspace");
        for (backend, _) in &skipped {
            for krate in backend.existing_crates() {
                command.args(["--exclude", krate]);
            }
        }
    } else {
        let mut crates: Vec<&str> = Vec::new();
        for backend in &selected {
            if skipped.iter().any(|(b, _)| b.name == backend.name) {
                continue;
            }
            for krate in backend.existing_crates() {
                if !crates.contains(&krate) {
                    crates.push(krate);
                }
            }
        }
        if crates.is_empty() {
            println!("xtask test: every selected backend was skipped; nothing was tested.");
            return Ok(());
        }
        for krate in crates {
            command.args(["-p", krate]);
        }
    }
    // The Redis Cluster tests (crates/drover-redis/tests/cluster_*.rs, their own cluster on
    // loopback ports 7100-7115) need the crate's `cluster` feature.
    let redis_tested = |b: &&BackendSpec| b.name == "redis" && !skipped.iter().any(|(s, _)| s.name == b.name);
    if selected.iter().any(redis_tested) {
        command.args(["--features", "drover-redis/cluster"]);
    }
    if !options.cargo_test_args.is_empty() {
        command.arg("--").args(&options.cargo_test_args);
    }

    println!("$ {}", display_command(&command));
    let status = command.status()?;
    // Say it again after cargo's output, where it cannot be missed.
    print_skipped(&skipped);
    if !status.success() {
        anyhow::bail!("`{}` failed ({status})", display_command(&command));
    }
    Ok(())
}

fn refusal(backend: &BackendSpec, server: &Server) -> String {
    format!(
        "backend `{}` ({}) needs {} at {}, which does not answer.\n  \
         Start it with `cargo xtask services` (or set {} to a server that runs),\n  \
         or pass --skip-missing to skip this backend's tests.",
        backend.name,
        backend.crates.join(", "),
        server.name,
        server.url(),
        server.env
    )
}

fn print_skipped(skipped: &[(&BackendSpec, &Server)]) {
    if skipped.is_empty() {
        return;
    }
    let bar = "!".repeat(78);
    eprintln!("{bar}");
    for (backend, server) in skipped {
        eprintln!(
            "!! SKIPPED backend `{}` ({}): {} does not answer at {} (--skip-missing)",
            backend.name,
            backend.crates.join(", "),
            server.name,
            server.url()
        );
    }
    eprintln!("!! Its tests did NOT run. Start the servers with `cargo xtask services`.");
    eprintln!("{bar}");
}
