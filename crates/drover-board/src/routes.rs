//! The JSON API's handlers.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use drover_core::{BulkAction, PushOptions, Status, TaskFilter, TaskId, TaskInfo};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::json;

use crate::api::{json, ApiState};
use crate::broadcaster::{BoardEvent, Broadcaster};
use crate::error::ApiError;
use crate::view::{LimitsView, QueueView, TaskView, WorkerView};

/// The most tasks one page lists.
pub(crate) const MAX_LIMIT: u64 = 500;
/// A page's size unless `limit` says otherwise.
pub(crate) const DEFAULT_LIMIT: u64 = 50;
/// The longest `delay_seconds` and `older_than_seconds` (100 years), as the OpenAPI document
/// says: beyond it times overflow the storages' clocks.
pub(crate) const MAX_SECONDS: u64 = 3_153_600_000;

const OPENAPI: &str = include_str!("../assets/openapi.json");

type ApiResult = Result<Response, ApiError>;
type QueuePath = Path<(String, String)>;
type TaskPath = Path<(String, String, String)>;

pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub(crate) async fn stores(State(state): State<ApiState>) -> Response {
    let stores: Vec<_> = state.stores.iter().map(|s| json!({ "name": s.name, "backend": s.admin.backend() })).collect();
    json(StatusCode::OK, &json!({ "stores": stores }))
}

/// Every queue of every store.
pub(crate) async fn all_queues(state: &ApiState) -> Result<Vec<QueueView>, ApiError> {
    let mut views = Vec::new();
    for store in state.stores.iter() {
        for summary in store.admin.queues().await? {
            views.push(QueueView::new(&store.name, store.admin.backend(), &summary));
        }
    }
    Ok(views)
}

pub(crate) async fn queues(State(state): State<ApiState>) -> ApiResult {
    Ok(json(StatusCode::OK, &json!({ "queues": all_queues(&state).await? })))
}

/// One queue's view (a queue with no tasks yet has zero counts).
pub(crate) async fn queue_view(state: &ApiState, store: &str, queue: &str) -> Result<QueueView, ApiError> {
    let store = state.store(store)?;
    let summary = store.admin.queue(queue).await?;
    Ok(QueueView::new(&store.name, store.admin.backend(), &summary))
}

pub(crate) async fn queue(State(state): State<ApiState>, Path((store, queue)): QueuePath) -> ApiResult {
    Ok(json(StatusCode::OK, &queue_view(&state, &store, &queue).await?))
}

/// The most characters of error text a filter takes.
pub(crate) const MAX_FILTER_TEXT: usize = 1_000;

/// A page of a task listing as a query string asks for it: `status`, `id`, `error` (text in the
/// last error), `before` (the id the previous page ended at) and `limit`.
#[derive(Clone, Debug, Default)]
pub(crate) struct TaskQuery {
    pub(crate) filter: TaskFilter,
    pub(crate) before: Option<TaskId>,
    pub(crate) limit: usize,
}

impl TaskQuery {
    /// The query string of this listing's filter (`status=dead&error=smtp`), with `before`.
    pub(crate) fn query_string(&self, before: Option<TaskId>) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        if let Some(status) = self.filter.status {
            out.append_pair("status", status.as_str());
        }
        if let Some(id) = self.filter.id {
            out.append_pair("id", &id.to_string());
        }
        if let Some(error) = &self.filter.error_contains {
            out.append_pair("error", error);
        }
        if let Some(before) = before {
            out.append_pair("before", &before.to_string());
        }
        out.finish()
    }
}

fn parse_status(value: &str) -> Result<Option<Status>, ApiError> {
    if value.is_empty() || value == "all" {
        return Ok(None);
    }
    value.parse::<Status>().map(Some).map_err(|e| {
        ApiError::bad_request(format!("{e}; status is one of all, pending, running, done, dead, cancelled"))
    })
}

fn parse_id(name: &str, value: &str) -> Result<Option<TaskId>, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
}

