//! How results are shown: a line for people, a JSON object per line for programs, and one
//! backend's section of `docs/benchmarks.md` (the other backends' sections are kept).

use std::path::PathBuf;

use serde::Serialize;

use super::suite::Measurement;
use crate::workspace_root;

const INTRO: &str = "\
# Benchmarks

Measured by `cargo xtask bench`, never by timed tests. The standard workload (DESIGN.md,
\"Performance\"): jobs of `{\"id\": i, \"to\": \"user<i>@example.com\"}`, JSON-encoded.

- **enqueue_bulk**: 10,000 jobs through `push_bulk`.
- **enqueue_single**: 2,000 `push` calls from one task on the runtime (as a request handler
  pushes), each awaited before the next.
- **drain**: 10,000 jobs enqueued first, then one worker (`parallelize(tokio::spawn)`) with a
  no-op handler, timed from its start until every job has run and the worker has stopped.
- **drain with a layer** (memory only): the drain at concurrency 10 with one observing layer
  on the worker (`PrometheusLayer`; or `NewSentryLayer` + `SentryLayer` with a client that
  samples every transaction and discards what it sends), beside the bare worker measured in
  the same rounds.
- **drain with a cap that never binds** (PostgreSQL, MySQL, Redis): the drain at concurrency 10 on a
  queue whose `GlobalConcurrency` cap is 1,000,000, beside an uncapped queue in the same
  rounds: what the capped claim path costs; and beside them a queue with a per-key limit of 1
  whose jobs each have a concurrency key of their own (a per-key limit that never binds):
  what the keyed claim path costs.
- **enqueue_single in other settings** (Redis): the same 2,000 pushes with the push spin
  (`RedisConfig::set_push_spin`) off, and from 50 tasks at once (each awaiting its pushes one
  after another) with the spin at its default and off, in the same rounds.
- **latency**: a running worker at concurrency 50 while jobs are pushed one at a time at a
  steady 1,000 jobs/s for 3 s; time from `push` to the handler's start, p50 and p99.

Each throughput is the median of 5 runs (`--runs`), each on a fresh queue; on a 2-core
machine doing other work the drain figures still move by a third or more between runs.
The bench runs in the `bench-fast` profile (release, thin LTO) on a multi-threaded Tokio
runtime. `cargo xtask bench --backend NAME` rewrites that backend's section below and keeps
the others; add `--json` for one JSON object per line and measurement on standard output.
";

impl Measurement {
    fn name(&self) -> &'static str {
        match self {
            Self::EnqueueBulk { .. } => "enqueue_bulk",
            Self::EnqueueSingle { .. } => "enqueue_single",
            Self::SinglePushVariant { .. } => "enqueue_single_variant",
            Self::Drain { .. } => "drain",
            Self::LayeredDrain { .. } => "drain_with_layer",
            Self::Latency { .. } => "latency",
            Self::ScaleDrain { .. } => "scale_drain",
        }
    }

    /// One JSON object, in the shape (and key order) DESIGN.md gives.
    pub fn to_json(&self, backend: &str) -> String {
        let measurement = self.name();
        let line = match *self {
            Self::EnqueueBulk { n, per_s } | Self::EnqueueSingle { n, per_s } => {
                JsonLine::Enqueue { backend, measurement, n, per_s: round(per_s, 1) }
            }
            Self::Drain { n, concurrency, per_s } => {
                JsonLine::Drain { backend, measurement, n, concurrency, per_s: round(per_s, 1) }
            }
            Self::SinglePushVariant { variant, callers, n, per_s } => {
                JsonLine::SinglePushVariant { backend, measurement, variant, callers, n, per_s: round(per_s, 1) }
            }
            Self::LayeredDrain { layer, n, concurrency, per_s } => {
                JsonLine::LayeredDrain { backend, measurement, layer, n, concurrency, per_s: round(per_s, 1) }
            }
            Self::Latency { rate_per_s, n, concurrency, p50_ms, p99_ms } => JsonLine::Latency {
                backend,
                measurement,
                rate_per_s,
                p50_ms: round(p50_ms, 3),
                p99_ms: round(p99_ms, 3),
                n,
                concurrency,
            },
            Self::ScaleDrain { n, concurrency, per_s, baseline_per_s, rss_kib } => JsonLine::ScaleDrain {
                backend,
                measurement,
                n,
                concurrency,
                per_s: round(per_s, 1),
                baseline_per_s: round(baseline_per_s, 1),
                share: round(share(per_s, baseline_per_s), 3),
                rss_kib,
            },
        };
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// One line for people.
    pub fn to_line(&self, backend: &str) -> String {
        let name = self.name();
        match *self {
            Self::EnqueueBulk { n, per_s } | Self::EnqueueSingle { n, per_s } => {
                format!("{backend:<10} {name:<15} n={n:<6} {:>30} jobs/s", thousands(per_s))
            }
            Self::Drain { n, concurrency, per_s } => format!(
                "{backend:<10} {name:<15} n={n:<6} concurrency={concurrency:<4} {:>13} jobs/s",
                thousands(per_s)
            ),
            Self::SinglePushVariant { variant, callers, n, per_s } => format!(
                "{backend:<10} enqueue_single n={n:<6} callers={callers:<3} {variant:<22} {:>13} jobs/s",
                thousands(per_s)
            ),
            Self::LayeredDrain { layer, n, concurrency, per_s } => format!(
                "{backend:<10} drain+{layer:<10} n={n:<6} concurrency={concurrency:<4} {:>13} jobs/s",
                thousands(per_s)
            ),
            Self::Latency { rate_per_s, n, concurrency, p50_ms, p99_ms } => format!(
                "{backend:<10} {name:<15} n={n:<6} concurrency={concurrency:<4} at {rate_per_s}/s: \
                 p50 {p50_ms:.3} ms, p99 {p99_ms:.3} ms"
            ),
            Self::ScaleDrain { n, concurrency, per_s, baseline_per_s, rss_kib } => format!(
                "{backend:<10} {name:<15} n={n:<6} concurrency={concurrency:<4} {:>13} jobs/s \
                 ({:.0}% of the 10,000-task drain); anonymous RSS {} at the start, {} after 100,000 jobs, {} at the end",
                thousands(per_s),
                100.0 * share(per_s, baseline_per_s),
                mib(rss_kib[0]),
                mib(rss_kib[1]),
                mib(rss_kib[2]),
            ),
        }
    }

    fn to_row(&self) -> String {
        let name = self.name();
        match *self {
            Self::EnqueueBulk { n, per_s } | Self::EnqueueSingle { n, per_s } => {
                format!("| {name} | {} | | {} jobs/s |", thousands(n as f64), thousands(per_s))
            }
            Self::Drain { n, concurrency, per_s } => {
                format!("| {name} | {} | {concurrency} | {} jobs/s |", thousands(n as f64), thousands(per_s))
            }
            Self::SinglePushVariant { variant, callers, n, per_s } => {
                let from = if callers == 1 { "one caller".to_owned() } else { format!("{callers} callers at once") };
                format!(
                    "| enqueue_single, {from}, {variant} (same rounds as the rows beside it) | {} | | {} jobs/s |",
                    thousands(n as f64),
                    thousands(per_s)
                )
            }
            Self::LayeredDrain { layer, n, concurrency, per_s } => {
                let what = match layer {
                    "none" => "drain, bare worker (same rounds as the variants below)".to_owned(),
                    "prometheus" | "sentry" => format!("drain with the {layer} layer"),
                    other => format!("drain with {other}"),
                };
                format!("| {what} | {} | {concurrency} | {} jobs/s |", thousands(n as f64), thousands(per_s))
            }
            Self::Latency { rate_per_s, n, concurrency, p50_ms, p99_ms } => format!(
                "| {name} ({} jobs/s offered) | {} | {concurrency} | p50 {p50_ms:.3} ms, p99 {p99_ms:.3} ms |",
                thousands(rate_per_s as f64),
                thousands(n as f64)
            ),
            Self::ScaleDrain { n, concurrency, per_s, baseline_per_s, rss_kib } => format!(
                "| drain of a {} backlog ({:.0}% of the 10,000-task drain; anonymous resident memory {} at its start, \
                 {} after 100,000 jobs, {} at its end) | {} | {concurrency} | {} jobs/s |",
                thousands(n as f64),
                100.0 * share(per_s, baseline_per_s),
                mib(rss_kib[0]),
                mib(rss_kib[1]),
                mib(rss_kib[2]),
                thousands(n as f64),
                thousands(per_s)
            ),
        }
    }
}

/// `part` as a share of `whole` (0 when `whole` is 0).
fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

/// KiB as MiB for people.
fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A measurement as one line of `--json` output; the variants fix the key order.
#[derive(Serialize)]
#[serde(untagged)]
enum JsonLine<'a> {
    Enqueue {
        backend: &'a str,
        measurement: &'static str,
        n: u64,
        per_s: f64,
    },
    Drain {
        backend: &'a str,
        measurement: &'static str,
        n: u64,
        concurrency: usize,
        per_s: f64,
    },
    SinglePushVariant {
        backend: &'a str,
        measurement: &'static str,
        variant: &'static str,
        callers: usize,
        n: u64,
        per_s: f64,
    },
    LayeredDrain {
        backend: &'a str,
        measurement: &'static str,
        layer: &'static str,
        n: u64,
        concurrency: usize,
        per_s: f64,
    },
    Latency {
        backend: &'a str,
        measurement: &'static str,
        rate_per_s: u64,
        p50_ms: f64,
        p99_ms: f64,
        n: u64,
        concurrency: usize,
    },
    ScaleDrain {
        backend: &'a str,
        measurement: &'static str,
        n: u64,
        concurrency: usize,
        per_s: f64,
        baseline_per_s: f64,
        share: f64,
        rss_kib: [u64; 3],
    },
}

