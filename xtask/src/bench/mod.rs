//! `cargo xtask bench`: the standard workload of DESIGN.md "Performance" against each
//! selected backend.
//!
//! `bench` re-runs xtask as `bench-inner` built with the `bench-fast` profile, so the worker
//! runtime being measured is optimized. Adding a backend is one arm in [`run_backend`] with a
//! factory that returns a fresh, empty storage for a queue name.

#[cfg(feature = "amqp")]
mod amqp;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "pgmq")]
mod pgmq;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis-cluster")]
mod redis_cluster;
mod report;
#[cfg(feature = "rsmq")]
mod rsmq;
#[cfg(feature = "sqlite")]
mod sqlite;
mod suite;

use drover_core::MemoryStorage;

use crate::{cargo, display_command};
use report::Report;
use suite::{run_suite, BenchJob, Workload};

/// The backends with a bench factory.
const BENCHED: &[&str] = &[
    "memory",
    "redis",
    "mysql",
    "redis-cluster",
    "amqp",
    "amqp-quorum",
    "postgres",
    "postgres-pgbouncer",
    "rsmq",
    "sqlite",
    "pgmq",
    "nats",
    "nats-cluster",
];

/// The cargo feature that builds a bench: the backend's name, except for the variants of one
/// backend (`amqp-quorum` is the `amqp` bench on quorum queues).
fn feature_of(backend: &str) -> &str {
    match backend {
        "amqp-quorum" => "amqp",
        other => other,
    }
}

/// The backends `--scale` measures: those whose cost could grow with the rows they keep.
const SCALED: &[&str] = &["memory", "postgres", "mysql", "sqlite"];

#[derive(Debug)]
struct BenchOptions {
    backends: Vec<String>,
    json: bool,
    n: u64,
    runs: usize,
    /// `--scale N`: instead of the standard workload, a drain of an N-task backlog beside the
    /// standard 10,000-task drain in the same run (PostgreSQL, MySQL, SQLite, memory).
    scale: Option<u64>,
}

impl BenchOptions {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut options = Self {
            backends: Vec::new(),
            json: false,
            n: Workload::STANDARD_N,
            runs: Workload::STANDARD_RUNS,
            scale: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--backend" => {
                    let name = args.next().ok_or_else(|| anyhow::anyhow!("--backend needs a name"))?;
                    options.backends.push(name.clone());
                }
                "--json" => options.json = true,
                "--n" => {
                    let n = args.next().ok_or_else(|| anyhow::anyhow!("--n needs a number"))?;
                    options.n = n
                        .replace('_', "")
                        .parse()
                        .map_err(|_| anyhow::anyhow!("--n needs a positive number, got `{n}`"))?;
                    anyhow::ensure!(options.n > 0, "--n needs a positive number");
                }
                "--runs" => {
                    let runs = args.next().ok_or_else(|| anyhow::anyhow!("--runs needs a number"))?;
                    options.runs =
                        runs.parse().map_err(|_| anyhow::anyhow!("--runs needs a positive number, got `{runs}`"))?;
                    anyhow::ensure!(options.runs > 0, "--runs needs a positive number");
                }
                "--scale" => {
                    let n = args.next().ok_or_else(|| anyhow::anyhow!("--scale needs a number of tasks"))?;
                    let n: u64 = n
                        .replace('_', "")
                        .parse()
                        .map_err(|_| anyhow::anyhow!("--scale needs a number of tasks, got `{n}`"))?;
                    anyhow::ensure!(
                        n >= Workload::STANDARD_N,
                        "--scale needs at least {} tasks (the standard drain it is compared with)",
                        Workload::STANDARD_N
                    );
                    options.scale = Some(n);
                }
                other => anyhow::bail!("unknown bench option `{other}`"),
            }
        }
        if options.backends.is_empty() {
            options.backends = BENCHED.iter().map(|name| (*name).to_owned()).collect();
        }
        if options.scale.is_some() {
            if let Some(name) = options.backends.iter().find(|name| !SCALED.contains(&name.as_str())) {
                anyhow::bail!("no scale bench for backend `{name}`; --scale runs on: {}", SCALED.join(", "));
            }
        }
        for name in &options.backends {
            if !BENCHED.contains(&name.as_str()) {
                anyhow::bail!("no bench for backend `{name}` yet; benched backends: {}", BENCHED.join(", "));
            }
        }
        Ok(options)
    }

    /// The command line that reproduces this run, for docs/benchmarks.md.
    fn command_for(&self, backend: &str) -> String {
        let mut line = format!("cargo xtask bench --backend {backend}");
        if self.n != Workload::STANDARD_N {
            line.push_str(&format!(" --n {}", self.n));
        }
        if self.runs != Workload::STANDARD_RUNS {
            line.push_str(&format!(" --runs {}", self.runs));
        }
        if let Some(n) = self.scale {
            line.push_str(&format!(" --scale {n}"));
        }
        line
    }
}

