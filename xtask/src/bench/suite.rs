//! The standard workload, generic over the storage: bulk enqueue, single enqueue, drain at two
//! concurrencies, and latency from enqueue to start at a steady offered rate.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use drover_core::{BoxDynError, Data, Enqueue, WorkerBuilder};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// The bench's job: `{"id": i, "to": "user<i>@example.com"}`, plus the time it was enqueued
/// for the latency measurement (0 elsewhere).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchJob {
    pub id: u64,
    pub to: String,
    pub enqueued_at_us: u64,
}

impl BenchJob {
    fn new(id: u64) -> Self {
        Self { id, to: format!("user{id}@example.com"), enqueued_at_us: 0 }
    }
}

/// The sizes of the workload.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// Jobs for the bulk enqueue and for each drain.
    pub n: u64,
    /// Jobs for the single enqueue.
    pub single_n: u64,
    /// Largest `push_bulk` call (a backend that limits a batch lowers it).
    pub bulk_chunk: usize,
    /// Worker concurrencies of the drains.
    pub drain_concurrency: [usize; 2],
    /// The offered rate of the latency measurement.
    pub latency_rate_per_s: u64,
    /// How long jobs are offered at that rate.
    pub latency_for: Duration,
    /// The latency worker's concurrency.
    pub latency_concurrency: usize,
    /// How long a drain may take before the bench gives up on it.
    pub timeout: Duration,
    /// Runs of each throughput measurement; the median is reported.
    pub runs: usize,
    /// `--scale N`: the backlog of the scale measurement ([`scale_drains`]) instead of the
    /// standard workload.
    pub scale: Option<u64>,
}

impl Workload {
    /// The job count of DESIGN.md's standard workload.
    pub const STANDARD_N: u64 = 10_000;

    /// Runs of each throughput measurement unless told otherwise.
    pub const STANDARD_RUNS: usize = 5;

    /// The standard workload with `n` jobs per bulk enqueue and drain, and `runs` runs of
    /// each throughput measurement.
    pub fn standard(n: u64, runs: usize) -> Self {
        Self {
            n,
            single_n: n.min(2_000),
            bulk_chunk: usize::MAX,
            drain_concurrency: [10, 50],
            latency_rate_per_s: 1_000,
            latency_for: Duration::from_secs(3),
            latency_concurrency: 50,
            timeout: Duration::from_secs(300),
            runs,
            scale: None,
        }
    }
}

/// One result.
#[derive(Clone, Debug)]
pub enum Measurement {
    EnqueueBulk {
        n: u64,
        per_s: f64,
    },
    EnqueueSingle {
        n: u64,
        per_s: f64,
    },
    /// Single pushes in another setting (`variant`), from `callers` tasks at once, measured in
    /// the same rounds as the other variants ([`single_push_variants`]).
    SinglePushVariant {
        variant: &'static str,
        callers: usize,
        n: u64,
        per_s: f64,
    },
    Drain {
        n: u64,
        concurrency: usize,
        per_s: f64,
    },
    /// A drain with one observing layer on the worker (`none`: the bare worker, measured in
    /// the same rounds for comparison).
    LayeredDrain {
        layer: &'static str,
        n: u64,
        concurrency: usize,
        per_s: f64,
    },
    Latency {
        rate_per_s: u64,
        n: u64,
        concurrency: usize,
        p50_ms: f64,
        p99_ms: f64,
    },
    /// A drain of a large backlog beside the standard drain of the same run ([`scale_drains`]),
    /// with the bench process's resident size while it ran.
    ScaleDrain {
        n: u64,
        concurrency: usize,
        per_s: f64,
        /// The standard drain's rate in the same run.
        baseline_per_s: f64,
        /// Anonymous resident memory in KiB: when the drain started, after 100,000 jobs, at the end.
        rss_kib: [u64; 3],
    },
}

/// The throughput measurements, each repeated [`Workload::runs`] times.
#[derive(Clone, Copy, Debug)]
enum Throughput {
    EnqueueBulk,
    EnqueueSingle,
    Drain(usize),
}

