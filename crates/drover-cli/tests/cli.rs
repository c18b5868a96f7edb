//! Every command of the `drover` binary against the real PostgreSQL, MySQL and Redis servers (and
//! SQLite for the missing-schema case), `--json` output parsed back, and the exit codes of the
//! failures scripts rely on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};
use std::time::Duration;

use drover_core::{Backend, ClaimRequest, Completion, Outcome, TaskId, WorkerRegistry};
use serde_json::Value;

fn pg_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn mysql_url() -> String {
    std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn drover(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drover"))
        .arg("--url")
        .arg(url)
        .args(args)
        .env_remove("DROVER_URL")
        .output()
        .expect("run the drover binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Run, expect exit status 0, parse stdout as JSON.
fn json(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = drover(url, &all);
    assert!(output.status.success(), "drover {args:?} failed: {}{}", stdout(&output), stderr(&output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("drover {args:?} printed no JSON ({e}): {}", stdout(&output)))
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// Claim every due task of the storage and record it dead, as a worker would after its last attempt.
async fn kill_due<B: Backend>(storage: &B) -> usize {
    let claimed = storage.claim(ClaimRequest::new("cli-test-worker", 100, Duration::from_secs(60))).await.unwrap();
    let n = claimed.len();
    let dead = claimed
        .iter()
        .map(|t| Completion { lease: t.lease(), outcome: Outcome::Dead { error: "boom".into() } })
        .collect();
    storage.complete(dead).await.unwrap();
    n
}

async fn every_command<B: Backend>(url: &str, queue: &str, storage: B, purge_works: bool, workers_recorded: bool) {
    assert!(drover(url, &["migrate"]).status.success());

    // push: plain, delayed, keyed; a duplicate key returns the first id.
    let first = json(url, &["push", queue, r#"{"to":"a@example.com","n":1}"#]);
    let first: TaskId = first["id"].as_str().unwrap().parse().unwrap();
    json(url, &["push", queue, r#"{"n":2}"#, "--delay", "1h"]);
    let keyed = json(url, &["push", queue, r#"{"n":3}"#, "--unique-key", "k-3", "--max-attempts", "2"]);
    let again = json(url, &["push", queue, r#"{"n":4}"#, "--unique-key", "k-3"]);
    assert_eq!(keyed["id"], again["id"], "a held unique key returns the holder's id");

    // queues and list.
    let queues = json(url, &["queues"]);
    let ours = queues.as_array().unwrap().iter().find(|q| q["queue"] == queue).expect("the queue is listed");
    assert_eq!((ours["stats"]["pending"].as_u64(), ours["stats"]["scheduled"].as_u64()), (Some(3), Some(1)));
    assert!(ours["stats"]["oldest_due_at"].is_string(), "two tasks are due: {ours}");
    let listed = json(url, &["list", queue, "--status", "pending", "--limit", "10"]);
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert_eq!(json(url, &["list", queue, "--limit", "2"]).as_array().unwrap().len(), 2, "--limit pages");

    // show, with and without the queue.
    let shown = json(url, &["show", &first.to_string()]);
    assert_eq!(shown["payload"], serde_json::json!({"to": "a@example.com", "n": 1}), "the payload as pushed");
    assert_eq!((shown["queue"].as_str(), shown["status"].as_str()), (Some(queue), Some("pending")));
    assert_eq!(json(url, &["show", &first.to_string(), "--queue", queue])["id"], shown["id"]);

    // The two due tasks die; retry one by id, then the rest with --all-dead.
    assert_eq!(kill_due(&storage).await, 2);
    // show: a dead task's attempt history, in JSON and as text.
    let dead_one = json(url, &["show", &first.to_string()]);
    assert_eq!(
        (dead_one["attempts"][0]["attempt"].as_u64(), dead_one["attempts"][0]["error"].as_str()),
        (Some(1), Some("boom")),
        "{dead_one}"
    );
    let text = String::from_utf8_lossy(&drover(url, &["show", &first.to_string()]).stdout).into_owned();
    assert!(text.contains("attempt   1:") && text.contains(": boom"), "{text}");
    let dead = json(url, &["list", queue, "--status", "dead"]);
    assert_eq!(dead.as_array().unwrap().len(), 2);
    assert!(drover(url, &["retry", &first.to_string()]).status.success());
    assert_eq!(json(url, &["show", &first.to_string()])["status"], "pending");
    assert_eq!(json(url, &["retry", "--all-dead", queue])["requeued"], 1);
    assert_eq!(json(url, &["list", queue, "--status", "dead"]).as_array().unwrap().len(), 0);

    // workers: the claim below is made as cli-test-worker (PostgreSQL counts running tasks, so
    // hold one).
    let held = storage.claim(ClaimRequest::new("cli-test-worker", 1, Duration::from_secs(60))).await.unwrap();
    // A registered worker (as every running worker registers itself) is listed with its host,
    // pid and running count, in JSON and in the table.
    let registry = storage.worker_registry().expect("the storage keeps worker registrations");
    let record = drover_core::WorkerRecord::new("cli-registered", vec![queue.to_owned()], 4).with_running(1);
    registry.beat(&record).await.unwrap();
    let workers = json(url, &["workers", "--queue", queue]);
    let listed = workers.as_array().unwrap().iter().find(|w| w["id"] == record.id.as_str()).cloned();
    let listed = listed.unwrap_or_else(|| panic!("the registered worker is listed: {workers}"));
    assert_eq!((listed["pid"].as_u64(), listed["running"].as_u64()), (Some(u64::from(std::process::id())), Some(1)));
    assert_eq!(listed["host"], drover_core::host_name());
    let table = drover(url, &["workers", "--queue", queue]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.contains("HOST") && table.contains("cli-registered") && table.contains("1/4"), "{table}");
    registry.leave(&record.id).await.unwrap();
    if workers_recorded {
        // Lease holders that registered nothing (a claim made outside a worker) show too.
        assert!(
            workers.as_array().unwrap().iter().any(|w| w["name"] == "cli-test-worker" && w["queue"] == queue),
            "{workers}"
        );
    }

    // cancel, then cancel again (exit 3).
    let pending = json(url, &["list", queue, "--status", "pending"]);
    let victim = pending[0]["id"].as_str().unwrap().to_owned();
    assert!(drover(url, &["cancel", &victim]).status.success());
    let twice = drover(url, &["cancel", &victim]);
    assert_eq!(code(&twice), 3, "cancelling a cancelled task: {}", stderr(&twice));
    assert!(stderr(&twice).contains("cancelled"), "{}", stderr(&twice));

    // purge the cancelled task.
    let purged = drover(url, &["--json", "purge", queue, "--status", "cancelled", "--older-than", "0s"]);
    if purge_works {
        assert!(purged.status.success(), "{}", stderr(&purged));
        assert_eq!(serde_json::from_slice::<Value>(&purged.stdout).unwrap()["deleted"], 1);
    } else {
        assert_eq!(code(&purged), 1);
        assert!(stderr(&purged).contains("does not delete finished tasks on demand"), "{}", stderr(&purged));
    }
    let done = held.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    storage.complete(done).await.unwrap();

    // pause and resume: claims stop and start again, and the listing says so.
    json(url, &["push", queue, r#"{"n":5}"#]);
    json(url, &["pause", queue]);
    let paused = json(url, &["queues"]);
    let ours = paused.as_array().unwrap().iter().find(|q| q["queue"] == queue).unwrap().clone();
    assert_eq!(ours["paused"], true, "{ours}");
    let none = storage.claim(ClaimRequest::new("cli-test-worker", 10, Duration::from_secs(60))).await.unwrap();
    assert!(none.is_empty(), "a paused queue's claim returned {} tasks", none.len());
    json(url, &["resume", queue]);
    let some = storage.claim(ClaimRequest::new("cli-test-worker", 10, Duration::from_secs(60))).await.unwrap();
    assert!(!some.is_empty(), "resumed, the queue's tasks are claimable");
    let done = some.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    storage.complete(done).await.unwrap();

    // limit: a cap on running tasks across workers, shown by queues.
    let limited = drover(url, &["limit", queue, "--max-running", "2"]);
    assert!(limited.status.success(), "{}", stderr(&limited));
    let queues = json(url, &["queues"]);
    let ours = queues.as_array().unwrap().iter().find(|q| q["queue"] == queue).unwrap().clone();
    assert_eq!(ours["max_running"], 2, "{ours}");
    for n in 0..4 {
        json(url, &["push", queue, &format!(r#"{{"n":{}}}"#, 10 + n)]);
    }
    let capped = storage.claim(ClaimRequest::new("cli-test-worker", 10, Duration::from_secs(60))).await.unwrap();
    assert_eq!(capped.len(), 2, "the cap holds the claim to 2");
    let done = capped.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    storage.complete(done).await.unwrap();
    assert!(drover(url, &["limit", queue, "--rate", "50/s"]).status.success());
    let queues = json(url, &["queues"]);
    let ours = queues.as_array().unwrap().iter().find(|q| q["queue"] == queue).unwrap().clone();
    assert_eq!((ours["rate"]["starts"].as_u64(), ours["rate"]["per_ms"].as_u64()), (Some(50), Some(1000)), "{ours}");
    assert_eq!(code(&drover(url, &["limit", queue, "--rate", "fast"])), 2);
    assert!(drover(url, &["limit", queue, "--unlimited"]).status.success());
    let queues = json(url, &["queues"]);
    assert!(queues.as_array().unwrap().iter().find(|q| q["queue"] == queue).unwrap()["rate"].is_null());
    let queues = json(url, &["queues"]);
    assert!(queues.as_array().unwrap().iter().find(|q| q["queue"] == queue).unwrap()["max_running"].is_null());
    assert_eq!(code(&drover(url, &["limit", queue, "--max-running", "0"])), 2);

    // limit --per-key: one running task per concurrency key, shown by queues.
    let due = storage.claim(ClaimRequest::new("cli-test-worker", 100, Duration::from_secs(60))).await.unwrap();
    let done = due.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    storage.complete(done).await.unwrap();
    assert!(drover(url, &["limit", queue, "--per-key", "1"]).status.success());
    let queues = json(url, &["queues"]);
    assert_eq!(queues.as_array().unwrap().iter().find(|q| q["queue"] == queue).unwrap()["max_per_key"], 1);
    for n in 0..3 {
        json(url, &["push", queue, &format!(r#"{{"n":{}}}"#, 20 + n), "--concurrency-key", "customer-1"]);
    }
    let keyed = storage.claim(ClaimRequest::new("cli-test-worker", 10, Duration::from_secs(60))).await.unwrap();
    assert_eq!(keyed.len(), 1, "one task of the key at a time");
    let done = keyed.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    storage.complete(done).await.unwrap();
    assert!(drover(url, &["limit", queue, "--unlimited"]).status.success());
    let queues = json(url, &["queues"]);
    assert!(queues.as_array().unwrap().iter().find(|q| q["queue"] == queue).unwrap()["max_per_key"].is_null());
    assert_eq!(code(&drover(url, &["limit", queue, "--per-key", "0"])), 2);
    let rest = storage.claim(ClaimRequest::new("cli-test-worker", 10, Duration::from_secs(60))).await.unwrap();
    assert_eq!(rest.len(), 2, "without the limit both remaining keyed tasks are claimable");
    let done = rest.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    storage.complete(done).await.unwrap();

    // Failures scripts rely on.
    let unknown = drover(url, &["show", &TaskId::new().to_string()]);
    assert_eq!(code(&unknown), 3, "{}", stderr(&unknown));
    let not_json = drover(url, &["push", queue, "{not json"]);
    assert_eq!(code(&not_json), 2);
    assert!(stderr(&not_json).contains("not JSON"), "{}", stderr(&not_json));
    let unfinished = drover(url, &["purge", queue, "--status", "pending", "--older-than", "1d"]);
    assert_eq!(code(&unfinished), 2, "{}", stderr(&unfinished));
    let bad_age = drover(url, &["purge", queue, "--status", "done", "--older-than", "a week"]);
    assert_eq!(code(&bad_age), 2);
    assert!(stderr(&bad_age).contains("not a duration"), "{}", stderr(&bad_age));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_on_postgres() {
    let url = pg_url();
    let queue = format!("cli-{}", TaskId::new());
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    drover_postgres::PostgresStorage::setup(&pool).await.unwrap();
    let storage: drover_postgres::PostgresStorage<Value> =
        drover_postgres::PostgresStorage::new_with_config(pool, drover_postgres::PostgresConfig::new(queue.clone()));
    every_command(&url, &queue, storage, true, true).await;
}

/// MySQL's admin does not list workers yet (`drover workers` says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_on_mysql() {
    let url = mysql_url();
    let queue = format!("cli-{}", TaskId::new());
    let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
    drover_mysql::MysqlStorage::setup(&pool).await.unwrap();
    let storage: drover_mysql::MysqlStorage<Value> =
        drover_mysql::MysqlStorage::new_with_config(pool, drover_mysql::MysqlConfig::new(queue.clone()));
    every_command(&url, &queue, storage, true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_on_redis() {
    let url = redis_url();
    let queue = format!("cli-{}", TaskId::new());
    let conn = drover_redis::connect(&url).await.unwrap();
    let storage: drover_redis::RedisStorage<Value> = drover_redis::RedisStorage::new_with_config(
        conn,
        drover_redis::RedisConfig::default().set_namespace(queue.clone()),
    );
    every_command(&url, &queue, storage.clone(), false, true).await;
    storage.purge().await.unwrap();
}

#[test]
fn bad_urls_and_missing_schemas_say_what_to_do() {
    let refused = drover("postgres://postgres@127.0.0.1:1/test", &["queues"]);
    assert_eq!(code(&refused), 4);
    assert!(
        stderr(&refused).contains("cannot connect to PostgreSQL at postgres://postgres@127.0.0.1:1/test"),
        "{}",
        stderr(&refused)
    );
    let secret = drover("redis://:hunter2@127.0.0.1:1", &["queues"]);
    assert_eq!(code(&secret), 4);
    assert!(!stderr(&secret).contains("hunter2"), "passwords stay out of messages: {}", stderr(&secret));
    let unknown = drover("ftp://example.com", &["queues"]);
    assert_eq!(code(&unknown), 4);
    assert!(stderr(&unknown).contains("postgres://"), "{}", stderr(&unknown));
    let none = Command::new(env!("CARGO_BIN_EXE_drover"))
        .arg("queues")
        .env_remove("DROVER_URL")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    assert_eq!(code(&none), 4);
    assert!(stderr(&none).contains("DATABASE_URL"), "{}", stderr(&none));

    let dir = std::env::temp_dir().join(format!("drover-cli-{}", TaskId::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("jobs.db").display());
    let unmigrated = drover(&url, &["queues"]);
    assert_eq!(code(&unmigrated), 5, "{}", stderr(&unmigrated));
    assert!(stderr(&unmigrated).contains("drover migrate"), "{}", stderr(&unmigrated));
    assert!(drover(&url, &["migrate"]).status.success());
    let empty = drover(&url, &["queues"]);
    assert!(empty.status.success(), "{}", stderr(&empty));
    std::fs::remove_dir_all(&dir).ok();
}
