//! The shipped alerting rules and dashboard: `promtool check rules` and `promtool test rules`
//! pass, every expression of the Grafana dashboard parses, and both use only series this crate
//! exports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy").join(file)
}

fn promtool(args: &[&str], dir: &Path) {
    let output = Command::new("promtool").args(args).current_dir(dir).output().unwrap_or_else(|e| {
        panic!("promtool is not installed ({e}); `cargo xtask services` installs it (apt-get install prometheus)")
    });
    assert!(
        output.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The series names the layer and the queue gauges export (histograms with their suffixes).
const EXPORTED: &[&str] = &[
    "drover_jobs_total",
    "drover_job_duration_seconds_bucket",
    "drover_job_duration_seconds_sum",
    "drover_job_duration_seconds_count",
    "drover_jobs_in_flight",
    "drover_job_wait_seconds_bucket",
    "drover_job_wait_seconds_sum",
    "drover_job_wait_seconds_count",
    "drover_queue_tasks",
    "drover_queue_oldest_due_age_seconds",
    "drover_queue_stats_up",
];

fn series_in(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("drover_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        names.push(text[start..end].to_owned());
        i = end;
    }
    names
}

#[test]
fn the_alerting_rules_pass_promtool_check_and_their_unit_tests() {
    let dir = deploy("prometheus");
    promtool(&["check", "rules", "drover-alerts.yml"], &dir);
    promtool(&["test", "rules", "drover-alerts.test.yml"], &dir);
    let rules = std::fs::read_to_string(dir.join("drover-alerts.yml")).unwrap();
    let exprs: String = rules.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    for name in series_in(&exprs) {
        assert!(EXPORTED.contains(&name.as_str()), "the rules use {name}, which drover-prometheus does not export");
    }
}

#[test]
fn every_dashboard_expression_parses_and_uses_exported_series() {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("grafana/drover-dashboard.json")).unwrap()).unwrap();
    let mut exprs = Vec::new();
    for panel in json["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            exprs.push(target["expr"].as_str().expect("an expr").to_owned());
        }
    }
    assert!(exprs.len() >= 8, "the dashboard has a panel per series: {exprs:?}");
    // Grafana's variables, as Grafana would fill them in.
    let exprs: Vec<String> =
        exprs.iter().map(|e| e.replace("$__rate_interval", "5m").replace("$queue", ".*")).collect();
    for expr in &exprs {
        for name in series_in(expr) {
            assert!(
                EXPORTED.contains(&name.as_str()),
                "the dashboard uses {name}, which drover-prometheus does not export"
            );
        }
    }
    // promtool parses PromQL in recording rules: one rule per dashboard expression.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard_expr_{i}\n        expr: {}\n",
            serde_json::to_string(expr).unwrap()
        ));
    }
    let dir = std::env::temp_dir().join(format!("drover-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dashboard-rules.yml"), rules).unwrap();
    promtool(&["check", "rules", "dashboard-rules.yml"], &dir);
    std::fs::remove_dir_all(&dir).ok();
}