fn parse_text(value: &str) -> Result<Option<String>, ApiError> {
    if value.chars().count() > MAX_FILTER_TEXT {
        return Err(ApiError::bad_request(format!("error: at most {MAX_FILTER_TEXT} characters")));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// A [`TaskQuery`] from a query string.
pub(crate) fn task_query(raw: Option<&str>) -> Result<TaskQuery, ApiError> {
    let mut query = TaskQuery { limit: DEFAULT_LIMIT as usize, ..TaskQuery::default() };
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "status" => query.filter.status = parse_status(&value)?,
            "id" => query.filter.id = parse_id("id", &value)?,
            "error" => query.filter.error_contains = parse_text(&value)?,
            "before" => query.before = parse_id("before", &value)?,
            "limit" => {
                query.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| ApiError::bad_request(format!("limit must be 1 to {MAX_LIMIT}, got {value:?}")))?
            }
            "offset" => {
                return Err(ApiError::bad_request(
                    "offset is not a parameter: pages are stable, give before=<the next_before of the previous page>",
                ))
            }
            _ => {}
        }
    }
    Ok(query)
}

pub(crate) async fn tasks(
    State(state): State<ApiState>,
    Path((store, queue)): QueuePath,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = task_query(raw.as_deref())?;
    let store = state.store(&store)?;
    let page = store.admin.search(&queue, &query.filter, query.before, query.limit).await.map_err(unsupported_here)?;
    let views: Vec<_> = page.tasks.iter().map(|t| TaskView::new(&store.name, t)).collect();
    let next = page.next.map(|id| id.to_string());
    Ok(json(StatusCode::OK, &json!({ "tasks": views, "limit": query.limit, "next_before": next })))
}

pub(crate) fn task_id(id: &str) -> Result<TaskId, ApiError> {
    id.parse().map_err(|e| ApiError::bad_request(format!("{e}")))
}