/// One backend's results, written as its section of `docs/benchmarks.md`.
pub struct Report {
    backend: String,
    command: String,
    measurements: Vec<Measurement>,
}

impl Report {
    pub fn new(backend: &str, command: String) -> Self {
        Self { backend: backend.to_owned(), command, measurements: Vec::new() }
    }

    pub fn push(&mut self, measurement: Measurement) {
        self.measurements.push(measurement);
    }

    /// Replace (or add) this backend's section of `docs/benchmarks.md`.
    pub fn write(&self) -> anyhow::Result<PathBuf> {
        let path = workspace_root().join("docs").join("benchmarks.md");
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        let updated = replace_section(&existing, &self.backend, &self.section());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, updated)?;
        Ok(path)
    }

    fn section(&self) -> String {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let date = chrono::Utc::now().format("%Y-%m-%d");
        // Other work on a small machine moves these figures a lot; the load says how busy it was.
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next().map(|one_minute| format!(" (load average {one_minute})")))
            .unwrap_or_default();
        let mut text = format!(
            "## {}\n\nMeasured {date} on a machine with {cores} cores{load}, with `{}`.\n\n\
             | measurement | jobs | concurrency | result |\n|---|---:|---:|---:|\n",
            self.backend, self.command
        );
        for measurement in &self.measurements {
            text.push_str(&measurement.to_row());
            text.push('\n');
        }
        text
    }
}

