//! One operator's session through the API and the pages, on memory, on SQLite in a temporary
//! file and on PostgreSQL (postgres://postgres@127.0.0.1:5432/test, or DATABASE_URL): counts,
//! a dead task's page with markup in its payload and error shown as text, retry, cancel,
//! pause (and no claim while paused), resume, push, limits (a cap of 1 holds in the claim),
//! filters by error text, run now and bulk delete, find, purge, registered workers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use drover_core::{AdminBackend, Backend, ClaimRequest, Enqueue, NewTask, PushOptions, WorkerRegistry};

fn retry_now(error: &str) -> drover_core::Outcome {
    drover_core::Outcome::Retry { delay: Duration::ZERO, error: error.to_owned() }
}

/// The storage's next due task, waiting up to two seconds for it.
async fn claim_soon<B: Backend>(storage: &B) -> drover_core::ClaimedTask {
    for _ in 0..100 {
        let claimed = storage.claim(ClaimRequest::new("board-test", 1, Duration::from_secs(30))).await.expect("claim");
        if let Some(task) = claimed.into_iter().next() {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no task became due")
}

async fn scenario<A: AdminBackend + Clone>(admin: A, queue: &str) {
    let app = board(admin.clone());
    let store = admin.name();
    let base = format!("/api/v1/stores/{store}/queues/{queue}");
    let storage = admin.storage(queue);

    let payload = r#"{"to":"<script>alert(1)</script>@example.com"}"#;
    let task = NewTask::new(payload.as_bytes().to_vec(), PushOptions::new().max_attempts(1));
    storage.enqueue(vec![task]).await.expect("enqueue");
    let dead = kill(&storage, "SMTP said <b>550</b> & gave up").await;

    let queues = get(&app, "/api/v1/queues", Who::Reader).await;
    assert_eq!(queues.status, 200, "{}", queues.body);
    let queues = queues.json();
    let ours = queues["queues"].as_array().and_then(|qs| qs.iter().find(|q| q["queue"] == queue)).cloned();
    let ours = ours.unwrap_or_else(|| panic!("{queue} missing from {queues}"));
    assert_eq!(ours["counts"]["dead"], 1, "{ours}");
    assert_eq!(ours["store"], store);
    assert_eq!(ours["paused"], false);

    let page = get(&app, &format!("{base}/tasks?status=dead"), Who::Reader).await.json();
    assert_eq!(page["tasks"][0]["id"], dead.to_string(), "{page}");
    assert_eq!(page["tasks"][0]["last_error"], "SMTP said <b>550</b> & gave up");
    assert_eq!(page["next_before"], serde_json::Value::Null);
    let by_error = get(&app, &format!("{base}/tasks?error=said%20%3Cb%3E550"), Who::Reader).await.json();
    assert_eq!(by_error["tasks"][0]["id"], dead.to_string(), "{by_error}");
    let other_error = get(&app, &format!("{base}/tasks?error=timeout"), Who::Reader).await.json();
    assert_eq!(other_error["tasks"], serde_json::json!([]), "{other_error}");

    let one = get(&app, &format!("{base}/tasks/{dead}"), Who::Reader).await.json();
    assert_eq!(one["payload"]["to"], "<script>alert(1)</script>@example.com", "{one}");
    assert_eq!(one["status"], "dead");
    assert_eq!(one["attempt"], 1);
    assert_eq!(one["attempts"][0]["attempt"], 1, "{one}");
    assert_eq!(one["attempts"][0]["error"], "SMTP said <b>550</b> & gave up", "{one}");

    // A task that fails twice, then succeeds: both failures in its history, in order, in the
    // API and on its page (escaped), with the successful third attempt after them.
    let flaky = NewTask::new(b"{}".to_vec(), PushOptions::new().max_attempts(5));
    let flaky_id = flaky.id;
    storage.enqueue(vec![flaky]).await.expect("enqueue");
    for outcome in [retry_now("timeout <i>1</i>"), retry_now("timeout <i>2</i>"), drover_core::Outcome::Done] {
        let claimed = claim_soon(&storage).await;
        assert_eq!(claimed.id, flaky_id);
        storage.complete(vec![drover_core::Completion { lease: claimed.lease(), outcome }]).await.expect("complete");
    }
    let flaky = get(&app, &format!("{base}/tasks/{flaky_id}"), Who::Reader).await.json();
    let errors: Vec<&str> =
        flaky["attempts"].as_array().expect("attempts").iter().filter_map(|a| a["error"].as_str()).collect();
    assert_eq!(errors, ["timeout <i>1</i>", "timeout <i>2</i>"], "{flaky}");
    assert!(flaky["attempts"][1]["duration_ms"].is_i64() && flaky["started_at"].is_string(), "{flaky}");
    let page = get(&app, &format!("/api/v1/ui/stores/{store}/queues/{queue}/tasks/{flaky_id}"), Who::Reader).await;
    let body =
        page.body.split("data-field=\"attempts-table\"").nth(1).unwrap_or_else(|| panic!("no attempts: {}", page.body));
    let first = body.find("timeout &lt;i&gt;1&lt;/i&gt;").unwrap_or_else(|| panic!("first failure: {body}"));
    let second = body.find("timeout &lt;i&gt;2&lt;/i&gt;").unwrap_or_else(|| panic!("second failure: {body}"));
    let success = body.find(">succeeded<").unwrap_or_else(|| panic!("the successful attempt: {body}"));
    assert!(first < second && second < success, "attempts in order: {body}");
    assert!(body.contains("data-attempt=\"3\"") && !body.contains("<i>1"), "{body}");

    // The task's page and the queue's page show the markup as text.
    let fragment = get(&app, &format!("/api/v1/ui/stores/{store}/queues/{queue}/tasks/{dead}"), Who::Operator).await;
    assert_eq!(fragment.status, 200);
    assert!(fragment.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;@example.com"), "{}", fragment.body);
    assert!(fragment.body.contains("SMTP said &lt;b&gt;550&lt;/b&gt; &amp; gave up"), "{}", fragment.body);
    assert!(!fragment.body.contains("<script>") && !fragment.body.contains("<b>550"), "{}", fragment.body);
    assert!(fragment.body.contains(&format!("data-post=\"/stores/{store}/queues/{queue}/tasks/{dead}/retry\"")));
    let as_reader = get(&app, &format!("/api/v1/ui/stores/{store}/queues/{queue}/tasks/{dead}"), Who::Reader).await;
    assert!(!as_reader.body.contains("data-post"), "a reader sees no actions: {}", as_reader.body);
    let list = get(&app, &format!("/api/v1/ui/stores/{store}/queues/{queue}?status=dead"), Who::Reader).await;
    assert!(list.body.contains("SMTP said &lt;b&gt;550&lt;/b&gt;"), "{}", list.body);
    assert!(list.body.contains(&dead.to_string()));

    // Retry the dead task, once.
    let retried = post(&app, &format!("{base}/tasks/{dead}/retry"), Who::Operator, None).await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert_eq!(get(&app, &format!("{base}/tasks/{dead}"), Who::Reader).await.json()["status"], "pending");
    let again = post(&app, &format!("{base}/tasks/{dead}/retry"), Who::Operator, None).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.json()["error"].as_str().unwrap_or("").contains("only dead or cancelled"), "{}", again.body);

    // Cancel it, once.
    let cancelled = post(&app, &format!("{base}/tasks/{dead}/cancel"), Who::Operator, None).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(get(&app, &format!("{base}/tasks/{dead}"), Who::Reader).await.json()["status"], "cancelled");
    assert_eq!(post(&app, &format!("{base}/tasks/{dead}/cancel"), Who::Operator, None).await.status, 409);

    // Pause: the queue says so and nothing is claimed; resume.
    let paused = post(&app, &format!("{base}/pause"), Who::Operator, None).await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(get(&app, &base, Who::Reader).await.json()["paused"], true);
    let pushed =
        post(&app, &format!("{base}/tasks"), Who::Operator, Some(r#"{"payload": {"n": 1}, "max_attempts": 3}"#)).await;
    assert_eq!(pushed.status, 201, "{}", pushed.body);
    let pushed_id = pushed.json()["id"].as_str().unwrap_or_default().to_owned();
    let claimed = storage.claim(ClaimRequest::new("test-worker", 10, Duration::from_secs(30))).await.expect("claim");
    assert!(claimed.is_empty(), "a paused queue handed out {claimed:?}");
    assert_eq!(post(&app, &format!("{base}/resume"), Who::Operator, None).await.status, 200);
    assert_eq!(get(&app, &base, Who::Reader).await.json()["paused"], false);

    // Limits set through the board hold in the storage's claim: a cap of 1 hands out one task.
    let limited = post(&app, &format!("{base}/limits"), Who::Operator, Some(r#"{"max_running": 1}"#)).await;
    assert_eq!(limited.status, 200, "{}", limited.body);
    let second = r#"{"payload": {"n": 2}}"#;
    assert_eq!(post(&app, &format!("{base}/tasks"), Who::Operator, Some(second)).await.status, 201);
    let claimed = storage.claim(ClaimRequest::new("test-worker", 10, Duration::from_secs(30))).await.expect("claim");
    assert_eq!(claimed.len(), 1, "a cap of 1 handed out {claimed:?}");
    let rate = r#"{"max_running": null, "rate": {"starts": 50, "per_ms": 60000}}"#;
    let rated = post(&app, &format!("{base}/limits"), Who::Operator, Some(rate)).await.json();
    assert_eq!(rated["limits"]["max_running"], serde_json::Value::Null, "{rated}");
    assert_eq!(rated["limits"]["rate"], serde_json::json!({ "starts": 50, "per_ms": 60000 }), "{rated}");
    let page = get(&app, &format!("/api/v1/ui/stores/{store}/queues/{queue}"), Who::Reader).await.body;
    assert!(page.contains("data-limit=\"rate\">50 per minute</dd>"), "{page}");
    let cleared = post(&app, &format!("{base}/limits"), Who::Operator, Some(r#"{"rate": null}"#)).await.json();
    assert_eq!(
        (&cleared["limits"]["max_running"], &cleared["limits"]["rate"]),
        (&serde_json::Value::Null, &serde_json::Value::Null)
    );
    for task in claimed {
        storage
            .complete(vec![drover_core::Completion { lease: task.lease(), outcome: drover_core::Outcome::Done }])
            .await
            .expect("complete");
    }

    // Bulk: the second task, pushed through the board and done, deleted by status and id.
    let second_id = storage
        .enqueue(vec![NewTask::new(b"{}".to_vec(), PushOptions::new().delay(Duration::from_secs(3600)))])
        .await
        .expect("enqueue")[0];
    let ran = post(&app, &format!("{base}/tasks/{second_id}/run-now"), Who::Operator, None).await;
    assert_eq!(ran.status, 200, "{}", ran.body);
    let body = format!(r#"{{"action": "delete", "status": "pending", "id": "{second_id}"}}"#);
    let deleted = post(&app, &format!("{base}/bulk"), Who::Operator, Some(&body)).await;
    assert_eq!(deleted.json()["changed"], 1, "{}", deleted.body);
    assert_eq!(get(&app, &format!("{base}/tasks/{second_id}"), Who::Reader).await.status, 404);

    // Find the pushed task by id alone.
    let found = get(&app, &format!("/api/v1/tasks/{pushed_id}"), Who::Reader).await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.json()["queue"], queue);
    assert_eq!(found.json()["payload"]["n"], 1);
    assert_eq!(found.json()["max_attempts"], 3);
    let find_page = get(&app, &format!("/api/v1/ui/tasks/{pushed_id}"), Who::Reader).await;
    assert!(find_page.body.contains(&pushed_id), "{}", find_page.body);

    // Purge the cancelled task.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let purged = post(
        &app,
        &format!("{base}/purge"),
        Who::Operator,
        Some(r#"{"status": "cancelled", "older_than_seconds": 0}"#),
    )
    .await;
    assert_eq!(purged.status, 200, "{}", purged.body);
    assert_eq!(purged.json()["deleted"], 1, "{}", purged.body);
    assert_eq!(get(&app, &base, Who::Reader).await.json()["counts"]["cancelled"], 0);

    // A registered worker (as a running worker registers itself): listed with what it said,
    // in the API and on the workers page (escaped), and gone once it leaves.
    let registry = admin.registry().expect("the storage keeps worker registrations");
    let record = drover_core::WorkerRecord::new("mailer <1>", vec![queue.to_owned()], 8).with_running(3);
    registry.beat(&record).await.expect("register");
    let workers = get(&app, &format!("/api/v1/stores/{store}/workers"), Who::Reader).await;
    assert_eq!(workers.status, 200, "{}", workers.body);
    let workers = workers.json();
    assert_eq!(workers["supported"], true, "{workers}");
    let listed =
        workers["workers"].as_array().and_then(|ws| ws.iter().find(|w| w["id"] == record.id.as_str())).cloned();
    let listed = listed.unwrap_or_else(|| panic!("the registered worker is listed: {workers}"));
    assert_eq!(
        (listed["name"].as_str(), listed["running"].as_u64(), listed["concurrency"].as_u64()),
        (Some("mailer <1>"), Some(3), Some(8)),
        "{listed}"
    );
    assert_eq!(listed["pid"], std::process::id(), "{listed}");
    assert_eq!(listed["host"], drover_core::host_name(), "{listed}");
    assert!(listed["started_at"].is_string() && listed["last_seen"].is_string(), "{listed}");
    let workers_page = get(&app, "/api/v1/ui/workers", Who::Reader).await;
    assert!(workers_page.body.contains("<h1>Workers</h1>"));
    assert!(
        workers_page.body.contains("mailer &lt;1&gt;") && workers_page.body.contains("3 of 8"),
        "{}",
        workers_page.body
    );
    assert!(workers_page.body.contains(&format!("<td>{}</td>", std::process::id())), "{}", workers_page.body);
    registry.leave(&record.id).await.expect("deregister");
    let after = get(&app, &format!("/api/v1/stores/{store}/workers"), Who::Reader).await.json();
    assert!(!after.to_string().contains(record.id.as_str()), "a worker that left is gone: {after}");
    assert!(storage.queue() == queue);
}

#[tokio::test]
async fn an_operator_session_on_memory() {
    scenario(MemoryAdmin::default(), "email").await;
}

#[tokio::test]
async fn an_operator_session_on_sqlite() {
    let path = std::env::temp_dir().join(format!("{}.db", unique_queue("drover-board")));
    let pool =
        drover_sqlite::connect_pool(&format!("sqlite://{}?mode=rwc", path.display())).await.expect("open SQLite");
    drover_sqlite::SqliteStorage::<()>::setup(&pool).await.expect("set up SQLite");
    scenario(drover_sqlite::SqliteAdmin::new(pool), "email").await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn an_operator_session_on_postgres() {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} (cargo xtask services starts it): {e}"));
    drover_postgres::PostgresStorage::<()>::setup(&pool).await.expect("set up PostgreSQL");
    scenario(drover_postgres::PostgresAdmin::new(pool), &unique_queue("board")).await;
}