/// A task of a queue, or 404.
pub(crate) async fn load_task(state: &ApiState, store: &str, queue: &str, id: &str) -> Result<TaskInfo, ApiError> {
    let id = task_id(id)?;
    state
        .store(store)?
        .admin
        .get(queue, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no task {id} in queue {queue:?} of store {store:?}")))
}

pub(crate) async fn task(State(state): State<ApiState>, Path((store, queue, id)): TaskPath) -> ApiResult {
    let task = load_task(&state, &store, &queue, &id).await?;
    Ok(json(StatusCode::OK, &TaskView::new(&store, &task)))
}

/// A task by id in whichever store holds it.
pub(crate) async fn find_task(state: &ApiState, id: &str) -> Result<(String, TaskInfo), ApiError> {
    let id = task_id(id)?;
    for store in state.stores.iter() {
        if let Some(task) = store.admin.find(id).await? {
            return Ok((store.name.clone(), task));
        }
    }
    Err(ApiError::not_found(format!("no task {id} in any queue of any store")))
}

pub(crate) async fn find(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    let (store, task) = find_task(&state, &id).await?;
    Ok(json(StatusCode::OK, &TaskView::new(&store, &task)))
}

fn done(message: String, extra: serde_json::Value) -> Response {
    let mut body = json!({ "message": message });
    if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    json(StatusCode::OK, &body)
}

pub(crate) async fn retry(
    State(state): State<ApiState>,
    Path((store, queue, id)): TaskPath,
    broadcaster: Option<Extension<Broadcaster>>,
) -> ApiResult {
    let task = load_task(&state, &store, &queue, &id).await?;
    if !matches!(task.status, Status::Dead | Status::Cancelled)
        || !state.store(&store)?.admin.requeue(&queue, task.id).await?
    {
        return Err(ApiError::conflict(format!(
            "task {} is {}: only dead or cancelled tasks can be retried",
            task.id, task.status
        )));
    }
    state.publish(broadcaster.as_deref(), BoardEvent::new("retried", &store, &queue).task(task.id.to_string()));
    Ok(done(format!("task {} will run again", task.id), json!({ "id": task.id.to_string(), "status": "pending" })))
}

pub(crate) async fn cancel(
    State(state): State<ApiState>,
    Path((store, queue, id)): TaskPath,
    broadcaster: Option<Extension<Broadcaster>>,
) -> ApiResult {
    let task = load_task(&state, &store, &queue, &id).await?;
    if task.status.is_final() || !state.store(&store)?.admin.cancel(&queue, task.id).await? {
        return Err(ApiError::conflict(format!(
            "task {} is {}: only pending or running tasks can be cancelled",
            task.id, task.status
        )));
    }
    state.publish(broadcaster.as_deref(), BoardEvent::new("cancelled", &store, &queue).task(task.id.to_string()));
    Ok(done(format!("task {} is cancelled", task.id), json!({ "id": task.id.to_string(), "status": "cancelled" })))
}

pub(crate) async fn delete(
    State(state): State<ApiState>,
    Path((store, queue, id)): TaskPath,
    broadcaster: Option<Extension<Broadcaster>>,
) -> ApiResult {
    let task = load_task(&state, &store, &queue, &id).await?;
    if task.status == Status::Running {
        return Err(ApiError::conflict(format!(
            "task {} is running: cancel it first (its worker holds it), then delete it",
            task.id
        )));
    }
    if !state.store(&store)?.admin.delete(&queue, task.id).await.map_err(unsupported_here)? {
        return Err(ApiError::conflict(format!(
            "task {} was not deleted: it started running or was deleted meanwhile",
            task.id
        )));
    }
    state.publish(broadcaster.as_deref(), BoardEvent::new("deleted", &store, &queue).task(task.id.to_string()));
    Ok(done(format!("task {} is deleted", task.id), json!({ "id": task.id.to_string() })))
}

pub(crate) async fn run_now(
    State(state): State<ApiState>,
    Path((store, queue, id)): TaskPath,
    broadcaster: Option<Extension<Broadcaster>>,
) -> ApiResult {
    let task = load_task(&state, &store, &queue, &id).await?;
    if task.status != Status::Pending
        || !state.store(&store)?.admin.run_now(&queue, task.id).await.map_err(unsupported_here)?
    {
        return Err(ApiError::conflict(format!(
            "task {} is {}: only pending tasks (scheduled, or waiting for a retry) can run now",
            task.id, task.status
        )));
    }
    state.publish(broadcaster.as_deref(), BoardEvent::new("run_now", &store, &queue).task(task.id.to_string()));
    Ok(done(format!("task {} is due now", task.id), json!({ "id": task.id.to_string(), "status": "pending" })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    action: BulkAction,
    status: Status,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// The statuses an action changes, for the message when it changed nothing.
fn takes(action: BulkAction) -> &'static str {
    match action {
        BulkAction::Retry => "dead or cancelled",
        BulkAction::Cancel => "pending or running",
        BulkAction::RunNow => "pending",
        _ => "not running",
    }
}

/// Retry, cancel, delete or run now every task of a status (and, optionally, an id and text in
/// its error).
pub(crate) async fn bulk(
    State(state): State<ApiState>,
    Path((store, queue)): QueuePath,
    broadcaster: Option<Extension<Broadcaster>>,
    bytes: Bytes,
) -> ApiResult {
    let request: BulkBody = body(&bytes, r#"{"action": "retry", "status": "dead", "error": "SMTP"}"#)?;
    let mut filter = TaskFilter::new().status(request.status);
    if let Some(id) = parse_id("id", request.id.as_deref().unwrap_or(""))? {
        filter = filter.id(id);
    }
    if let Some(text) = parse_text(request.error.as_deref().unwrap_or(""))? {
        filter = filter.error_contains(text);
    }
    let changed = state.store(&store)?.admin.bulk(&queue, request.action, &filter).await.map_err(unsupported_here)?;
    state.publish(broadcaster.as_deref(), BoardEvent::new("bulk", &store, &queue));
    let what = match request.action {
        BulkAction::Retry => "will run again",
        BulkAction::Cancel => "cancelled",
        BulkAction::RunNow => "due now",
        _ => "deleted",
    };
    let mut message = format!("{changed} {} tasks of {queue} {what}", request.status);
    if changed == 0 {
        message.push_str(&format!(" ({} takes {} tasks)", request.action, takes(request.action)));
    }
    Ok(done(message, json!({ "action": request.action, "changed": changed })))
}

async fn set_paused(
    state: &ApiState,
    store: &str,
    queue: &str,
    paused: bool,
    broadcaster: Option<&Broadcaster>,
) -> ApiResult {
    state.store(store)?.admin.set_paused(queue, paused).await?;
    let action = if paused { "paused" } else { "resumed" };
    state.publish(broadcaster, BoardEvent::new(action, store, queue));
    let message = if paused {
        format!("queue {queue} is paused: no worker claims from it until it is resumed")
    } else {
        format!("queue {queue} is resumed")
    };
    Ok(done(message, json!({ "queue": queue, "paused": paused })))
}

pub(crate) async fn pause(
    State(state): State<ApiState>,
    Path((store, queue)): QueuePath,
    broadcaster: Option<Extension<Broadcaster>>,
) -> ApiResult {
    set_paused(&state, &store, &queue, true, broadcaster.as_deref()).await
}

pub(crate) async fn resume(
    State(state): State<ApiState>,
    Path((store, queue)): QueuePath,
    broadcaster: Option<Extension<Broadcaster>>,
) -> ApiResult {
    set_paused(&state, &store, &queue, false, broadcaster.as_deref()).await
}

fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8], shape: &str) -> Result<T, ApiError> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { bytes };
    let wrong = |e: &dyn std::fmt::Display| ApiError::bad_request(format!("the body must be JSON like {shape}: {e}"));
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| wrong(&e))?;
    // Every body is an object; serde would also take its fields as an array.
    if !value.is_object() {
        return Err(wrong(&"an object, not an array, string, number or null"));
    }
    serde_json::from_value(value).map_err(|e| wrong(&e))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeBody {
    status: Status,
    #[serde(default)]
    older_than_seconds: u64,
}

pub(crate) async fn purge(
    State(state): State<ApiState>,
    Path((store, queue)): QueuePath,
    broadcaster: Option<Extension<Broadcaster>>,
    bytes: Bytes,
) -> ApiResult {
    let request: PurgeBody = body(&bytes, r#"{"status": "done", "older_than_seconds": 86400}"#)?;
    if request.older_than_seconds > MAX_SECONDS {
        return Err(ApiError::bad_request(format!("older_than_seconds must be at most {MAX_SECONDS} (100 years)")));
    }
    if !request.status.is_final() {
        return Err(ApiError::bad_request(format!(
            "only finished tasks can be purged (done, dead, cancelled), not {}",
            request.status
        )));
    }
    let older_than = Duration::from_secs(request.older_than_seconds);
    let deleted = state.store(&store)?.admin.purge(&queue, request.status, older_than).await?;
    state.publish(broadcaster.as_deref(), BoardEvent::new("purged", &store, &queue));
    Ok(done(format!("deleted {deleted} {} tasks of {queue}", request.status), json!({ "deleted": deleted })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushBody {
    payload: serde_json::Value,
    #[serde(default)]
    priority: i32,
    max_attempts: Option<u32>,
    #[serde(default)]
    delay_seconds: u64,
    unique_key: Option<String>,
}

pub(crate) async fn push(
    State(state): State<ApiState>,
    Path((store, queue)): QueuePath,
    broadcaster: Option<Extension<Broadcaster>>,
    bytes: Bytes,
) -> ApiResult {
    let request: PushBody = body(&bytes, r#"{"payload": {"to": "a@example.com"}}"#)?;
    if request.max_attempts == Some(0) {
        return Err(ApiError::bad_request("max_attempts must be at least 1"));
    }
    if request.delay_seconds > MAX_SECONDS {
        return Err(ApiError::bad_request(format!("delay_seconds must be at most {MAX_SECONDS} (100 years)")));
    }
    let mut options = PushOptions::new().priority(request.priority);
    if request.delay_seconds > 0 {
        options = options.delay(Duration::from_secs(request.delay_seconds));
    }
    if let Some(max) = request.max_attempts {
        options = options.max_attempts(max);
    }
    if let Some(key) = request.unique_key {
        options = options.unique_key(key);
    }
    let payload = serde_json::to_vec(&request.payload)
        .map_err(|e| ApiError::bad_request(format!("the payload could not be encoded: {e}")))?;
    let id = state.store(&store)?.admin.push(&queue, payload, options).await?;
    state.publish(broadcaster.as_deref(), BoardEvent::new("pushed", &store, &queue).task(id.to_string()));
    let body = json!({ "message": format!("pushed task {id} to {queue}"), "id": id.to_string() });
    Ok(json(StatusCode::CREATED, &body))
}

pub(crate) async fn workers(State(state): State<ApiState>, Path(store): Path<String>) -> ApiResult {
    let store = state.store(&store)?;
    let body = match store.admin.workers(None).await {
        Ok(workers) => {
            let workers: Vec<WorkerView> = workers.iter().map(WorkerView::from).collect();
            json!({ "store": store.name, "supported": true, "workers": workers })
        }
        Err(drover_core::BackendError::Unsupported(reason)) => {
            json!({ "store": store.name, "supported": false, "reason": reason, "workers": [] })
        }
        Err(error) => return Err(error.into()),
    };
    Ok(json(StatusCode::OK, &body))
}

pub(crate) async fn events(
    State(state): State<ApiState>,
    broadcaster: Option<Extension<Broadcaster>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.broadcaster.clone().or(broadcaster.map(|b| b.0)).map(|b| b.subscribe());
    let stream = stream::unfold(receiver, |receiver| async move {
        // Without a broadcaster the stream stays open with keep-alives only, so pages do not
        // reconnect in a loop.
        let Some(mut receiver) = receiver else {
            std::future::pending::<()>().await;
            return None;
        };
        let data = match receiver.recv().await {
            Ok(event) => serde_json::to_string(&event).unwrap_or_else(|_| "{}".to_owned()),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => "{\"action\":\"lagged\"}".to_owned(),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(Event::default().event("board").data(data)), Some(receiver)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// `Some(value)` for a field that is present, even as `null`: tells "remove" (`null`) from
/// "leave as it is" (absent).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateBody {
    starts: u32,
    per_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsBody {
    #[serde(default, deserialize_with = "present")]
    max_running: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    rate: Option<Option<RateBody>>,
    #[serde(default, deserialize_with = "present")]
    max_per_key: Option<Option<u32>>,
}

/// How people read a rate's period: "second", "5 s", "250 ms".
fn period_text(rate: &drover_core::Rate) -> String {
    match rate.per.as_millis() {
        1_000 => "second".to_owned(),
        60_000 => "minute".to_owned(),
        3_600_000 => "hour".to_owned(),
        ms if ms % 1_000 == 0 => format!("{} s", ms / 1_000),
        ms => format!("{ms} ms"),
    }
}

/// How people read a rate: "200 per second".
pub(crate) fn rate_text(rate: &drover_core::Rate) -> String {
    format!("{} per {}", rate.starts, period_text(rate))
}

pub(crate) fn limits_text(limits: &LimitsView) -> String {
    let cap = match limits.max_running {
        Some(n) => format!("at most {n} running across every worker"),
        None => "no cap on running tasks".to_owned(),
    };
    let rate = match &limits.rate {
        Some(rate) => format!("at most {} starts per {}", rate.starts, period_text(rate)),
        None => "no rate of starts".to_owned(),
    };
    let per_key = match limits.max_per_key {
        Some(k) => format!("at most {k} running per concurrency key"),
        None => "no limit per key".to_owned(),
    };
    format!("{cap}; {rate}; {per_key}")
}

/// What the storage cannot do (a limit it cannot hold, an action it lacks) is a valid request
/// that conflicts with what this store is (409), not a failure of the board.
pub(crate) fn unsupported_here(error: drover_core::BackendError) -> ApiError {
    match error {
        drover_core::BackendError::Unsupported(reason) => ApiError::conflict(reason),
        error => error.into(),
    }
}

/// Set or remove a queue's cap on running tasks, its rate of starts and its cap per
/// concurrency key, on every worker; a field left out stays as it is, `null` removes it.
pub(crate) async fn limits(
    State(state): State<ApiState>,
    Path((store, queue)): QueuePath,
    broadcaster: Option<Extension<Broadcaster>>,
    bytes: Bytes,
) -> ApiResult {
    let shape =
        r#"{"max_running": 5, "rate": {"starts": 200, "per_ms": 1000}, "max_per_key": 1} (null removes a limit)"#;
    let request: LimitsBody = body(&bytes, shape)?;
    if request.max_running.is_none() && request.rate.is_none() && request.max_per_key.is_none() {
        return Err(ApiError::bad_request(format!(
            "give at least one of max_running, rate and max_per_key, like {shape}"
        )));
    }
    if request.max_per_key == Some(Some(0)) {
        return Err(ApiError::bad_request("max_per_key must be at least 1 (null removes the limit)"));
    }
    if request.max_running == Some(Some(0)) {
        return Err(ApiError::bad_request(
            "max_running must be at least 1 (null removes the cap; to stop every claim, pause the queue)",
        ));
    }
    let rate = match request.rate {
        Some(Some(RateBody { starts, per_ms })) => {
            if starts == 0 {
                return Err(ApiError::bad_request("rate.starts must be at least 1 (null removes the rate)"));
            }
            if per_ms == 0 || per_ms > MAX_SECONDS * 1_000 {
                return Err(ApiError::bad_request(format!(
                    "rate.per_ms must be 1 to {} (100 years), got {per_ms}",
                    MAX_SECONDS * 1_000
                )));
            }
            Some(Some(drover_core::Rate::new(starts, Duration::from_millis(per_ms))))
        }
        Some(None) => Some(None),
        None => None,
    };
    let admin = &state.store(&store)?.admin;
    // Only what changes is written: a form sends every field, and removing a limit the
    // storage does not have (a per-key limit on a backend without one) is no change.
    let before = admin.queue(&queue).await?;
    if let Some(max) = request.max_running.filter(|max| *max != before.max_running) {
        admin.set_max_running(&queue, max).await.map_err(unsupported_here)?;
    }
    if let Some(rate) = rate.filter(|rate| *rate != before.rate) {
        admin.set_rate(&queue, rate).await.map_err(unsupported_here)?;
    }
    if let Some(k) = request.max_per_key.filter(|k| *k != before.max_per_key) {
        admin.set_max_running_per_key(&queue, k).await.map_err(unsupported_here)?;
    }
    let summary = admin.queue(&queue).await?;
    let limits = LimitsView::from(&summary);
    state.publish(broadcaster.as_deref(), BoardEvent::new("limits", &store, &queue));
    Ok(done(format!("queue {queue}: {}", limits_text(&limits)), json!({ "queue": queue, "limits": limits })))
}

/// The registered schedules' state, in the order they were given.
pub(crate) async fn schedule_views(state: &ApiState) -> Result<Vec<serde_json::Value>, ApiError> {
    #[cfg(feature = "cron")]
    {
        let mut views = Vec::with_capacity(state.schedules.len());
        for schedule in state.schedules.iter() {
            let view = crate::schedules::ScheduleView::from(schedule.info().await?);
            views.push(
                serde_json::to_value(view)
                    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
            );
        }
        Ok(views)
    }
    #[cfg(not(feature = "cron"))]
    {
        let _ = state;
        Ok(Vec::new())
    }
}

pub(crate) async fn schedules(State(state): State<ApiState>) -> ApiResult {
    let views = schedule_views(&state).await?;
    Ok(json(StatusCode::OK, &json!({ "schedules": views, "cron": cfg!(feature = "cron") })))
}

/// Tasks done and dead per minute over the last `minutes` (1 to 60, default 15).
pub(crate) async fn throughput(
    State(state): State<ApiState>,
    Path((store, queue)): QueuePath,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let mut minutes = 15;
    for (key, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        if key == "minutes" {
            minutes = value
                .parse()
                .ok()
                .filter(|n| (1..=60).contains(n))
                .ok_or_else(|| ApiError::bad_request(format!("minutes must be 1 to 60, got {value:?}")))?;
        }
    }
    let seen = state.store(&store)?.admin.throughput(&queue, minutes).await.map_err(unsupported_here)?;
    Ok(json(StatusCode::OK, &seen))
}
