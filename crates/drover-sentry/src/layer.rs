use super::service::Sentry;

/// Layer adding [`Sentry`]: a transaction per job, errors and panics captured with the job's
/// context.
///
/// Put [`sentry_tower::NewSentryLayer::new_from_top()`] before it (outside), as in the crate
/// example, so that each job gets a hub of its own.
///
/// [`sentry_tower::NewSentryLayer::new_from_top()`]: https://docs.rs/sentry-tower/0.49/sentry_tower/type.NewSentryLayer.html
#[derive(Clone, Copy, Debug, Default)]
pub struct SentryLayer;

impl SentryLayer {
    /// A new layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> tower::Layer<S> for SentryLayer {
    type Service = Sentry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Sentry { inner }
    }
}
