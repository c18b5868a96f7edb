//! The worker's HTTP endpoints: `/metrics` for Prometheus, `/healthz` (the process answers)
//! for liveness probes and `/readyz` (the worker runs and its storage answers) for readiness.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

/// A round trip to the storage (`SELECT 1`, `PING`): `Err` says why it failed.
pub type StoragePing = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// What the probes report, shared with the monitor's event handler and the signal handler.
#[derive(Default)]
pub struct Health {
    running: AtomicBool,
    stopping: AtomicBool,
}

impl Health {
    /// The worker started (or restarted after a crash).
    pub fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::SeqCst);
    }

    /// Shutdown began: the worker is no longer ready, whatever happens next.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct Probe {
    health: Arc<Health>,
    ping: StoragePing,
}

/// How long `/readyz` waits for the storage; well under a probe's usual 1 s timeout would be
/// too strict for a busy database, so keep the probe's `timeoutSeconds` above this.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz`, `/readyz`, and `metrics` (the `/metrics` router) merged into one.
pub fn router(health: Arc<Health>, ping: StoragePing, metrics: Router) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(Probe { health, ping })
        .merge(metrics)
}

async fn readyz(State(probe): State<Probe>) -> (StatusCode, String) {
    if probe.health.stopping.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into());
    }
    if !probe.health.running.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "the worker is not running\n".into());
    }
    match tokio::time::timeout(PING_TIMEOUT, (probe.ping)()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n".into()),
        Ok(Err(error)) => (StatusCode::SERVICE_UNAVAILABLE, format!("the storage does not answer: {error}\n")),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, format!("the storage did not answer within {PING_TIMEOUT:?}\n")),
    }
}