/// Run every measurement, each run on a fresh storage from `make_backend(queue_name)`, and
/// hand each result to `on_result` as soon as it is known. Throughputs are the median of
/// [`Workload::runs`] runs: one drain takes tens of milliseconds here, too short for one
/// sample to mean much.
pub async fn run_suite<B, F, Fut>(
    workload: &Workload,
    mut on_result: impl FnMut(&Measurement),
    mut make_backend: F,
) -> anyhow::Result<()>
where
    B: Enqueue<Job = BenchJob> + Clone + Send + Sync + 'static,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = anyhow::Result<B>>,
{
    // One untimed bulk enqueue and drain first: connections opened, scripts and statements
    // prepared, the server's memory grown to size, so the first measured run is not the
    // odd one out.
    let warm_up = make_backend(queue_name("warm_up")).await?;
    drain(warm_up, workload, workload.drain_concurrency[0]).await?;

    let mut throughputs = vec![Throughput::EnqueueBulk, Throughput::EnqueueSingle];
    throughputs.extend(workload.drain_concurrency.map(Throughput::Drain));
    throughputs.retain(|t| wanted(t.name()));
    for throughput in throughputs {
        let mut results = Vec::with_capacity(workload.runs);
        for _ in 0..workload.runs.max(1) {
            let result = match throughput {
                Throughput::EnqueueBulk => {
                    enqueue_bulk(make_backend(queue_name("enqueue_bulk")).await?, workload).await?
                }
                Throughput::EnqueueSingle => {
                    enqueue_single(make_backend(queue_name("enqueue_single")).await?, workload).await?
                }
                Throughput::Drain(concurrency) => {
                    let backend = make_backend(queue_name(&format!("drain_{concurrency}"))).await?;
                    drain(backend, workload, concurrency).await?
                }
            };
            results.push(result);
        }
        results.sort_by(|a, b| a.per_s().total_cmp(&b.per_s()));
        if let Some(median) = results.get(results.len() / 2) {
            on_result(median);
        }
    }
    if wanted("latency") {
        let result = latency(make_backend(queue_name("latency")).await?, workload).await?;
        on_result(&result);
    }
    Ok(())
}

/// Whether `DROVER_BENCH_ONLY` (a comma-separated list of `enqueue_bulk`, `enqueue_single`,
/// `drain`, `latency`; unset: all) selects the measurement `name`. For quick iterations only:
/// a partial run still rewrites the backend's section of docs/benchmarks.md.
fn wanted(name: &str) -> bool {
    std::env::var("DROVER_BENCH_ONLY").map_or(true, |only| only.split(',').any(|w| w.trim() == name))
}

impl Throughput {
    fn name(self) -> &'static str {
        match self {
            Self::EnqueueBulk => "enqueue_bulk",
            Self::EnqueueSingle => "enqueue_single",
            Self::Drain(_) => "drain",
        }
    }
}

/// [`run_suite`] for a server that keeps what a run leaves: each run's backend is handed to
/// `clean` (delete its queue, purge its keys) when the next run is about to start, and the last
/// one at the end, so the server's tables and memory stay flat from run to run.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql", feature = "redis", feature = "rsmq")), allow(dead_code))]
pub async fn run_suite_cleaning<B, F, Fut, C, CFut>(
    workload: &Workload,
    on_result: impl FnMut(&Measurement),
    mut make_backend: F,
    clean: C,
) -> anyhow::Result<()>
where
    B: Enqueue<Job = BenchJob> + Clone + Send + Sync + 'static,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = anyhow::Result<B>>,
    C: Fn(B) -> CFut,
    CFut: Future<Output = anyhow::Result<()>>,
{
    let previous: Mutex<Option<B>> = Mutex::new(None);
    let take = || previous.lock().unwrap_or_else(|p| p.into_inner()).take();
    let result = run_suite(workload, on_result, |queue| {
        let made = make_backend(queue);
        let (previous, clean) = (&previous, &clean);
        async move {
            if let Some(last) = take() {
                clean(last).await?;
            }
            let backend = made.await?;
            *previous.lock().unwrap_or_else(|p| p.into_inner()) = Some(backend.clone());
            Ok(backend)
        }
    })
    .await;
    if let Some(last) = take() {
        clean(last).await?;
    }
    result
}

impl Measurement {
    /// Jobs per second (0 for latency).
    fn per_s(&self) -> f64 {
        match *self {
            Self::EnqueueBulk { per_s, .. }
            | Self::EnqueueSingle { per_s, .. }
            | Self::SinglePushVariant { per_s, .. }
            | Self::Drain { per_s, .. }
            | Self::LayeredDrain { per_s, .. }
            | Self::ScaleDrain { per_s, .. } => per_s,
            Self::Latency { .. } => 0.0,
        }
    }
}