/// Build the bench in the `bench-fast` profile and run it there.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    // Check the options here too, so a typo fails before a release build.
    let options = BenchOptions::parse(args)?;
    let mut command = cargo();
    command.args(["run", "--profile", "bench-fast", "--package", "xtask"]);
    // Each server backend is an optional dependency behind a feature of its name, so the
    // memory bench builds no driver.
    let mut features: Vec<&str> =
        options.backends.iter().map(|name| feature_of(name)).filter(|name| *name != "memory").collect();
    features.sort_unstable();
    features.dedup();
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    command.args(["--", "bench-inner"]).args(args);
    eprintln!("$ {}  (an optimized build; the first one takes a few minutes)", display_command(&command));
    let status = command.status()?;
    if !status.success() {
        anyhow::bail!("the bench failed ({status})");
    }
    Ok(())
}

/// The bench itself, in an optimized build.
pub fn run_inner(args: &[String]) -> anyhow::Result<()> {
    let options = BenchOptions::parse(args)?;
    if cfg!(debug_assertions) {
        eprintln!("warning: this bench is a debug build; run `cargo xtask bench` for real figures");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut workload = Workload::standard(options.n, options.runs);
    workload.scale = options.scale;
    for backend in &options.backends {
        // A scale run has a section of its own, so the standard figures stay beside it.
        let section = match options.scale {
            Some(_) => format!("{backend} at scale"),
            None => backend.clone(),
        };
        let mut report = Report::new(&section, options.command_for(backend));
        runtime.block_on(run_backend(backend, &workload, |measurement| {
            if options.json {
                println!("{}", measurement.to_json(backend));
            } else {
                println!("{}", measurement.to_line(backend));
            }
            report.push(measurement.clone());
        }))?;
        let path = report.write()?;
        eprintln!("wrote the `{section}` section of {}", path.display());
    }
    Ok(())
}

/// Run the suite against one backend. Each arm gives a factory of fresh, empty storages.
async fn run_backend(
    backend: &str,
    workload: &Workload,
    on_result: impl FnMut(&suite::Measurement),
) -> anyhow::Result<()> {
    match backend {
        "memory" => {
            let mut on_result = on_result;
            let make = |queue: String| async move { Ok(MemoryStorage::<BenchJob>::named(queue)) };
            if let Some(big) = workload.scale {
                return suite::scale_drains(workload, big, &mut on_result, make, |_| async { Ok(()) }).await;
            }
            run_suite(workload, &mut on_result, make).await?;
            suite::layered_drains(workload, &mut on_result, make).await
        }
        #[cfg(feature = "redis")]
        "redis" => redis::run(workload, on_result).await,
        #[cfg(feature = "redis-cluster")]
        "redis-cluster" => redis_cluster::run(workload, on_result).await,
        #[cfg(feature = "amqp")]
        "amqp" => amqp::run(workload, on_result, drover_amqp::QueueType::Classic).await,
        #[cfg(feature = "amqp")]
        "amqp-quorum" => amqp::run(workload, on_result, drover_amqp::QueueType::Quorum).await,
        #[cfg(feature = "mysql")]
        "mysql" => mysql::run(workload, on_result).await,
        #[cfg(feature = "postgres")]
        "postgres" => postgres::run(workload, on_result).await,
        #[cfg(feature = "postgres")]
        "postgres-pgbouncer" => postgres::run_pgbouncer(workload, on_result).await,
        #[cfg(feature = "rsmq")]
        "rsmq" => rsmq::run(workload, on_result).await,
        #[cfg(feature = "sqlite")]
        "sqlite" => sqlite::run(workload, on_result).await,
        #[cfg(feature = "pgmq")]
        "pgmq" => pgmq::run(workload, on_result).await,
        #[cfg(feature = "nats")]
        "nats" => nats::run(workload, on_result).await,
        #[cfg(feature = "nats")]
        "nats-cluster" => nats::run_cluster(workload, on_result).await,
        other => anyhow::bail!("no bench for backend `{other}` in this build (run it through `cargo xtask bench`)"),
    }
}
