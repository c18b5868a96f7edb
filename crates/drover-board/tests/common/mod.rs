//! Shared by the board's tests: a memory `AdminBackend`, the credentials, requests through
//! `tower::ServiceExt::oneshot`, and a way to make a dead task on any storage.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use drover_board::{Auth, Board, Role};
use drover_core::{Backend, ClaimRequest, Completion, Outcome, TaskId};
use tower::ServiceExt;

pub const OPERATOR_TOKEN: &str = "operator-token-0123456789";
pub const READER_TOKEN: &str = "reader-token-0123456789";
pub const USER: &str = "admin";
pub const PASSWORD: &str = "admin-password";

/// Every queue of a process's memory: the core's admin over `MemoryStorage` per queue name.
pub use drover_core::MemoryAdmin;

/// Operator and read-only tokens, and an operator's user and password.
pub fn auth() -> Auth {
    Auth::new().token(OPERATOR_TOKEN, Role::Operator).token(READER_TOKEN, Role::ReadOnly).basic(
        USER,
        PASSWORD,
        Role::Operator,
    )
}

/// The whole board over `admin` with [`auth`].
pub fn board<A: drover_core::Admin + 'static>(admin: A) -> Router {
    Board::new().register(admin).auth(auth()).into_router()
}

/// Who sends a request.
#[derive(Clone, Copy, Debug)]
pub enum Who {
    Nobody,
    Operator,
    Reader,
    Wrong,
    Basic,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

pub fn request(method: Method, path: &str, who: Who, csrf: bool, body: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path).header(header::HOST, "board.test");
    builder = match who {
        Who::Nobody => builder,
        Who::Operator => builder.header(header::AUTHORIZATION, format!("Bearer {OPERATOR_TOKEN}")),
        Who::Reader => builder.header(header::AUTHORIZATION, format!("Bearer {READER_TOKEN}")),
        Who::Wrong => builder.header(header::AUTHORIZATION, "Bearer not-the-token-at-all-00000"),
        Who::Basic => {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
            builder.header(header::AUTHORIZATION, format!("Basic {encoded}"))
        }
    };
    if csrf {
        builder = builder.header("x-drover-csrf", "1");
    }
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    builder.body(Body::from(body.unwrap_or("").to_owned())).expect("a valid request")
}

pub async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("the router never fails");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.expect("a readable body");
    Answer { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

pub async fn get(app: &Router, path: &str, who: Who) -> Answer {
    call(app, request(Method::GET, path, who, false, None)).await
}

/// A `POST` with the CSRF header.
pub async fn post(app: &Router, path: &str, who: Who, body: Option<&str>) -> Answer {
    call(app, request(Method::POST, path, who, true, body)).await
}

/// Claim the one pending task of `storage`'s queue and report it dead with `error`.
pub async fn kill<B: Backend>(storage: &B, error: &str) -> TaskId {
    let claimed = storage.claim(ClaimRequest::new("test-worker", 1, Duration::from_secs(30))).await.expect("claim");
    let task = claimed.into_iter().next().expect("a pending task to claim");
    let outcome = Outcome::Dead { error: error.to_owned() };
    storage.complete(vec![Completion { lease: task.lease(), outcome }]).await.expect("complete");
    task.id
}

/// A queue name no other test run uses (for shared databases).
pub fn unique_queue(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// Every `GET` route of the API and the pages (the event stream is tested on its own).
pub fn get_routes(store: &str, queue: &str, id: &str) -> Vec<String> {
    let q = format!("/stores/{store}/queues/{queue}");
    vec![
        "/api/v1/openapi.json".to_owned(),
        "/api/v1/stores".to_owned(),
        "/api/v1/queues".to_owned(),
        format!("/api/v1{q}"),
        format!("/api/v1{q}/tasks"),
        format!("/api/v1{q}/throughput"),
        format!("/api/v1{q}/tasks/{id}"),
        format!("/api/v1/stores/{store}/workers"),
        format!("/api/v1/tasks/{id}"),
        "/api/v1/schedules".to_owned(),
        "/api/v1/ui/schedules".to_owned(),
        "/schedules".to_owned(),
        "/api/v1/ui/overview".to_owned(),
        "/api/v1/ui/workers".to_owned(),
        format!("/api/v1/ui{q}"),
        format!("/api/v1/ui{q}/tasks/{id}"),
        format!("/api/v1/ui/tasks/{id}"),
        "/".to_owned(),
        q.clone(),
        format!("{q}/tasks/{id}"),
        "/workers".to_owned(),
        format!("/tasks?id={id}"),
        "/_board/board.css".to_owned(),
        "/_board/board.js".to_owned(),
    ]
}

/// Every `POST` route, with a body it accepts.
pub fn post_routes(store: &str, queue: &str, id: &str) -> Vec<(String, Option<&'static str>)> {
    let q = format!("/api/v1/stores/{store}/queues/{queue}");
    vec![
        (format!("{q}/tasks/{id}/retry"), None),
        (format!("{q}/tasks/{id}/cancel"), None),
        (format!("{q}/tasks/{id}/run-now"), None),
        (format!("{q}/tasks/{id}/delete"), None),
        (format!("{q}/bulk"), Some(r#"{"action": "retry", "status": "dead"}"#)),
        (format!("{q}/pause"), None),
        (format!("{q}/resume"), None),
        (format!("{q}/purge"), Some(r#"{"status": "done", "older_than_seconds": 0}"#)),
        (format!("{q}/tasks"), Some(r#"{"payload": {"n": 1}}"#)),
        (format!("{q}/limits"), Some(r#"{"max_running": 5, "rate": {"starts": 100, "per_ms": 1000}}"#)),
    ]
}