async fn enqueue_bulk<B: Enqueue<Job = BenchJob>>(backend: B, workload: &Workload) -> anyhow::Result<Measurement> {
    let batches = batches(workload.n, workload.bulk_chunk);
    let started = Instant::now();
    for batch in batches {
        backend.push_bulk(batch).await?;
    }
    Ok(Measurement::EnqueueBulk { n: workload.n, per_s: per_second(workload.n, started.elapsed()) })
}

/// The standard single enqueue: `workload.single_n` pushes from one task on the runtime, each
/// awaited before the next.
async fn enqueue_single<B>(backend: B, workload: &Workload) -> anyhow::Result<Measurement>
where
    B: Enqueue<Job = BenchJob> + Clone + Send + Sync + 'static,
{
    let per_s = enqueue_single_from(backend, workload, 1).await?;
    Ok(Measurement::EnqueueSingle { n: workload.single_n, per_s })
}

/// `workload.single_n` single pushes spread over `callers` spawned tasks, each awaiting its
/// pushes one after another (as request handlers do).
async fn enqueue_single_from<B>(backend: B, workload: &Workload, callers: usize) -> anyhow::Result<f64>
where
    B: Enqueue<Job = BenchJob> + Clone + Send + Sync + 'static,
{
    let callers = callers.max(1) as u64;
    let started = Instant::now();
    let tasks: Vec<JoinHandle<Result<(), drover_core::BackendError>>> = (0..callers)
        .map(|caller| {
            let backend = backend.clone();
            let ids: Vec<u64> = (0..workload.single_n).filter(|id| id % callers == caller).collect();
            tokio::spawn(async move {
                for id in ids {
                    backend.push(BenchJob::new(id)).await?;
                }
                Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(per_second(workload.single_n, started.elapsed()))
}

/// Single pushes in several settings, in the same rounds: for each `(variant, callers)`,
/// `make_backend(variant)` gives a fresh storage in that setting, and `callers` tasks push
/// `workload.single_n` jobs between them. Reported: the median of [`Workload::runs`] runs of each.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub async fn single_push_variants<B, F, Fut, C, CFut>(
    workload: &Workload,
    mut on_result: impl FnMut(&Measurement),
    variants: &[(&'static str, usize)],
    mut make_backend: F,
    clean: C,
) -> anyhow::Result<()>
where
    B: Enqueue<Job = BenchJob> + Clone + Send + Sync + 'static,
    F: FnMut(&'static str) -> Fut,
    Fut: Future<Output = anyhow::Result<B>>,
    C: Fn(B) -> CFut,
    CFut: Future<Output = anyhow::Result<()>>,
{
    if !wanted("enqueue_single") {
        return Ok(());
    }
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..workload.runs.max(1) {
        for (runs, &(variant, callers)) in results.iter_mut().zip(variants) {
            let backend = make_backend(variant).await?;
            runs.push(enqueue_single_from(backend.clone(), workload, callers).await?);
            clean(backend).await?;
        }
    }
    for (&(variant, callers), mut runs) in variants.iter().zip(results) {
        runs.sort_by(f64::total_cmp);
        let per_s = runs.get(runs.len() / 2).copied().unwrap_or(0.0);
        on_result(&Measurement::SinglePushVariant { variant, callers, n: workload.single_n, per_s });
    }
    Ok(())
}

/// Enqueue `n` jobs, then time one worker from its start until every job has run and the
/// worker has stopped (its last completions recorded).
async fn drain<B: Enqueue<Job = BenchJob>>(
    backend: B,
    workload: &Workload,
    concurrency: usize,
) -> anyhow::Result<Measurement> {
    for batch in batches(workload.n, workload.bulk_chunk) {
        backend.push_bulk(batch).await?;
    }
    drain_pushed(backend, workload, concurrency).await
}

/// A drain of jobs pushed with a concurrency key each, all different.
async fn keyed_drain<B: Enqueue<Job = BenchJob>>(
    backend: B,
    workload: &Workload,
    concurrency: usize,
) -> anyhow::Result<Measurement> {
    use drover_core::{Codec, NewTask, PushOptions};
    for batch in batches(workload.n, workload.bulk_chunk) {
        let tasks = batch
            .into_iter()
            .map(|job| {
                let key = format!("key-{}", job.id);
                Ok(NewTask::new(B::Codec::encode(&job)?, PushOptions::new().concurrency_key(key)))
            })
            .collect::<Result<Vec<_>, drover_core::CodecError>>()?;
        backend.enqueue(tasks).await?;
    }
    drain_pushed(backend, workload, concurrency).await
}

/// Drain the `workload.n` jobs already pushed.
async fn drain_pushed<B: Enqueue<Job = BenchJob>>(
    backend: B,
    workload: &Workload,
    concurrency: usize,
) -> anyhow::Result<Measurement> {
    let progress = Progress::new(workload.n);
    let started = Instant::now();
    let worker = start_worker(backend, concurrency, &progress);
    finish(worker, &progress, workload.timeout, "drain").await?;
    let per_s = per_second(workload.n, started.elapsed());
    Ok(Measurement::Drain { n: workload.n, concurrency, per_s })
}

/// The observing layers a drain can run with.
pub const LAYERS: &[&str] = &["none", "prometheus", "sentry"];

/// Drains at the first drain concurrency with each of [`LAYERS`] on the worker, the layers
/// taking turns within each round so that the machine's drift hits them alike; the median of
/// [`Workload::runs`] rounds for each.
pub async fn layered_drains<B, F, Fut>(
    workload: &Workload,
    mut on_result: impl FnMut(&Measurement),
    mut make_backend: F,
) -> anyhow::Result<()>
where
    B: Enqueue<Job = BenchJob> + Clone + Send + Sync + 'static,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = anyhow::Result<B>>,
{
    if !wanted("layers") {
        return Ok(());
    }
    let concurrency = workload.drain_concurrency[0];
    let registry = prometheus_registry()?;
    let _sentry = sentry_client();
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); LAYERS.len()];
    for _ in 0..workload.runs.max(1) {
        for (i, layer) in LAYERS.iter().enumerate() {
            let backend = make_backend(queue_name(&format!("drain_{layer}"))).await?;
            for batch in batches(workload.n, workload.bulk_chunk) {
                backend.push_bulk(batch).await?;
            }
            let progress = Progress::new(workload.n);
            let started = Instant::now();
            let builder = WorkerBuilder::new("bench").backend(backend).concurrency(concurrency);
            let all_done = progress.clone();
            let stop = async move { all_done.all_done.notified().await };
            let worker = match *layer {
                "prometheus" => {
                    let layer = drover_prometheus::PrometheusLayer::with_metrics(registry.clone());
                    let worker = builder.layer(layer).data(progress.clone()).build_fn(handle);
                    tokio::spawn(worker.run_until(stop))
                }
                "sentry" => {
                    let worker = builder
                        .layer(sentry_tower::NewSentryLayer::new_from_top())
                        .layer(drover_sentry::SentryLayer::new())
                        .data(progress.clone())
                        .build_fn(handle);
                    tokio::spawn(worker.run_until(stop))
                }
                _ => tokio::spawn(builder.data(progress.clone()).build_fn(handle).run_until(stop)),
            };
            finish(worker, &progress, workload.timeout, "layered drain").await?;
            results[i].push(per_second(workload.n, started.elapsed()));
        }
    }
    for (layer, mut runs) in LAYERS.iter().zip(results) {
        runs.sort_by(f64::total_cmp);
        let per_s = runs.get(runs.len() / 2).copied().unwrap_or(0.0);
        on_result(&Measurement::LayeredDrain { layer, n: workload.n, concurrency, per_s });
    }
    Ok(())
}

/// Drains at the first drain concurrency on a queue without a cap, on one with a cap that
/// never binds (1,000,000 running tasks), and on one with a per-key limit of 1 whose jobs
/// each have a key of their own (so it never binds either), taking turns within each round;
/// the median of [`Workload::runs`] rounds for each. `clean` gets each run's storage when it
/// is done.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql", feature = "redis")), allow(dead_code))]
pub async fn capped_drains<B, F, Fut, C, CFut>(
    workload: &Workload,
    mut on_result: impl FnMut(&Measurement),
    mut make_backend: F,
    clean: C,
) -> anyhow::Result<()>
where
    B: Enqueue<Job = BenchJob> + drover_core::GlobalConcurrency + drover_core::KeyConcurrency,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = anyhow::Result<B>>,
    C: Fn(B) -> CFut,
    CFut: Future<Output = anyhow::Result<()>>,
{
    if !wanted("cap") {
        return Ok(());
    }
    let concurrency = workload.drain_concurrency[0];
    let variants = ["none", "a cap that never binds", "a per-key limit that never binds"];
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..workload.runs.max(1) {
        for (i, runs) in results.iter_mut().enumerate() {
            let name = ["drain_uncapped", "drain_capped", "drain_keyed"][i];
            let backend = make_backend(queue_name(name)).await?;
            let measured = match i {
                1 => {
                    backend.set_max_running(Some(1_000_000)).await?;
                    drain(backend.clone(), workload, concurrency).await?
                }
                2 => {
                    backend.set_max_running_per_key(Some(1)).await?;
                    keyed_drain(backend.clone(), workload, concurrency).await?
                }
                _ => drain(backend.clone(), workload, concurrency).await?,
            };
            runs.push(measured.per_s());
            clean(backend).await?;
        }
    }
    for (layer, mut runs) in variants.into_iter().zip(results) {
        runs.sort_by(f64::total_cmp);
        let per_s = runs.get(runs.len() / 2).copied().unwrap_or(0.0);
        on_result(&Measurement::LayeredDrain { layer, n: workload.n, concurrency, per_s });
    }
    Ok(())
}

/// Jobs done when the scale drain samples the resident size in the middle.
const RSS_SAMPLE_AT: u64 = 100_000;

/// The scale measurement (`--scale N`): one worker at concurrency 50 drains the standard
/// 10,000-task backlog [`Workload::runs`] times, then an N-task backlog, each on a fresh queue
/// of the same storage, in one run. Reported: the standard drains' median and the large
/// drain's rate, the large one as a share of the median, and the bench
/// process's anonymous resident memory (`RssAnon`) when the large drain started, after 100,000 jobs and at its end
/// (the worker runs in this process, so a worker whose memory grew with the jobs it ran would
/// show here). Jobs are pushed in chunks of 10,000, built as they are sent.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")), allow(dead_code))]
pub async fn scale_drains<B, F, Fut, C, CFut>(
    workload: &Workload,
    big_n: u64,
    mut on_result: impl FnMut(&Measurement),
    mut make_backend: F,
    clean: C,
) -> anyhow::Result<()>
where
    B: Enqueue<Job = BenchJob> + Clone,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = anyhow::Result<B>>,
    C: Fn(B) -> CFut,
    CFut: Future<Output = anyhow::Result<()>>,
{
    const CHUNK: u64 = 10_000;
    let concurrency = workload.drain_concurrency[1];
    let timeout = workload.timeout.max(Duration::from_secs(big_n / 1_000));
    // The standard drain `runs` times (its median is the baseline: one 10,000-task drain takes
    // under a second here, and single runs of it moved by a third), then the large one.
    let runs = workload.runs.max(1);
    let mut drains = vec![("scale_warm_up", 2_000)];
    drains.extend(std::iter::repeat_n(("scale_standard", Workload::STANDARD_N), runs));
    drains.push(("scale_large", big_n));
    let mut standard = Vec::with_capacity(runs);
    let mut per_s = 0.0;
    let mut rss = [0; 3];
    for (name, n) in drains {
        let backend = make_backend(queue_name(name)).await?;
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            backend.push_bulk((start..end).map(BenchJob::new).collect::<Vec<_>>()).await?;
            start = end;
        }
        let progress = Progress::new(n);
        if n > RSS_SAMPLE_AT {
            progress.sample_rss_at(RSS_SAMPLE_AT);
        }
        let rss_before = resident_kib();
        let started = Instant::now();
        let worker = start_worker(backend.clone(), concurrency, &progress);
        finish(worker, &progress, timeout, name).await?;
        let rate = per_second(n, started.elapsed());
        match name {
            "scale_standard" => standard.push(rate),
            "scale_large" => {
                per_s = rate;
                rss = [rss_before, progress.sampled_rss(), resident_kib()];
            }
            _ => {}
        }
        clean(backend).await?;
    }
    standard.sort_by(f64::total_cmp);
    let baseline_per_s = standard.get(standard.len() / 2).copied().unwrap_or(0.0);
    on_result(&Measurement::Drain { n: Workload::STANDARD_N, concurrency, per_s: baseline_per_s });
    on_result(&Measurement::ScaleDrain { n: big_n, concurrency, per_s, baseline_per_s, rss_kib: rss });
    Ok(())
}

/// This process's anonymous resident memory in KiB (`RssAnon` of /proc/self/status: heap and
/// stacks, what a worker's own state would grow; file pages, such as SQLite's memory-mapped
/// database, are left out); 0 where there is none.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("RssAnon:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A Sentry client on the main hub that samples every transaction and drops every envelope
/// (the cost measured is the layer's, not a network's).
fn sentry_client() -> sentry::ClientInitGuard {
    struct Discard;
    impl sentry::Transport for Discard {
        fn send_envelope(&self, _envelope: sentry::Envelope) {}
    }
    let transport: std::sync::Arc<dyn sentry::TransportFactory> =
        std::sync::Arc::new(|_: &sentry::ClientOptions| -> std::sync::Arc<dyn sentry::Transport> {
            std::sync::Arc::new(Discard)
        });
    let mut options = sentry::ClientOptions::new().dsn("https://public@127.0.0.1/1").traces_sample_rate(1.0);
    options.transport = Some(transport);
    sentry::init(options)
}

/// Job metrics on a registry of the bench's own.
fn prometheus_registry() -> anyhow::Result<drover_prometheus::JobMetrics> {
    Ok(drover_prometheus::JobMetrics::register(&prometheus::Registry::new())?)
}

/// Offer single pushes at a fixed rate to a running worker and record, for each job, the
/// time from its push to the start of its handler.
async fn latency<B: Enqueue<Job = BenchJob>>(backend: B, workload: &Workload) -> anyhow::Result<Measurement> {
    let rate = workload.latency_rate_per_s.max(1);
    let total = rate * workload.latency_for.as_secs().max(1);
    // Half a second at the same rate first, not recorded: the process opens its connections
    // and prepares its statements, so the figure is the steady state a live worker sees.
    let warm_up = rate / 2;
    let progress = Progress::new(warm_up + total);
    let worker = start_worker(backend.clone(), workload.latency_concurrency, &progress);
    // Let the worker find the queue empty and wait for work, as a live worker would.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut ticks = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    // Each push is its own task, so a slow push does not lower the offered rate.
    let mut pushes = Vec::with_capacity(usize::try_from(warm_up + total).unwrap_or(0));
    for id in 0..warm_up + total {
        ticks.tick().await;
        let backend = backend.clone();
        let enqueued_at_us = if id < warm_up { 0 } else { now_us() };
        let job = BenchJob { enqueued_at_us, ..BenchJob::new(id) };
        pushes.push(tokio::spawn(async move { backend.push(job).await }));
    }
    for push in pushes {
        push.await??;
    }
    finish(worker, &progress, workload.timeout, "latency").await?;

    let mut latencies = progress.take_latencies();
    latencies.sort_unstable();
    Ok(Measurement::Latency {
        rate_per_s: rate,
        n: total,
        concurrency: workload.latency_concurrency,
        p50_ms: percentile_ms(&latencies, 50.0),
        p99_ms: percentile_ms(&latencies, 99.0),
    })
}

/// The bench's handler: count the job and, when it carries its enqueue time, its latency.
async fn handle(job: BenchJob, progress: Data<Arc<Progress>>) -> Result<(), BoxDynError> {
    progress.record(&job);
    Ok(())
}

/// One worker that stops once `progress` has seen every job. Jobs run inside the worker's own
/// task (no `parallelize`), so the drain measures the runtime's overhead, not Tokio's spawn.
fn start_worker<B: Enqueue<Job = BenchJob>>(
    backend: B,
    concurrency: usize,
    progress: &Arc<Progress>,
) -> JoinHandle<drover_core::Result<()>> {
    let builder = WorkerBuilder::new("bench").backend(backend).concurrency(concurrency);
    let builder = match bench_prefetch(concurrency) {
        Some(n) => builder.prefetch(n),
        None => builder,
    };
    let worker = builder.data(progress.clone()).build_fn(handle);
    let all_done = progress.clone();
    tokio::spawn(worker.run_until(async move { all_done.all_done.notified().await }))
}

/// A fixed prefetch from `DROVER_BENCH_PREFETCH` (a number, or `c` for the concurrency);
/// unset, the worker keeps its default (adaptive) prefetch, so the standard figures use the
/// default worker.
fn bench_prefetch(concurrency: usize) -> Option<usize> {
    match std::env::var("DROVER_BENCH_PREFETCH").as_deref() {
        Ok("c") => Some(concurrency),
        Ok(n) => n.parse().ok(),
        Err(_) => None,
    }
}

/// Wait for the worker to stop, or give up after `timeout`.
async fn finish(
    mut worker: JoinHandle<drover_core::Result<()>>,
    progress: &Progress,
    timeout: Duration,
    what: &str,
) -> anyhow::Result<()> {
    match tokio::time::timeout(timeout, &mut worker).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(error))) => Err(anyhow::anyhow!("{what}: the worker failed: {error}")),
        Ok(Err(error)) => Err(anyhow::anyhow!("{what}: the worker task ended abnormally: {error}")),
        Err(_) => {
            worker.abort();
            anyhow::bail!(
                "{what}: not finished after {} s ({} of {} jobs ran)",
                timeout.as_secs(),
                progress.done.load(Ordering::Relaxed),
                progress.target
            )
        }
    }
}

