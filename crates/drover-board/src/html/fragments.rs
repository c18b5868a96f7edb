//! The fragments the UI's pages show: overview, queue, task, workers. Rendered on the server,
//! escaped here, inserted as they are by `board.js`.

use std::fmt::Write;

use chrono::Utc;
use drover_core::{BulkAction, Status, TaskInfo, TaskPage, Throughput};

use super::{seg, when, E};
use crate::auth::Role;
use crate::routes::{rate_text, TaskQuery};
use crate::view::{LimitsView, QueueView, WorkerView};

/// How much of an error a task list shows.
const ERROR_PREVIEW: usize = 140;

fn queue_href(store: &str, queue: &str) -> String {
    format!("/stores/{}/queues/{}", seg(store), seg(queue))
}

fn task_href(store: &str, queue: &str, id: &str) -> String {
    format!("{}/tasks/{}", queue_href(store, queue), seg(id))
}

/// A button that `board.js` turns into a `POST` to `path` under the API.
fn action(path: &str, label: &str, class: &str, confirm: Option<&str>) -> String {
    let confirm = confirm.map(|c| format!(" data-confirm=\"{}\"", E(c))).unwrap_or_default();
    format!(
        "<form class=\"action\" data-post=\"{}\"{confirm}><button type=\"submit\" class=\"{class}\">{}</button></form>",
        E(path),
        E(label)
    )
}

fn pause_action(store: &str, queue: &str, paused: bool) -> String {
    if paused {
        action(&format!("{}/resume", queue_href(store, queue)), "Resume", "resume", None)
    } else {
        action(
            &format!("{}/pause", queue_href(store, queue)),
            "Pause",
            "pause",
            Some("Pause this queue? No worker on any node claims from it until it is resumed."),
        )
    }
}

fn status_badge(status: &str) -> String {
    format!("<span class=\"badge status-{0}\">{0}</span>", E(status))
}

/// A badge coloured as `status`'s, reading `label`.
fn badge_as(status: &str, label: &str) -> String {
    format!("<span class=\"badge status-{}\">{}</span>", E(status), E(label))
}

/// Every queue of every store.
/// Tasks finished per minute as an inline SVG bar chart (done, with dead stacked on top), and
/// the totals; no script, no stylesheet beyond the board's classes.
fn sparkline(t: &Throughput) -> String {
    const BAR: usize = 6;
    const HEIGHT: u64 = 24;
    let max = t.done.iter().zip(&t.dead).map(|(a, b)| a + b).max().unwrap_or(0).max(1);
    let (done, dead): (u64, u64) = (t.done.iter().sum(), t.dead.iter().sum());
    let minutes = t.done.len();
    let width = minutes * BAR;
    let partial =
        if t.complete { "" } else { " (older minutes may be short: only the newest finished tasks are counted)" };
    let mut out = format!(
        "<svg class=\"spark\" width=\"{width}\" height=\"{HEIGHT}\" viewBox=\"0 0 {width} {HEIGHT}\" role=\"img\" \
         aria-label=\"{done} done, {dead} dead in the last {minutes} min\"><title>{done} done, {dead} dead in the last {minutes} min, \
         a bar a minute{partial}</title>"
    );
    for (i, (d, x)) in t.done.iter().zip(&t.dead).enumerate() {
        let h_done = d * HEIGHT / max;
        let h_dead = x * HEIGHT / max;
        let left = i * BAR;
        if *d > 0 {
            let _ = write!(
                out,
                "<rect class=\"done\" x=\"{left}\" y=\"{}\" width=\"{}\" height=\"{}\"></rect>",
                HEIGHT - h_done.max(1),
                BAR - 1,
                h_done.max(1)
            );
        }
        if *x > 0 {
            let _ = write!(
                out,
                "<rect class=\"dead\" x=\"{left}\" y=\"{}\" width=\"{}\" height=\"{}\"></rect>",
                HEIGHT - h_done - h_dead.max(1),
                BAR - 1,
                h_dead.max(1)
            );
        }
    }
    let _ = write!(out, "</svg> <span class=\"muted\" data-throughput=\"{done}\">{done}</span>");
    out
}

