//! A failed board request as a response: the status and a message that says what failed and,
//! where it can, what to do.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use drover_core::BackendError;

/// An error the API answers with `{"error": "<message>"}` (and the UI with a page fragment).
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// The error as an HTML fragment for the UI.
    pub(crate) fn into_html(self) -> Response {
        let body = format!("<div class=\"error\" role=\"alert\">{}</div>", crate::html::E(&self.message));
        (self.status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    }
}

impl From<BackendError> for ApiError {
    fn from(error: BackendError) -> Self {
        let status = match &error {
            BackendError::Connection { .. } => StatusCode::SERVICE_UNAVAILABLE,
            BackendError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            BackendError::Config(_) | BackendError::Codec(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!(%error, "drover-board: a storage operation failed");
        }
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::api::json(self.status, &serde_json::json!({ "error": self.message }))
    }
}
