//! The UI's page fragments, served under the API (`GET /ui/...`) because that is where the
//! registered stores are; `ServeUI`'s pages load them.

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::api::ApiState;
use crate::auth::Role;
use crate::error::ApiError;
use crate::html::{self, WorkersOfStore};
use crate::routes::{all_queues, find_task, load_task, queue_view, schedule_views, task_query, unsupported_here};
use crate::view::WorkerView;

fn fragment(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn role(role: Option<Extension<Role>>) -> Role {
    role.map(|r| r.0).unwrap_or(Role::ReadOnly)
}

fn render(result: Result<String, ApiError>) -> Response {
    match result {
        Ok(body) => fragment(body),
        Err(error) => error.into_html(),
    }
}

pub(crate) async fn overview(State(state): State<ApiState>, r: Option<Extension<Role>>) -> Response {
    let stores: Vec<(String, &'static str)> =
        state.stores.iter().map(|s| (s.name.clone(), s.admin.backend())).collect();
    render(
        async {
            let queues = all_queues(&state).await?;
            let mut rates = Vec::with_capacity(queues.len());
            for q in &queues {
                // A storage that cannot count finished tasks shows no chart, not an error.
                rates.push(state.store(&q.store)?.admin.throughput(&q.queue, OVERVIEW_MINUTES).await.ok());
            }
            Ok(html::overview(&stores, &queues, &rates, role(r)))
        }
        .await,
    )
}

/// The minutes of throughput the overview draws.
pub(crate) const OVERVIEW_MINUTES: u32 = 15;

pub(crate) async fn queue(
    State(state): State<ApiState>,
    Path((store, queue)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    r: Option<Extension<Role>>,
) -> Response {
    render(
        async {
            let query = task_query(raw.as_deref())?;
            let view = queue_view(&state, &store, &queue).await?;
            let admin = &state.store(&store)?.admin;
            let page =
                admin.search(&queue, &query.filter, query.before, query.limit).await.map_err(unsupported_here)?;
            Ok(html::queue_page(&view, &page, &query, role(r)))
        }
        .await,
    )
}

pub(crate) async fn task(
    State(state): State<ApiState>,
    Path((store, queue, id)): Path<(String, String, String)>,
    r: Option<Extension<Role>>,
) -> Response {
    render(load_task(&state, &store, &queue, &id).await.map(|task| html::task_page(&store, &task, role(r))))
}

pub(crate) async fn find(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    r: Option<Extension<Role>>,
) -> Response {
    render(find_task(&state, id.trim()).await.map(|(store, task)| html::task_page(&store, &task, role(r))))
}

pub(crate) async fn workers(State(state): State<ApiState>) -> Response {
    let mut stores = Vec::new();
    for store in state.stores.iter() {
        let workers = match store.admin.workers(None).await {
            Ok(workers) => Ok(workers.iter().map(WorkerView::from).collect()),
            Err(error) => Err(error.to_string()),
        };
        stores.push(WorkersOfStore { store: store.name.clone(), workers });
    }
    fragment(html::workers_page(&stores))
}

pub(crate) async fn schedules(State(state): State<ApiState>) -> Response {
    render(schedule_views(&state).await.map(|views| html::schedules_page(&views, cfg!(feature = "cron"))))
}
