//! `ApiBuilder`: the board's JSON API (and the page fragments the UI shows) over the
//! registered admins, behind the guard.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use drover_core::Admin;
use serde::Serialize;

use crate::auth::Auth;
use crate::broadcaster::{BoardEvent, Broadcaster};
use crate::error::ApiError;
use crate::guard::{guard, security_headers, Guard, Surface};
use crate::{pages, routes};

/// One registered admin under its name (the `{store}` of the routes).
pub(crate) struct Store {
    pub(crate) name: String,
    pub(crate) admin: Arc<dyn Admin>,
}

/// What every handler sees.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) stores: Arc<Vec<Store>>,
    pub(crate) broadcaster: Option<Broadcaster>,
    #[cfg(feature = "cron")]
    pub(crate) schedules: Arc<Vec<Box<dyn crate::schedules::BoardSchedule>>>,
}

impl ApiState {
    pub(crate) fn store(&self, name: &str) -> Result<&Store, ApiError> {
        self.stores.iter().find(|s| s.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.stores.iter().map(|s| s.name.as_str()).collect();
            ApiError::not_found(format!("no store named {name:?}; the board has {known:?}"))
        })
    }

    /// Tell open pages what changed: the builder's broadcaster, else the one a request
    /// extension carries.
    pub(crate) fn publish(&self, from_request: Option<&Broadcaster>, event: BoardEvent) {
        if let Some(broadcaster) = self.broadcaster.as_ref().or(from_request) {
            broadcaster.send(event);
        }
    }
}

/// Builds the board's JSON API: nest the router it returns at `/api/v1` (the UI,
/// [`ServeUI`](crate::ServeUI), calls it there).
///
/// Every route needs authentication: [`Auth::from_env`] unless [`auth`](ApiBuilder::auth)
/// says otherwise. Routes, all under the nesting path (the OpenAPI document at
/// `GET /openapi.json` describes them):
///
/// | route | what |
/// |---|---|
/// | `GET /stores` | the registered stores |
/// | `GET /queues` | every queue of every store: counts, oldest due task, paused, limits |
/// | `GET /stores/{store}/queues/{queue}` | one queue |
/// | `GET /stores/{store}/queues/{queue}/throughput?minutes=15` | tasks done and dead in each of the last minutes |
/// | `GET /stores/{store}/queues/{queue}/tasks?status=&id=&error=&before=&limit=` | a page of tasks, newest first, filtered by status, id and text in the error; `next_before` starts the next page (stable under pushes) |
/// | `POST /stores/{store}/queues/{queue}/tasks` | push a task (`{"payload": ..., "priority", "max_attempts", "delay_seconds", "unique_key"}`) |
/// | `GET /stores/{store}/queues/{queue}/tasks/{id}` | one task |
/// | `POST .../tasks/{id}/retry`, `.../cancel`, `.../delete`, `.../run-now` | act on a task |
/// | `POST /stores/{store}/queues/{queue}/bulk` | act on every task of a status (`{"action": "retry", "status": "dead", "error": "SMTP"}`; actions `retry`, `cancel`, `delete`, `run_now`) |
/// | `POST /stores/{store}/queues/{queue}/pause`, `.../resume` | stop or restart claims on every worker |
/// | `POST /stores/{store}/queues/{queue}/purge` | delete finished tasks (`{"status": "done", "older_than_seconds": 86400}`) |
/// | `POST /stores/{store}/queues/{queue}/limits` | set or remove the queue's limits on every worker (`{"max_running": 5, "rate": {"starts": 200, "per_ms": 1000}}`; `null` removes one, a field left out stays) |
/// | `GET /stores/{store}/workers` | workers the storage saw, where it records them |
/// | `GET /tasks/{id}` | a task by id, in whichever store and queue holds it |
/// | `GET /schedules` | the recurring jobs given to [`schedule`](ApiBuilder::schedule): expression, next and last tick |
/// | `GET /events` | server-sent events from the [`Broadcaster`] |
/// | `GET /ui/...` | the HTML fragments the UI's pages show |
///
/// `POST` routes need the operator role, the header `X-Drover-Csrf: 1`, and no foreign
/// `Origin`.
///
/// ```
/// use axum::Router;
/// use drover_board::{ApiBuilder, Auth, Role};
/// use drover_core::{AdminBackend, BackendError, MemoryStorage};
/// # use futures_util::future::BoxFuture;
///
/// # struct Memory(MemoryStorage<()>);
/// # impl AdminBackend for Memory {
/// #     type Storage = MemoryStorage<()>;
/// #     fn name(&self) -> &'static str { "memory" }
/// #     fn storage(&self, _queue: &str) -> MemoryStorage<()> { self.0.clone() }
/// #     fn queue_names(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> { Box::pin(async { Ok(vec!["email".into()]) }) }
/// #     fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>> { Box::pin(async { Ok(()) }) }
/// # }
/// # let admin = Memory(MemoryStorage::named("email"));
/// let api = ApiBuilder::new(Router::new())
///     .register(admin) // any drover_core::Admin: PostgresAdmin, SqliteAdmin, RedisAdmin, ...
///     .auth(Auth::new().token("a-long-random-operator-token", Role::Operator))
///     .build();
/// let app: Router = Router::new().nest("/api/v1", api);
/// ```
pub struct ApiBuilder {
    router: Router,
    stores: Vec<Store>,
    auth: Option<Auth>,
    broadcaster: Option<Broadcaster>,
    #[cfg(feature = "cron")]
    schedules: Vec<Box<dyn crate::schedules::BoardSchedule>>,
}

