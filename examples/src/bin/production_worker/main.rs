//! A production worker to copy: the production guide's §3–§5 and §7 assembled.
//!
//! - Settings come from the environment (a `.env` file is loaded first if there is one;
//!   variables already set win). A missing or malformed variable stops the program with one
//!   line naming it and the form it expects, exit status 78 (`EX_CONFIG`).
//! - The storage is PostgreSQL, Redis or SQLite (`DROVER_BACKEND`); there is no in-memory
//!   fallback, because a production queue must survive the process.
//! - Logs are JSON, one object per line on stdout, filtered by `RUST_LOG`.
//! - SIGTERM (Kubernetes, systemd, `docker stop`) and SIGINT (Ctrl+C) start a graceful
//!   shutdown: claimed jobs that had not started go back to the queue at once, running jobs
//!   get `SHUTDOWN_TIMEOUT_SECS` to finish, and the process exits 0. If the timeout passes,
//!   it exits 1; the jobs it left run again once their leases expire.
//! - `HTTP_ADDR` serves `/metrics` (Prometheus), `/healthz` (liveness: the process answers)
//!   and `/readyz` (readiness: the worker runs and the storage answers; 503 from the moment
//!   shutdown starts).
//!
//! | variable | default | form |
//! |---|---|---|
//! | `DROVER_BACKEND` | required | `postgres`, `redis` or `sqlite` |
//! | `DATABASE_URL` | required for postgres and sqlite | `postgres://user:password@host:5432/db`, `sqlite:///path/jobs.db` |
//! | `REDIS_URL` | required for redis | `redis://:password@host:6379` |
//! | `DROVER_QUEUE` | `work` | the queue name |
//! | `WORKER_NAME` | `HOSTNAME`, else `drover-worker` | shown in events, logs and metrics |
//! | `WORKER_CONCURRENCY` | 10 | 1 to 10,000 jobs at once |
//! | `WORKER_PREFETCH` | adaptive | 0 to 1,000 tasks claimed beyond the free slots |
//! | `SHUTDOWN_TIMEOUT_SECS` | 30 | 1 to 86,400; keep the orchestrator's grace period above it |
//! | `HTTP_ADDR` | `0.0.0.0:8080` | IP address and port |
//! | `RUST_LOG` | `info,sqlx=warn` | a tracing filter |
//!
//! Replace [`Work`] and [`handle`] with your own job; the rest is meant to stay as it is.

mod config;
mod http;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use drover::layers::prometheus::{self, Exporter, JobMetrics, PrometheusLayer, QueueMetrics};
use drover::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{BackendConfig, Config};
use crate::http::{Health, StoragePing};

/// `EX_CONFIG` from sysexits.h: the systemd unit does not restart on it (a restart cannot fix
/// a bad setting).
const EXIT_CONFIG: u8 = 78;

/// How long connecting to the storage may take at start-up before the process gives up (and
/// the orchestrator restarts it).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The job this worker runs: stands in for yours.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Work {
    /// Which piece of work.
    pub id: u64,
    /// How long it takes, in milliseconds.
    pub millis: u64,
}

/// The handler: replace with your own. Return `Err` to retry later, `Abort` when retrying
/// cannot help.
pub async fn handle(work: Work) -> Result<(), BoxDynError> {
    tracing::info!(work_id = work.id, "work started");
    tokio::time::sleep(Duration::from_millis(work.millis)).await;
    tracing::info!(work_id = work.id, "work finished");
    Ok(())
}

