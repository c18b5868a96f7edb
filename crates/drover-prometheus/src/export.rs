//! Serving the metrics: the text format, and an axum `/metrics` route.

use prometheus::{Encoder, Registry, TextEncoder};

use crate::queues::QueueMetrics;

/// The content type of Prometheus's text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything in `registry`, in Prometheus's text format (for any HTTP server).
pub fn encode(registry: &Registry) -> Result<String, prometheus::Error> {
    let mut buffer = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut buffer)?;
    String::from_utf8(buffer).map_err(|e| prometheus::Error::Msg(format!("the encoded metrics are not UTF-8: {e}")))
}

/// What a `/metrics` endpoint serves: a registry, and the queues to read at each scrape.
///
/// ```
/// use drover_core::MemoryStorage;
/// use drover_prometheus::{Exporter, JobMetrics, QueueMetrics};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = prometheus::Registry::new();
/// let _jobs = JobMetrics::register(&registry)?; // give it to PrometheusLayer::with_metrics
/// let queues = QueueMetrics::register(&registry)?;
/// queues.watch(MemoryStorage::<String>::named("email"));
/// let exporter = Exporter::new(registry).with_queues(queues);
/// let text = exporter.render().await?;
/// assert!(text.contains(r#"drover_queue_tasks{queue="email",status="pending"} 0"#));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Exporter {
    registry: Registry,
    queues: Option<QueueMetrics>,
}

impl Exporter {
    /// Serve `registry`.
    pub fn new(registry: Registry) -> Self {
        Self { registry, queues: None }
    }

    /// Serve the default registry (where [`PrometheusLayer::new`](crate::PrometheusLayer::new)
    /// records).
    pub fn default_registry() -> Self {
        Self::new(prometheus::default_registry().clone())
    }

    /// Read these queues' counts at each scrape.
    pub fn with_queues(mut self, queues: QueueMetrics) -> Self {
        self.queues = Some(queues);
        self
    }

    /// Refresh the queues, then encode everything.
    pub async fn render(&self) -> Result<String, prometheus::Error> {
        if let Some(queues) = &self.queues {
            queues.refresh().await;
        }
        encode(&self.registry)
    }
}

/// An axum router serving `GET /metrics` from `exporter`; merge it into your app's router.
///
/// ```no_run
/// # async fn run(exporter: drover_prometheus::Exporter) -> Result<(), Box<dyn std::error::Error>> {
/// let app = axum::Router::new().merge(drover_prometheus::router(exporter));
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:9090").await?;
/// axum::serve(listener, app).await?;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "axum")]
pub fn router(exporter: Exporter) -> axum::Router {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;

    async fn metrics(axum::extract::State(exporter): axum::extract::State<Exporter>) -> axum::response::Response {
        match exporter.render().await {
            Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("encoding the metrics failed: {e}")).into_response(),
        }
    }
    axum::Router::new().route("/metrics", axum::routing::get(metrics)).with_state(exporter)
}