/// What the handlers have done, shared with them as `Data<Arc<Progress>>`.
struct Progress {
    target: u64,
    done: AtomicU64,
    all_done: Notify,
    latencies_us: Mutex<Vec<u64>>,
    /// When this many jobs are done, the resident size is read into `rss_kib` (0: never).
    rss_at: AtomicU64,
    rss_kib: AtomicU64,
}

impl Progress {
    fn new(target: u64) -> Arc<Self> {
        Arc::new(Self {
            target,
            done: AtomicU64::new(0),
            all_done: Notify::new(),
            latencies_us: Mutex::new(Vec::new()),
            rss_at: AtomicU64::new(0),
            rss_kib: AtomicU64::new(0),
        })
    }

    fn sample_rss_at(&self, done: u64) {
        self.rss_at.store(done, Ordering::Relaxed);
    }

    fn sampled_rss(&self) -> u64 {
        self.rss_kib.load(Ordering::Relaxed)
    }

    fn record(&self, job: &BenchJob) {
        if job.enqueued_at_us != 0 {
            let latency = now_us().saturating_sub(job.enqueued_at_us);
            self.latencies().push(latency);
        }
        // `notify_one` keeps a permit if nobody waits yet, so the stop signal is never missed.
        let done = self.done.fetch_add(1, Ordering::AcqRel) + 1;
        if done == self.rss_at.load(Ordering::Relaxed) {
            self.rss_kib.store(resident_kib(), Ordering::Relaxed);
        }
        if done == self.target {
            self.all_done.notify_one();
        }
    }

