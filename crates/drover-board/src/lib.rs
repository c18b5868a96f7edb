//! The Drover web board: see and operate every queue of a storage from a browser or a script,
//! safe by default.
//!
//! - [`ApiBuilder`]: a JSON API over any [`drover_core::Admin`] (`PostgresAdmin`,
//!   `MysqlAdmin`, `SqliteAdmin`, `RedisAdmin`, or your own [`drover_core::AdminBackend`]):
//!   queues with counts, the oldest due task, paused state and limits; tasks filtered by
//!   status, id and text in the error, in pages that stay stable under pushes; a task; retry,
//!   cancel, delete, run now, each one task or in bulk by filter; pause, resume, purge, push;
//!   a queue's cap on running tasks
//!   and rate of starts across every worker (`POST .../limits`); a task's attempts (every
//!   failed attempt's error and timing, `attempts` in `GET .../tasks/{id}`); the running
//!   workers, each registered by itself with host, pid, queues, running and concurrency,
//!   started and last seen (`GET /stores/{store}/workers`).
//!   Its OpenAPI 3 document is at `GET /api/v1/openapi.json`.
//! - Recurring jobs (feature `cron`, on by default): pass each `drover-cron` pipe to
//!   [`ApiBuilder::schedule`] (or [`Board::schedule`]) and `GET /api/v1/schedules` and the
//!   schedules page list its expression, next tick and last tick.
//! - [`ServeUI`]: server-rendered pages (overview, queue with its limits, task, workers, schedules) with a few lines of
//!   embedded JavaScript for live refresh and actions. No npm, no build step: the assets are
//!   in the crate.
//! - [`Board`]: both in one router.
//! - [`Broadcaster`]: actions sent to every open page as server-sent events.
//!
//! # Safe by default
//!
//! - Every route needs authentication. With no settings, the board answers every request with
//!   401 and a message naming the variables to set: `DROVER_BOARD_TOKEN`, or
//!   `DROVER_BOARD_USER` and `DROVER_BOARD_PASSWORD` (operators); `DROVER_BOARD_READ_ONLY_*`
//!   for logins that see but cannot act ([`Role::ReadOnly`]: every `POST` answers 403).
//!   [`Auth`] sets the same in code; [`Auth::external`] takes the [`Role`] your own tower
//!   layer puts into the request; only `insecure_no_auth()` turns authentication off.
//! - Every state-changing request needs the header `X-Drover-Csrf: 1` ([`CSRF_HEADER`]) and
//!   must not come from another origin (`Origin`, `Sec-Fetch-Site`), so another site cannot
//!   make a logged-in browser act.
//! - Payloads and errors are HTML-escaped: a payload holding `<script>` shows as text. Pages
//!   carry a content security policy that runs only the board's own script.
//!
//! # Example: the production guide's §9
//!
//! ```no_run
//! use axum::{Extension, Router};
//! use drover_board::{ApiBuilder, Broadcaster, ServeUI};
//! use futures_util::FutureExt;
//! use tokio::signal::ctrl_c;
//!
//! # async fn run(email_store: drover_sqlite::SqliteAdmin, api_host: &str) -> std::io::Result<()> {
//! let broadcaster = Broadcaster::new();
//! let api = ApiBuilder::new(Router::new())
//!     .register(email_store.clone())
//!     .build();
//! let router = Router::new()
//!     .nest("/api/v1", api)
//!     .fallback_service(ServeUI::new())
//!     .layer(Extension(broadcaster.clone()));
//! let listener = tokio::net::TcpListener::bind(api_host).await?;
//! axum::serve(listener, router)
//!     .with_graceful_shutdown(ctrl_c().map(|_| ()))
//!     .await
//! # }
//! ```
//!
//! `examples/seed.rs` is that program; `examples/live.rs` runs a worker and the board on a
//! SQLite file (`cargo run -p drover-board --example live`).

mod api;
mod auth;
mod board;
mod broadcaster;
mod error;
mod guard;
mod html;
mod pages;
mod routes;
#[cfg(feature = "cron")]
mod schedules;
mod ui;
mod view;

pub use api::ApiBuilder;
pub use auth::{Auth, AuthError, Role, MIN_TOKEN_LEN};
pub use board::Board;
pub use broadcaster::{BoardEvent, Broadcaster};
pub use guard::CSRF_HEADER;
#[cfg(feature = "cron")]
pub use schedules::BoardSchedule;
pub use ui::{ServeUI, DEFAULT_API_BASE};
