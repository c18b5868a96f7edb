//! Shared pieces of the examples: the `Email` job, a fake SMTP client, and the shutdown signals
//! of the production guide.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub body: String,
}

impl Email {
    pub fn numbered(i: u64) -> Self {
        Self { to: format!("user{i}@example.com"), body: format!("Hello number {i}") }
    }
}

/// Stands in for a real SMTP client: counts what it sends.
#[derive(Debug, Default)]
pub struct SmtpClient {
    sent: AtomicU64,
}

impl SmtpClient {
    pub async fn send(&self, _to: &str, _body: &str) -> Result<(), std::io::Error> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// The guide's SIGTERM/SIGINT handler (what Kubernetes and systemd send on stop).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut sigterm, mut sigint) = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(term), Ok(int)) => (term, int),
        _ => {
            tracing::warn!("could not install signal handlers; stop with kill -9");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = sigterm.recv() => tracing::info!("Received SIGTERM"),
        _ = sigint.recv() => tracing::info!("Received SIGINT"),
    }
}

/// Resolves when `counter` reaches `target` or a shutdown signal arrives, so examples end by
/// themselves once their work is done.
pub async fn done_or_signal(counter: Arc<AtomicU64>, target: u64) {
    let done = async {
        while counter.load(Ordering::Relaxed) < target {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        _ = done => {}
        _ = shutdown_signal() => {}
    }
}