fn main() -> ExitCode {
    // A `.env` file is for running outside a container; variables already set take precedence.
    if let Err(error) = dotenvy::dotenv() {
        if !error.not_found() {
            eprintln!("configuration error: the .env file cannot be read: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_logs(&config.log_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the Tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => {
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// JSON logs, one object per line, as the guide's §7 sets them up.
fn init_logs(filter: &str) {
    use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};
    // The filter was checked with the configuration; `new` cannot fail on it any more.
    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(filter))
        .with(tracing_subscriber::fmt::layer().json())
        .try_init();
}

/// Connect to the configured storage, then run the worker and the HTTP endpoints until a
/// signal. The error is one line for the operator.
async fn run(config: Config) -> Result<(), String> {
    // Installed before anything slow, so a SIGTERM during start-up is a clean stop too.
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| format!("cannot listen for SIGINT: {e}"))?;
    let health = Arc::new(Health::default());
    let stopping = health.clone();
    let signal = async move {
        let name = tokio::select! {
            _ = sigterm.recv() => "SIGTERM",
            _ = sigint.recv() => "SIGINT",
        };
        stopping.set_stopping();
        tracing::info!(signal = name, "shutdown requested: handing back unstarted jobs, finishing running ones");
    };

    let variable = config.backend.url_variable();
    tracing::info!(backend = config.backend.name(), queue = %config.queue, worker = %config.worker_name, "connecting");
    match &config.backend {
        BackendConfig::Postgres { url } => {
            use drover::postgres::{sqlx::postgres::PgPoolOptions, PostgresConfig, PostgresStorage};
            let pool = PgPoolOptions::new()
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect(url)
                .await
                .map_err(|e| format!("cannot connect to PostgreSQL at {variable}: {e}"))?;
            PostgresStorage::setup(&pool).await.map_err(|e| format!("cannot migrate the PostgreSQL schema: {e}"))?;
            let storage = PostgresStorage::new_with_config(pool.clone(), PostgresConfig::new(config.queue.as_str()));
            let ping: StoragePing = Arc::new(move || {
                let pool = pool.clone();
                Box::pin(async move {
                    drover::postgres::sqlx::query("SELECT 1").execute(&pool).await.map(drop).map_err(|e| e.to_string())
                })
            });
            serve(storage, ping, &config, health, signal).await
        }
        BackendConfig::Redis { url } => {
            use drover::redis::{RedisConfig, RedisStorage};
            let conn = tokio::time::timeout(CONNECT_TIMEOUT, drover::redis::connect(url))
                .await
                .map_err(|_| format!("cannot connect to Redis at {variable}: no answer within {CONNECT_TIMEOUT:?}"))?
                .map_err(|e| format!("cannot connect to Redis at {variable}: {e}"))?;
            let manager = conn.clone();
            let storage = RedisStorage::new_with_config(conn, RedisConfig::new(config.queue.as_str()));
            let ping: StoragePing = Arc::new(move || {
                let mut manager = manager.clone();
                Box::pin(async move {
                    drover::redis::redis::cmd("PING")
                        .query_async::<String>(&mut manager)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                })
            });
            serve(storage, ping, &config, health, signal).await
        }
        BackendConfig::Sqlite { url } => {
            use drover::sqlite::{SqliteConfig, SqliteStorage};
            let storage = tokio::time::timeout(
                CONNECT_TIMEOUT,
                SqliteStorage::connect_with_config(url, SqliteConfig::new(config.queue.as_str())),
            )
            .await
            .map_err(|_| {
                format!("cannot open the SQLite database at {variable}: no answer within {CONNECT_TIMEOUT:?}")
            })?
            .map_err(|e| format!("cannot open the SQLite database at {variable}: {e}"))?;
            let pool = storage.pool().clone();
            let ping: StoragePing = Arc::new(move || {
                let pool = pool.clone();
                Box::pin(async move {
                    drover::sqlite::sqlx::query("SELECT 1").execute(&pool).await.map(drop).map_err(|e| e.to_string())
                })
            });
            serve(storage, ping, &config, health, signal).await
        }
    }
}

/// Run one worker on `storage` and the HTTP endpoints until `signal`, then shut both down.
async fn serve<B>(
    storage: B,
    ping: StoragePing,
    config: &Config,
    health: Arc<Health>,
    signal: impl std::future::Future<Output = ()> + Send,
) -> Result<(), String>
where
    B: Inspect<Job = Work>,
{
    let metrics = JobMetrics::global().map_err(|e| format!("cannot register the job metrics: {e}"))?;
    let queues = QueueMetrics::global().map_err(|e| format!("cannot register the queue metrics: {e}"))?;
    queues.watch(storage.clone());
    let app = http::router(health.clone(), ping, prometheus::router(Exporter::default_registry().with_queues(queues)));
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .map_err(|e| format!("cannot listen on HTTP_ADDR={}: {e}", config.http_addr))?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stopped.await;
            })
            .await
    });
    tracing::info!(addr = %config.http_addr, "serving /metrics, /healthz and /readyz");

    let mut worker = WorkerBuilder::new(config.worker_name.as_str())
        .layer(PrometheusLayer::with_metrics(metrics))
        .enable_tracing()
        .parallelize(tokio::spawn)
        .concurrency(config.concurrency);
    if let Some(n) = config.prefetch {
        worker = worker.prefetch(n);
    }
    let events = health.clone();
    let result = Monitor::new()
        .register(worker.backend(storage).build_fn(handle))
        .on_event(move |event| log_event(&events, event))
        .shutdown_timeout(config.shutdown_timeout)
        .run_with_signal(signal)
        .await;

    // The endpoints stay up while jobs drain (`/readyz` says 503), and stop last.
    let _ = stop_http.send(());
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(%error, "the HTTP server stopped with an error"),
        Ok(Err(error)) => tracing::warn!(%error, "the HTTP server task failed"),
        Err(_) => tracing::warn!("the HTTP server did not stop within 5 s"),
    }
    match result {
        Ok(()) => Ok(()),
        Err(drover::Error::ShutdownTimeout { timeout, running }) => Err(format!(
            "shutdown timed out after {} s (SHUTDOWN_TIMEOUT_SECS) with {running} jobs still running; \
             they run again once their leases expire",
            timeout.as_secs()
        )),
        Err(error) => Err(format!("the worker stopped: {error}")),
    }
}

/// Every monitor event goes to the log at a level that fits it, and the worker's state to the
/// readiness probe.
fn log_event(health: &Health, event: &Event) {
    match event {
        Event::WorkerStarted { .. } => {
            health.set_running(true);
            tracing::info!("{event}");
        }
        Event::WorkerCrashed { .. } => {
            health.set_running(false);
            tracing::error!("{event}");
        }
        Event::WorkerStopped { .. } => {
            health.set_running(false);
            tracing::info!("{event}");
        }
        Event::BackendError { .. } => tracing::error!("{event}"),
        Event::TaskFailed { retry_in: None, .. } => tracing::error!("{event}"),
        Event::TaskFailed { .. } => tracing::warn!("{event}"),
        _ => tracing::info!("{event}"),
    }
}
