//! What the commands print: aligned tables for people, JSON for scripts.

use chrono::{DateTime, SecondsFormat, Utc};
use drover_core::{QueueSummary, TaskId, TaskInfo, WorkerSummary};
use serde::Serialize;

/// A task as printed: the payload as JSON when it is JSON, as text otherwise.
#[derive(Debug, Serialize)]
pub struct TaskView {
    id: TaskId,
    queue: String,
    status: String,
    attempt: u32,
    max_attempts: u32,
    run_at: DateTime<Utc>,
    priority: i32,
    unique_key: Option<String>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    lease_expires_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    attempts: Vec<drover_core::AttemptRecord>,
    payload: serde_json::Value,
}

impl TaskView {
    pub fn of(task: &TaskInfo) -> Self {
        let payload = serde_json::from_slice(&task.payload)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&task.payload).into_owned()));
        Self {
            id: task.id,
            queue: task.queue.clone(),
            status: task.status.to_string(),
            attempt: task.attempt,
            max_attempts: task.max_attempts,
            run_at: task.run_at,
            priority: task.priority,
            unique_key: task.unique_key.clone(),
            last_error: task.last_error.clone(),
            created_at: task.created_at,
            updated_at: task.updated_at,
            lease_expires_at: task.lease_expires_at,
            started_at: task.started_at,
            attempts: task.attempts.clone(),
            payload,
        }
    }
}

/// Where results go.
pub struct Output {
    json: bool,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Print rows under a header, each column as wide as its widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// At most `n` characters of `text`, on one line.
fn short(text: &str, n: usize) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n.saturating_sub(1)).collect::<String>())
    }
}

fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("drover: cannot encode the result as JSON: {e}"),
    }
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn message(&self, text: &str) {
        if self.json {
            print_json(&serde_json::json!({ "ok": true, "message": text }));
        } else {
            println!("{text}");
        }
    }

    pub fn count(&self, key: &str, n: u64, text: &str) {
        if self.json {
            print_json(&serde_json::json!({ key: n }));
        } else {
            println!("{text}");
        }
    }

    pub fn pushed(&self, id: TaskId, queue: &str) {
        if self.json {
            print_json(&serde_json::json!({ "id": id, "queue": queue }));
        } else {
            println!("{id}");
        }
    }

    pub fn queues(&self, queues: &[QueueSummary]) {
        if self.json {
            return print_json(queues);
        }
        let now = Utc::now();
        let rows: Vec<Vec<String>> = queues
            .iter()
            .map(|q| {
                let s = &q.stats;
                let oldest = s
                    .oldest_due_at
                    .map_or_else(|| "-".to_owned(), |at| format!("{}s", (now - at).num_seconds().max(0)));
                let mut row = vec![q.queue.clone()];
                row.extend(s.counts().iter().map(|(_, n)| n.to_string()));
                row.push(oldest);
                row.push(if q.paused { "yes" } else { "no" }.to_owned());
                row.push(q.max_running.map_or_else(|| "-".to_owned(), |n| n.to_string()));
                row.push(q.rate.map_or_else(|| "-".to_owned(), |r| format!("{}/{:?}", r.starts, r.per)));
                row.push(q.max_per_key.map_or_else(|| "-".to_owned(), |n| n.to_string()));
                row
            })
            .collect();
        let mut header = vec!["QUEUE"];
        header.extend([
            "PENDING",
            "SCHEDULED",
            "RUNNING",
            "DONE",
            "DEAD",
            "CANCELLED",
            "OLDEST DUE",
            "PAUSED",
            "MAX RUNNING",
            "RATE",
            "PER KEY",
        ]);
        table(&header, &rows);
    }

    pub fn tasks(&self, tasks: &[TaskView]) {
        if self.json {
            return print_json(tasks);
        }
        let rows: Vec<Vec<String>> = tasks
            .iter()
            .map(|t| {
                vec![
                    t.id.to_string(),
                    t.status.clone(),
                    format!("{}/{}", t.attempt, t.max_attempts),
                    time(t.run_at),
                    short(t.last_error.as_deref().unwrap_or(""), 60),
                ]
            })
            .collect();
        table(&["ID", "STATUS", "ATTEMPT", "RUN AT", "LAST ERROR"], &rows);
    }

    pub fn task(&self, task: &TaskView) {
        if self.json {
            return print_json(task);
        }
        let optional = |t: Option<DateTime<Utc>>| t.map_or_else(|| "-".to_owned(), time);
        println!("id:           {}", task.id);
        println!("queue:        {}", task.queue);
        println!("status:       {}", task.status);
        println!("attempt:      {} of {}", task.attempt, task.max_attempts);
        println!("run at:       {}", time(task.run_at));
        println!("priority:     {}", task.priority);
        println!("unique key:   {}", task.unique_key.as_deref().unwrap_or("-"));
        println!("created:      {}", time(task.created_at));
        println!("updated:      {}", time(task.updated_at));
        println!("lease until:  {}", optional(task.lease_expires_at));
        println!("started:      {}", optional(task.started_at));
        println!("last error:   {}", task.last_error.as_deref().unwrap_or("-"));
        for a in &task.attempts {
            let took = a
                .started_at
                .map_or_else(String::new, |s| format!(" after {} ms", (a.finished_at - s).num_milliseconds().max(0)));
            println!("attempt {:>3}:  {}{took}: {}", a.attempt, time(a.finished_at), a.error);
        }
        println!("payload:      {}", task.payload);
    }

    pub fn workers(&self, workers: &[WorkerSummary]) {
        if self.json {
            return print_json(workers);
        }
        let dash = || "-".to_owned();
        let rows: Vec<Vec<String>> = workers
            .iter()
            .map(|w| {
                let running = match (w.running, w.concurrency) {
                    (Some(n), Some(of)) => format!("{n}/{of}"),
                    (Some(n), None) => n.to_string(),
                    _ => dash(),
                };
                vec![
                    w.name.clone(),
                    w.host.clone().unwrap_or_else(dash),
                    w.pid.map_or_else(dash, |p| p.to_string()),
                    w.queues.join(","),
                    running,
                    w.started_at.map_or_else(dash, time),
                    time(w.last_seen.unwrap_or(w.last_claim)),
                ]
            })
            .collect();
        // Registered workers are last seen at their heartbeat; others at their last claim.
        table(&["WORKER", "HOST", "PID", "QUEUES", "RUNNING", "STARTED", "LAST SEEN"], &rows);
    }
}