/// `document` with the `## backend` section replaced by `section` (or added at the end), the
/// intro and every other section kept as they were.
fn replace_section(document: &str, backend: &str, section: &str) -> String {
    let heading = format!("## {backend}");
    let mut intro = String::new();
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in document.lines() {
        if line.starts_with("## ") {
            sections.push((line.trim_end().to_owned(), String::new()));
        }
        let target = match sections.last_mut() {
            Some((_, body)) => body,
            None => &mut intro,
        };
        target.push_str(line);
        target.push('\n');
    }
    if intro.trim().is_empty() {
        intro = INTRO.to_owned();
    }
    let section = format!("{}\n", section.trim_end());
    match sections.iter_mut().find(|(h, _)| *h == heading) {
        Some((_, body)) => *body = section,
        None => sections.push((heading, section)),
    }
    let mut out = format!("{}\n", intro.trim_end());
    for (_, body) in sections {
        out.push('\n');
        out.push_str(&format!("{}\n", body.trim_end()));
    }
    out
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// `1234567.8` as `1,234,568`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_designed_shape() {
        let drain = Measurement::Drain { n: 10_000, concurrency: 10, per_s: 31_250.04 };
        assert_eq!(
            drain.to_json("postgres"),
            r#"{"backend":"postgres","measurement":"drain","n":10000,"concurrency":10,"per_s":31250.0}"#
        );
        let latency = Measurement::Latency { rate_per_s: 1_000, n: 3_000, concurrency: 50, p50_ms: 1.2, p99_ms: 4.8 };
        let value: serde_json::Value = serde_json::from_str(&latency.to_json("memory")).unwrap();
        assert_eq!(value["measurement"], "latency");
        assert_eq!(value["rate_per_s"], 1_000);
        assert_eq!(value["p99_ms"], 4.8);
    }

    #[test]
    fn a_section_is_replaced_and_the_others_kept() {
        let first = replace_section("", "memory", "## memory\n\nold\n");
        assert!(first.starts_with("# Benchmarks"));
        let both = replace_section(&first, "postgres", "## postgres\n\npg\n");
        let updated = replace_section(&both, "memory", "## memory\n\nnew\n");
        assert!(updated.contains("new") && !updated.contains("old"));
        assert!(updated.find("## memory") < updated.find("## postgres"));
        assert!(updated.contains("## postgres\n\npg\n"));
        assert_eq!(replace_section(&updated, "memory", "## memory\n\nnew\n"), updated);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000.0), "1,000");
    }
}