pub(crate) fn overview(
    stores: &[(String, &'static str)],
    queues: &[QueueView],
    rates: &[Option<Throughput>],
    role: Role,
) -> String {
    let now = Utc::now();
    let mut out = String::from("<h1>Queues</h1>");
    if stores.is_empty() {
        out.push_str("<p class=\"muted\">No store is registered: call <code>ApiBuilder::register</code>.</p>");
    }
    for (store, backend) in stores {
        let _ = write!(
            out,
            "<section class=\"store\" data-store=\"{0}\"><h2>{0} <small>{1}</small></h2>",
            E(store),
            E(backend)
        );
        let rows: Vec<(&QueueView, Option<&Throughput>)> = queues
            .iter()
            .zip(rates.iter().map(Option::as_ref).chain(std::iter::repeat(None)))
            .filter(|(q, _)| &q.store == store)
            .collect();
        if rows.is_empty() {
            out.push_str("<p class=\"muted\">No queue holds tasks yet.</p></section>");
            continue;
        }
        out.push_str(
            "<table class=\"queues\"><thead><tr><th>queue</th><th>pending</th><th>scheduled</th><th>running</th>\
             <th>done</th><th>dead</th><th>cancelled</th><th>head waited</th><th>done, last 15 min</th><th>state</th><th></th></tr></thead><tbody>",
        );
        for (q, rate) in rows {
            let href = queue_href(store, &q.queue);
            let count = |status: &str, n: u64| {
                let class = if status == "dead" && n > 0 { " class=\"alert\"" } else { "" };
                format!("<td data-count=\"{status}\"{class}><a href=\"{}?status={status}\">{n}</a></td>", E(&href))
            };
            let waited = q.oldest_due_at.map(|t| when(t, now)).unwrap_or_else(|| "—".to_owned());
            let mut state = if q.paused {
                "<span class=\"badge paused\">paused</span>".to_owned()
            } else {
                "<span class=\"badge\">active</span>".to_owned()
            };
            if let Some(n) = q.limits.max_running {
                let _ = write!(state, " <span class=\"badge limit\" title=\"at most {n} running across every worker\">≤ {n} running</span>");
            }
            if let Some(rate) = &q.limits.rate {
                let _ = write!(state, " <span class=\"badge limit\">{}</span>", E(&rate_text(rate)));
            }
            if let Some(k) = q.limits.max_per_key {
                let _ = write!(state, " <span class=\"badge limit\">≤ {k} per key</span>");
            }
            let actions = if role == Role::Operator { pause_action(store, &q.queue, q.paused) } else { String::new() };
            let spark = rate.map(sparkline).unwrap_or_else(|| "—".to_owned());
            let _ = write!(
                out,
                "<tr data-queue=\"{}\"><td><a href=\"{}\">{}</a></td>{}<td>{}</td>{}{}{}{}<td>{waited}</td><td>{spark}</td><td>{state}</td><td>{actions}</td></tr>",
                E(&q.queue),
                E(&href),
                E(&q.queue),
                count("pending", q.counts.pending),
                q.counts.scheduled,
                count("running", q.counts.running),
                count("done", q.counts.done),
                count("dead", q.counts.dead),
                count("cancelled", q.counts.cancelled),
            );
        }
        out.push_str("</tbody></table></section>");
    }
    out
}

/// The bulk actions that fit tasks of `status`, with their labels and confirmations.
fn bulk_actions(status: Status) -> &'static [(BulkAction, &'static str, &'static str)] {
    const RETRY: (BulkAction, &str, &str) = (BulkAction::Retry, "Retry all", "retry");
    const RUN_NOW: (BulkAction, &str, &str) = (BulkAction::RunNow, "Run all now", "retry");
    const CANCEL: (BulkAction, &str, &str) = (BulkAction::Cancel, "Cancel all", "danger");
    const DELETE: (BulkAction, &str, &str) = (BulkAction::Delete, "Delete all", "danger");
    match status {
        Status::Pending => &[RUN_NOW, CANCEL, DELETE],
        Status::Running => &[CANCEL],
        Status::Done => &[DELETE],
        Status::Dead | Status::Cancelled => &[RETRY, DELETE],
    }
}

/// The filter form: status, id, text in the error. A plain `GET` form: filters are part of the
/// page's address.
fn filter_form(href: &str, query: &TaskQuery) -> String {
    let mut options = String::from("<option value=\"all\">all</option>");
    for status in Status::ALL {
        let selected = if query.filter.status == Some(status) { " selected" } else { "" };
        let _ = write!(options, "<option{selected}>{status}</option>");
    }
    let id = query.filter.id.map(|id| id.to_string()).unwrap_or_default();
    let error = query.filter.error_contains.as_deref().unwrap_or("");
    format!(
        "<form class=\"filters\" method=\"get\" action=\"{0}\">\
         <label>Status <select name=\"status\">{options}</select></label>\
         <label>Id <input name=\"id\" value=\"{1}\" size=\"28\" placeholder=\"any\"></label>\
         <label>Error contains <input name=\"error\" value=\"{2}\" placeholder=\"any text\" maxlength=\"1000\"></label>\
         <button type=\"submit\">Filter</button> <a href=\"{0}\">Clear</a></form>",
        E(href),
        E(&id),
        E(error),
    )
}

/// For operators: every bulk action that fits the filter's status, on every task the filter
/// takes (not only this page).
fn bulk_toolbar(href: &str, query: &TaskQuery) -> String {
    let Some(status) = query.filter.status else {
        return "<p class=\"muted\">Choose a status to act on every task it holds.</p>".to_owned();
    };
    let id = query.filter.id.map(|id| id.to_string()).unwrap_or_default();
    let error = query.filter.error_contains.as_deref().unwrap_or("");
    let scope = if query.filter.id.is_some() || query.filter.error_contains.is_some() {
        format!("every {status} task matching the filter")
    } else {
        format!("every {status} task")
    };
    let mut out = format!("<div class=\"toolbar bulk\"><span>For {}:</span>", E(&scope));
    for (bulk, label, class) in bulk_actions(status) {
        let _ = write!(
            out,
            "<form class=\"action\" data-post=\"{}/bulk\" data-confirm=\"{}?\" data-bulk=\"{bulk}\">\
             <input type=\"hidden\" name=\"action\" value=\"{bulk}\"><input type=\"hidden\" name=\"status\" value=\"{status}\">\
             <input type=\"hidden\" name=\"id\" value=\"{}\"><input type=\"hidden\" name=\"error\" value=\"{}\">\
             <button type=\"submit\" class=\"{class}\">{label}</button></form>",
            E(href),
            E(&format!("{label}: {scope}")),
            E(&id),
            E(error),
        );
    }
    out.push_str("</div>");
    out
}

/// One queue: counts as tabs, its tasks by status and filters with stable paging, pause, purge,
/// limits and bulk actions.
pub(crate) fn queue_page(q: &QueueView, page: &TaskPage, query: &TaskQuery, role: Role) -> String {
    let now = Utc::now();
    let href = queue_href(&q.store, &q.queue);
    let mut out = format!(
        "<nav class=\"crumbs\"><a href=\"/\">Queues</a> / {} / </nav><h1>{}{}</h1>",
        E(&q.store),
        E(&q.queue),
        if q.paused { " <span class=\"badge paused\">paused</span>" } else { "" }
    );
    if role == Role::Operator {
        let _ = write!(
            out,
            "<div class=\"toolbar\">{}<form class=\"action purge\" data-post=\"{}/purge\" data-confirm=\"Delete these finished tasks for good?\">\
             <label>Purge <select name=\"status\"><option>done</option><option>dead</option><option>cancelled</option></select></label>\
             <label>older than <input type=\"number\" name=\"older_than_seconds\" value=\"86400\" min=\"0\" required> s</label>\
             <button type=\"submit\" class=\"danger\">Purge</button></form></div>",
            pause_action(&q.store, &q.queue, q.paused),
            E(&href)
        );
    }
    out.push_str(&limits_section(&href, q.paused, &q.limits, role));
    let tabs: [(&str, Option<Status>, Option<u64>); 6] = [
        ("all", None, None),
        ("pending", Some(Status::Pending), Some(q.counts.pending)),
        ("running", Some(Status::Running), Some(q.counts.running)),
        ("done", Some(Status::Done), Some(q.counts.done)),
        ("dead", Some(Status::Dead), Some(q.counts.dead)),
        ("cancelled", Some(Status::Cancelled), Some(q.counts.cancelled)),
    ];
    out.push_str("<nav class=\"tabs\">");
    for (label, status, count) in tabs {
        let current = if status == query.filter.status { " aria-current=\"page\"" } else { "" };
        // A tab keeps the other filters and starts at the newest task.
        let mut tab = query.clone();
        tab.filter.status = status;
        let link = match tab.query_string(None) {
            qs if qs.is_empty() => href.clone(),
            qs => format!("{href}?{qs}"),
        };
        let count =
            count.map(|n| format!(" <span class=\"count\" data-count=\"{label}\">{n}</span>")).unwrap_or_default();
        let _ = write!(out, "<a href=\"{}\"{current}>{label}{count}</a>", E(&link));
    }
    out.push_str("</nav>");
    out.push_str(&filter_form(&href, query));
    if role == Role::Operator {
        out.push_str(&bulk_toolbar(&href, query));
    }
    if page.tasks.is_empty() {
        out.push_str("<p class=\"muted\">No tasks here.</p>");
    } else {
        out.push_str(
            "<table class=\"tasks\"><thead><tr><th>task</th><th>status</th><th>attempt</th><th>priority</th>\
             <th>runs</th><th>updated</th><th>last error</th></tr></thead><tbody>",
        );
        for t in &page.tasks {
            let id = t.id.to_string();
            let error = t.last_error.as_deref().unwrap_or("");
            let preview: String = error.chars().take(ERROR_PREVIEW).collect();
            let ellipsis = if error.chars().count() > ERROR_PREVIEW { "…" } else { "" };
            let _ = write!(
                out,
                "<tr data-task=\"{id}\"><td><a href=\"{}\"><code>{id}</code></a></td><td>{}</td><td>{} / {}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td class=\"error-text\">{}{ellipsis}</td></tr>",
                E(&task_href(&q.store, &q.queue, &id)),
                status_badge(t.status.as_str()),
                t.attempt,
                t.max_attempts,
                t.priority,
                when(t.run_at, now),
                when(t.updated_at, now),
                E(&preview),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<nav class=\"pager\">");
    if query.before.is_some() {
        let first = match query.query_string(None) {
            qs if qs.is_empty() => href.clone(),
            qs => format!("{href}?{qs}"),
        };
        let _ = write!(out, "<a href=\"{}\">← newest</a>", E(&first));
    }
    let shown = page.tasks.len();
    let _ = write!(out, "<span class=\"muted\">{shown} task{}</span>", if shown == 1 { "" } else { "s" });
    if let Some(next) = page.next {
        let _ = write!(out, "<a href=\"{}?{}\">older →</a>", E(&href), E(&query.query_string(Some(next))));
    }
    out.push_str("</nav>");
    out
}

/// The periods the limits form offers, in milliseconds.
const PERIODS: [(u128, &str); 3] = [(1_000, "second"), (60_000, "minute"), (3_600_000, "hour")];

/// A queue's limits across every worker (paused, cap, rate), and for operators a form that
/// changes them (an empty field removes the limit).
fn limits_section(href: &str, paused: bool, limits: &LimitsView, role: Role) -> String {
    let cap = limits.max_running.map(|n| n.to_string()).unwrap_or_else(|| "no cap".to_owned());
    let rate = limits.rate.as_ref().map(rate_text).unwrap_or_else(|| "no limit".to_owned());
    let per_key = limits.max_per_key.map(|k| k.to_string()).unwrap_or_else(|| "no limit".to_owned());
    let mut out = format!(
        "<section class=\"limits\"><h2>Limits <small>across every worker and node</small></h2>\
         <dl class=\"fields\"><dt>claims</dt><dd data-limit=\"paused\">{}</dd>\
         <dt>max running</dt><dd data-limit=\"max-running\">{}</dd><dt>rate of starts</dt><dd data-limit=\"rate\">{}</dd>\
         <dt>max running per key</dt><dd data-limit=\"max-per-key\">{}</dd></dl>",
        if paused { "paused" } else { "active" },
        E(&cap),
        E(&rate),
        E(&per_key),
    );
    if role == Role::Operator {
        let max = limits.max_running.map(|n| n.to_string()).unwrap_or_default();
        let starts = limits.rate.map(|r| r.starts.to_string()).unwrap_or_default();
        let per_ms = limits.rate.map_or(1_000, |r| r.per.as_millis());
        let per_key_value = limits.max_per_key.map(|k| k.to_string()).unwrap_or_default();
        let mut options = String::new();
        if !PERIODS.iter().any(|(ms, _)| *ms == per_ms) {
            let _ = write!(options, "<option value=\"{per_ms}\" selected>{per_ms} ms</option>");
        }
        for (ms, name) in PERIODS {
            let selected = if ms == per_ms { " selected" } else { "" };
            let _ = write!(options, "<option value=\"{ms}\"{selected}>{name}</option>");
        }
        let _ = write!(
            out,
            "<form class=\"action limits\" data-post=\"{}/limits\">\
             <label>Max running <input type=\"number\" name=\"max_running\" min=\"1\" max=\"4294967295\" value=\"{max}\" placeholder=\"no cap\"></label>\
             <label>Rate <input type=\"number\" name=\"rate.starts\" min=\"1\" max=\"4294967295\" value=\"{starts}\" placeholder=\"no limit\"></label>\
             <label>per <select name=\"rate.per_ms\" data-number>{options}</select></label>\
             <label title=\"tasks pushed with a concurrency key: at most this many of one key at once, in push order\">Max per key \
             <input type=\"number\" name=\"max_per_key\" min=\"1\" max=\"4294967295\" value=\"{per_key_value}\" placeholder=\"no limit\"></label>\
             <button type=\"submit\">Save limits</button> <span class=\"muted\">An empty field removes the limit.</span></form>",
            E(href)
        );
    }
    out.push_str("</section>");
    out
}

/// The payload as people read it: pretty JSON, else the text, else a note.
fn payload_text(payload: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
        Err(_) => match std::str::from_utf8(payload) {
            Ok(text) => text.to_owned(),
            Err(_) => format!("({} bytes, not text; the API's payload_base64 has them)", payload.len()),
        },
    }
}

/// One task: its fields, last error, payload and actions.
pub(crate) fn task_page(store: &str, t: &TaskInfo, role: Role) -> String {
    let now = Utc::now();
    let id = t.id.to_string();
    let href = task_href(store, &t.queue, &id);
    let mut out = format!(
        "<nav class=\"crumbs\"><a href=\"/\">Queues</a> / {} / <a href=\"{}\">{}</a> /</nav>\
         <h1>Task <code>{id}</code> {}</h1>",
        E(store),
        E(&queue_href(store, &t.queue)),
        E(&t.queue),
        status_badge(t.status.as_str())
    );
    if role == Role::Operator {
        out.push_str("<div class=\"toolbar\">");
        if matches!(t.status, Status::Dead | Status::Cancelled) {
            out.push_str(&action(&format!("{href}/retry"), "Retry", "retry", None));
        }
        if t.status == Status::Pending {
            out.push_str(&action(&format!("{href}/run-now"), "Run now", "retry", None));
        }
        if !t.status.is_final() {
            out.push_str(&action(&format!("{href}/cancel"), "Cancel", "danger", Some("Cancel this task?")));
        }
        if t.status != Status::Running {
            let delete = action(&format!("{href}/delete"), "Delete", "danger", Some("Delete this task for good?"));
            // Once deleted, the page has nothing to show: go back to the queue.
            let then = format!(" data-then=\"{}\"", E(&queue_href(store, &t.queue)));
            out.push_str(&delete.replacen("<form ", &format!("<form{then} "), 1));
        }
        out.push_str("</div>");
    }
    let optional = |t: Option<chrono::DateTime<Utc>>| t.map(|t| when(t, now)).unwrap_or_else(|| "—".to_owned());
    let _ = write!(
        out,
        "<dl class=\"fields\"><dt>queue</dt><dd>{}</dd><dt>status</dt><dd data-field=\"status\">{}</dd>\
         <dt>attempts</dt><dd data-field=\"attempts\">{} of {}</dd><dt>priority</dt><dd>{}</dd><dt>unique key</dt><dd>{}</dd>\
         <dt>runs at</dt><dd>{}</dd><dt>created</dt><dd>{}</dd><dt>updated</dt><dd>{}</dd><dt>lease expires</dt><dd>{}</dd></dl>",
        E(&t.queue),
        E(t.status.as_str()),
        t.attempt,
        t.max_attempts,
        t.priority,
        E(t.unique_key.as_deref().unwrap_or("—")),
        when(t.run_at, now),
        when(t.created_at, now),
        when(t.updated_at, now),
        optional(t.lease_expires_at),
    );
    if let Some(error) = &t.last_error {
        let _ =
            write!(out, "<h2>Last error</h2><pre class=\"error-text\" data-field=\"last-error\">{}</pre>", E(error));
    }
    out.push_str(&attempts_table(t, now));
    let _ = write!(
        out,
        "<h2>Payload</h2><pre class=\"payload\" data-field=\"payload\">{}</pre>",
        E(&payload_text(&t.payload))
    );
    out
}

/// A duration as the board shows it (`850 ms`, `12.3 s`, `4 min 5 s`).
fn took(ms: i64) -> String {
    match ms {
        ..=999 => format!("{} ms", ms.max(0)),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1_000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1_000),
    }
}

/// The task's attempts: each failed one from its history, then the current or last attempt
/// when it did not fail (running, succeeded, cancelled), oldest first.
fn attempts_table(t: &TaskInfo, now: chrono::DateTime<Utc>) -> String {
    let mut rows = String::new();
    let cell = |at: Option<chrono::DateTime<Utc>>| at.map(|at| when(at, now)).unwrap_or_else(|| "—".to_owned());
    let span = |start: Option<chrono::DateTime<Utc>>, end: chrono::DateTime<Utc>| {
        start.map(|s| took((end - s).num_milliseconds())).unwrap_or_else(|| "—".to_owned())
    };
    for a in &t.attempts {
        let outcome = if a.error == drover_core::LEASE_EXPIRED || a.error == drover_core::LEASE_EXPIRED_ON_LAST_ATTEMPT
        {
            "lease expired"
        } else {
            "failed"
        };
        let _ = write!(
            rows,
            "<tr data-attempt=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><pre class=\"error-text\">{}</pre></td></tr>",
            a.attempt,
            a.attempt,
            badge_as(if outcome == "failed" { "dead" } else { "cancelled" }, outcome),
            cell(a.started_at),
            when(a.finished_at, now),
            span(a.started_at, a.finished_at),
            E(&a.error)
        );
    }
    let recorded = t.attempts.last().is_some_and(|a| a.attempt == t.attempt);
    let current = match t.status {
        _ if t.attempt == 0 || recorded => None,
        Status::Running => Some(("running", None)),
        Status::Done => Some(("succeeded", Some(t.updated_at))),
        Status::Cancelled => Some(("cancelled", Some(t.updated_at))),
        Status::Pending | Status::Dead => None,
    };
    if let Some((outcome, end)) = current {
        let badge = match outcome {
            "succeeded" => badge_as("done", "succeeded"),
            other => status_badge(other),
        };
        let _ = write!(
            rows,
            "<tr data-attempt=\"{}\"><td>{}</td><td>{badge}</td><td>{}</td><td>{}</td><td>{}</td><td></td></tr>",
            t.attempt,
            t.attempt,
            cell(t.started_at),
            cell(end),
            end.map(|end| span(t.started_at, end)).unwrap_or_else(|| "—".to_owned()),
        );
    }
    if rows.is_empty() {
        return if t.last_error.is_some() {
            "<h2>Attempts</h2><p class=\"muted\">No attempt history recorded: this storage keeps only the last \
             error.</p>"
                .to_owned()
        } else {
            String::new()
        };
    }
    let mut out = String::from(
        "<h2>Attempts</h2><table class=\"tasks attempts\" data-field=\"attempts-table\"><thead><tr><th>attempt</th>\
         <th>outcome</th><th>started</th><th>ended</th><th>took</th><th>error</th></tr></thead><tbody>",
    );
    out.push_str(&rows);
    out.push_str("</tbody></table>");
    if t.attempts.first().is_some_and(|a| a.attempt > 1) && t.attempts.len() >= drover_core::ATTEMPT_HISTORY_LIMIT {
        let _ = write!(
            out,
            "<p class=\"muted\">Earlier attempts are not kept: the history holds the last {} failed ones.</p>",
            drover_core::ATTEMPT_HISTORY_LIMIT
        );
    }
    out
}

/// Workers of one store, or why the store does not know them.
pub(crate) struct WorkersOfStore {
    pub(crate) store: String,
    pub(crate) workers: Result<Vec<WorkerView>, String>,
}

pub(crate) fn workers_page(stores: &[WorkersOfStore]) -> String {
    let now = Utc::now();
    let mut out = String::from("<h1>Workers</h1>");
    for store in stores {
        let _ = write!(out, "<section class=\"store\"><h2>{}</h2>", E(&store.store));
        match &store.workers {
            Err(reason) => {
                let _ = write!(out, "<p class=\"muted\">{}</p>", E(reason));
            }
            Ok(workers) if workers.is_empty() => out.push_str(
                "<p class=\"muted\">No worker running: workers register themselves when they start, heartbeat \
                 every 5 s and are gone 30 s after their last heartbeat.</p>",
            ),
            Ok(workers) => {
                out.push_str(
                    "<table class=\"workers\"><thead><tr><th>worker</th><th>host</th><th>pid</th><th>queues</th>\
                     <th>running</th><th>started</th><th>last seen</th></tr></thead><tbody>",
                );
                for w in workers {
                    let dash = || "—".to_owned();
                    let running = match (w.running, w.concurrency) {
                        (Some(n), Some(of)) => format!("{n} of {of}"),
                        (Some(n), None) => n.to_string(),
                        _ => dash(),
                    };
                    let queues = if w.queues.is_empty() { w.queue.clone() } else { w.queues.join(", ") };
                    let _ = write!(
                        out,
                        "<tr data-worker=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{running}</td><td>{}</td>\
                         <td>{}</td></tr>",
                        E(w.id.as_deref().unwrap_or(&w.name)),
                        E(&w.name),
                        E(w.host.as_deref().unwrap_or("—")),
                        w.pid.map_or_else(dash, |p| p.to_string()),
                        E(&queues),
                        w.started_at.map_or_else(dash, |t| when(t, now)),
                        when(w.last_seen.unwrap_or(w.last_claim), now)
                    );
                }
                out.push_str("</tbody></table>");
            }
        }
        out.push_str("</section>");
    }
    out
}

/// The recurring jobs given to the board: expression, next tick, last tick and its task.
pub(crate) fn schedules_page(schedules: &[serde_json::Value], cron: bool) -> String {
    let now = Utc::now();
    let mut out = String::from("<h1>Schedules</h1>");
    if !cron {
        out.push_str("<p class=\"muted\">This board was built without its <code>cron</code> feature.</p>");
        return out;
    }
    if schedules.is_empty() {
        out.push_str(
            "<p class=\"muted\">No schedule is registered: pass each <code>drover_cron</code> pipe to \
             <code>ApiBuilder::schedule</code> (or <code>Board::schedule</code>).</p>",
        );
        return out;
    }
    out.push_str(
        "<table class=\"schedules\"><thead><tr><th>schedule</th><th>queue</th><th>when</th><th>next tick</th>\
         <th>last tick</th><th>last task</th></tr></thead><tbody>",
    );
    let time = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| when(t.with_timezone(&Utc), now))
            .unwrap_or_else(|| "—".to_owned())
    };
    for s in schedules {
        let text = |key: &str| s[key].as_str().unwrap_or("").to_owned();
        let task = match s["last_task"].as_str() {
            Some(id) => format!("<a href=\"/tasks?id={}\"><code>{}</code></a>", E(&seg(id)), E(id)),
            None => "—".to_owned(),
        };
        let _ = write!(
            out,
            "<tr data-schedule=\"{0}\"><td>{0}</td><td>{1}</td><td><code>{2}</code></td><td data-field=\"next-tick\">{3}</td>\
             <td data-field=\"last-tick\">{4}</td><td>{task}</td></tr>",
            E(&text("name")),
            E(&text("queue")),
            E(&text("schedule")),
            time(&s["next_tick"]),
            time(&s["last_tick"]),
        );
    }
    out.push_str("</tbody></table>");
    out
}