impl std::fmt::Debug for ApiBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stores: Vec<&str> = self.stores.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("ApiBuilder").field("stores", &stores).field("auth", &self.auth).finish_non_exhaustive()
    }
}

impl ApiBuilder {
    /// Add the board's routes to `router` (usually `Router::new()`); its own routes stay
    /// as they are, without the board's authentication.
    pub fn new(router: Router) -> Self {
        Self {
            router,
            stores: Vec::new(),
            auth: None,
            broadcaster: None,
            #[cfg(feature = "cron")]
            schedules: Vec::new(),
        }
    }

    /// Show and operate every queue of `admin` (`PostgresAdmin`, `SqliteAdmin`, ...), under the
    /// backend's name (`postgres`; `postgres-2` for a second one).
    pub fn register<A: Admin + 'static>(self, admin: A) -> Self {
        self.register_dyn(Arc::new(admin) as Arc<dyn Admin>)
    }

    /// [`register`](Self::register) for a `Box<dyn Admin>` or `Arc<dyn Admin>`, such as a
    /// tool builds from a URL.
    pub fn register_dyn(self, admin: impl Into<Arc<dyn Admin>>) -> Self {
        let admin = admin.into();
        let name = admin.backend().to_owned();
        self.register_named(name, admin)
    }

    /// Register under a name of your own (letters, digits, `-` and `_`; other characters
    /// become `-`).
    pub fn register_as<A: Admin + 'static>(self, name: &str, admin: A) -> Self {
        self.register_named(name.to_owned(), Arc::new(admin))
    }

    fn register_named(mut self, name: String, admin: Arc<dyn Admin>) -> Self {
        let clean: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
        let base = if clean.is_empty() { "store".to_owned() } else { clean };
        let mut name = base.clone();
        let mut n = 2;
        while self.stores.iter().any(|s| s.name == name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        self.stores.push(Store { name, admin });
        self
    }

    /// Who may call the API (default: [`Auth::from_env`]).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// No authentication: anyone who reaches the API may see and act. Only behind something
    /// that authenticates for you.
    pub fn insecure_no_auth(self) -> Self {
        self.auth(Auth::insecure_no_auth())
    }

    /// Send the board's actions to `broadcaster` (otherwise to the one an `Extension` layer
    /// puts into requests, if any).
    pub fn broadcaster(mut self, broadcaster: Broadcaster) -> Self {
        self.broadcaster = Some(broadcaster);
        self
    }

    /// List a recurring job on the schedules page and at `GET /schedules`: a `drover-cron`
    /// [`Pipe`](drover_cron::Pipe) (clone the one you register with the monitor), or anything
    /// implementing [`BoardSchedule`](crate::BoardSchedule).
    #[cfg(feature = "cron")]
    pub fn schedule(mut self, schedule: impl crate::schedules::BoardSchedule) -> Self {
        self.schedules.push(Box::new(schedule));
        self
    }

    /// The router: the given one plus the board's routes, guarded.
    pub fn build(self) -> Router {
        let auth = self.auth.unwrap_or_else(Auth::from_env);
        if auth.is_insecure() {
            tracing::warn!("drover-board: the API has no authentication (insecure_no_auth)");
        }
        let state = ApiState {
            stores: Arc::new(self.stores),
            broadcaster: self.broadcaster,
            #[cfg(feature = "cron")]
            schedules: Arc::new(self.schedules),
        };
        let queue = "/stores/{store}/queues/{queue}";
        let routes = Router::new()
            .route("/openapi.json", get(routes::openapi))
            .route("/stores", get(routes::stores))
            .route("/queues", get(routes::queues))
            .route(queue, get(routes::queue))
            .route(&format!("{queue}/tasks"), get(routes::tasks).post(routes::push))
            .route(&format!("{queue}/tasks/{{id}}"), get(routes::task))
            .route(&format!("{queue}/tasks/{{id}}/retry"), post(routes::retry))
            .route(&format!("{queue}/tasks/{{id}}/cancel"), post(routes::cancel))
            .route(&format!("{queue}/tasks/{{id}}/delete"), post(routes::delete))
            .route(&format!("{queue}/tasks/{{id}}/run-now"), post(routes::run_now))
            .route(&format!("{queue}/bulk"), post(routes::bulk))
            .route(&format!("{queue}/pause"), post(routes::pause))
            .route(&format!("{queue}/resume"), post(routes::resume))
            .route(&format!("{queue}/purge"), post(routes::purge))
            .route(&format!("{queue}/limits"), post(routes::limits))
            .route(&format!("{queue}/throughput"), get(routes::throughput))
            .route("/stores/{store}/workers", get(routes::workers))
            .route("/tasks/{id}", get(routes::find))
            .route("/schedules", get(routes::schedules))
            .route("/ui/schedules", get(pages::schedules))
            .route("/events", get(routes::events))
            .route("/ui/overview", get(pages::overview))
            .route("/ui/workers", get(pages::workers))
            .route(&format!("/ui{queue}"), get(pages::queue))
            .route(&format!("/ui{queue}/tasks/{{id}}"), get(pages::task))
            .route("/ui/tasks/{id}", get(pages::find))
            .with_state(state)
            .layer(from_fn_with_state(Guard { auth, surface: Surface::Api }, guard))
            .layer(map_response(security_headers));
        self.router.merge(routes)
    }
}

/// A JSON response.
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"error\":\"could not encode the answer as JSON: {}\"}}", error.to_string().replace('"', "'")),
        )
            .into_response(),
    }
}