    fn take_latencies(&self) -> Vec<u64> {
        std::mem::take(&mut *self.latencies())
    }

    fn latencies(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        // A handler cannot panic while holding the lock, and a Vec of numbers stays valid anyway.
        self.latencies_us.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `n` jobs in `push_bulk` calls of at most `chunk`.
fn batches(n: u64, chunk: usize) -> Vec<Vec<BenchJob>> {
    let mut rest: Vec<BenchJob> = (0..n).map(BenchJob::new).collect();
    let chunk = chunk.max(1);
    let mut batches = Vec::new();
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        batches.push(rest);
        rest = tail;
    }
    batches.push(rest);
    batches
}

/// A queue name no earlier run used, for backends that keep their queues.
pub fn queue_name(measurement: &str) -> String {
    format!("bench_{measurement}_{}", now_us())
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
}

fn per_second(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// The nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u64], percentile: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (percentile / 100.0 * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[index] as f64 / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_and_keep_every_job() {
        let split = batches(2_500, 1_000);
        assert_eq!(split.iter().map(Vec::len).collect::<Vec<_>>(), [1_000, 1_000, 500]);
        assert_eq!(split[2][499].id, 2_499);
        assert_eq!(batches(10, usize::MAX).len(), 1);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let us: Vec<u64> = (1..=100).map(|i| i * 1_000).collect();
        assert_eq!(percentile_ms(&us, 50.0), 50.0);
        assert_eq!(percentile_ms(&us, 99.0), 99.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
    }

    #[test]
    fn the_job_encodes_as_the_standard_payload() {
        let json = serde_json::to_value(BenchJob::new(7)).unwrap();
        assert_eq!(json["id"], 7);
        assert_eq!(json["to"], "user7@example.com");
    }
}
