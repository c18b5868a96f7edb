//! Interop with real pgmq clients, both ways: psql calling pgmq's SQL functions, and the PyPI
//! `pgmq` client. Messages they send are run by a Drover worker with their bodies byte for
//! byte; Drover's pushes are read and archived by them; dead tasks are readable in the dead
//! queue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_core::{
    BoxDynError, Codec, CodecError, Data, Enqueue, Inspect, PushOptions, Requeue, Status, TaskContext, WorkerBuilder,
};
use drover_pgmq::{msg_id, task_id, PgmqConfig, PgmqStorage};
use serde_json::{json, Value};

/// Hands the worker the payload bytes as they are, so the test sees what the backend gave.
struct RawCodec;

impl Codec<Vec<u8>> for RawCodec {
    fn encode(job: &Vec<u8>) -> Result<Vec<u8>, CodecError> {
        Ok(job.clone())
    }
    fn decode(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
        Ok(bytes.to_vec())
    }
}

type Seen = Arc<Mutex<HashMap<i64, Vec<u8>>>>;

async fn record(job: Vec<u8>, seen: Data<Seen>, task: TaskContext) -> Result<(), BoxDynError> {
    let id = msg_id(task.id()).ok_or("a task id that names no pgmq message")?;
    seen.lock().unwrap().insert(id, job);
    Ok(())
}

/// A raw-bytes storage on a fresh queue.
async fn raw_storage(prefix: &str) -> PgmqStorage<Vec<u8>, RawCodec> {
    let pool = common::pool().await;
    let storage = PgmqStorage::<Vec<u8>, RawCodec>::with_codec(pool, PgmqConfig::new(common::queue(prefix)));
    storage.setup().await.unwrap();
    storage
}

/// Run a worker on `storage` until it has seen `n` messages; returns msg_id → bytes.
async fn run_until_seen(storage: &PgmqStorage<Vec<u8>, RawCodec>, n: usize) -> HashMap<i64, Vec<u8>> {
    let seen: Seen = Arc::default();
    let worker = WorkerBuilder::new("interop")
        .backend(storage.clone())
        .concurrency(4)
        .poll_interval(Duration::from_millis(100))
        .data(seen.clone())
        .build_fn(record);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while seen.lock().unwrap().len() < n {
        assert!(tokio::time::Instant::now() < deadline, "the worker saw {:?} of {n}", seen.lock().unwrap().len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the completions land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(());
    handle.await.unwrap().unwrap();
    let seen = seen.lock().unwrap().clone();
    seen
}

/// `(msg_id, message::text)` rows of a psql query returning those two columns.
async fn id_text_rows(sql: &str) -> Vec<(i64, String)> {
    common::psql(sql)
        .await
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (id, text) = line.split_once('|').unwrap();
            (id.parse().unwrap(), text.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_sends_are_run_by_a_worker_with_their_bodies_byte_for_byte() {
    let storage = raw_storage("psql_in").await;
    let q = storage.queue_name().to_owned();
    common::psql(&format!(r#"SELECT pgmq.send('{q}', '{{"to": "a@example.com", "n": 1}}')"#)).await;
    common::psql(&format!(r#"SELECT pgmq.send('{q}', '{{"n":2}}', '{{"trace": "abc"}}'::jsonb, 0)"#)).await;
    common::psql(&format!(
        r#"SELECT * FROM pgmq.send_batch('{q}', ARRAY['{{"n": 3, "nested": {{"b": [1, 2.50]}}}}', '[4, "four"]', '"five"']::jsonb[])"#
    ))
    .await;
    // What every pgmq client reads: pgmq.read with a zero visibility timeout leaves them visible.
    let read = id_text_rows(&format!("SELECT msg_id, message::text FROM pgmq.read('{q}', 0, 10)")).await;
    assert_eq!(read.len(), 5);

    let seen = run_until_seen(&storage, 5).await;
    for (id, text) in &read {
        assert_eq!(
            seen.get(id).map(|b| String::from_utf8_lossy(b).into_owned()).as_deref(),
            Some(text.as_str()),
            "message {id}: the worker must get the body pgmq.read returns, byte for byte"
        );
    }
    // Done messages are in pgmq's archive, their foreign headers kept.
    let archived =
        common::psql(&format!("SELECT count(*), count(*) FILTER (WHERE headers->>'trace' = 'abc') FROM pgmq.a_{q}"))
            .await;
    assert_eq!(archived, "5|1");
    assert_eq!(common::psql(&format!("SELECT count(*) FROM pgmq.q_{q}")).await, "0");
    let info = storage.get(task_id(read[0].0)).await.unwrap().unwrap();
    assert_eq!(info.status, Status::Done);
    assert_eq!(info.attempt, 2, "pgmq.read's read counts, as any read does");
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Email {
    to: String,
    n: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drover_pushes_are_read_and_archived_by_psql() {
    let storage: PgmqStorage<Email> = common::storage("psql_out").await;
    let q = storage.queue_name().to_owned();
    let jobs: Vec<Email> = (0..3).map(|n| Email { to: format!("user{n}@example.com"), n }).collect();
    let ids = storage.push_bulk(jobs.iter().map(|e| Email { to: e.to.clone(), n: e.n })).await.unwrap();
    let later = storage
        .push_with(Email { to: "later@example.com".into(), n: 9 }, PushOptions::new().delay(Duration::from_secs(3600)))
        .await
        .unwrap();

    let metrics = storage.metrics().await.unwrap();
    assert_eq!((metrics.queue_length, metrics.queue_visible_length, metrics.total_messages), (4, 3, 4));
    assert!(metrics.oldest_msg_age_sec.is_some_and(|age| age >= 0), "{metrics:?}");

    let read = id_text_rows(&format!("SELECT msg_id, message::text FROM pgmq.read('{q}', 30, 10)")).await;
    assert_eq!(
        read.iter().map(|r| task_id(r.0)).collect::<Vec<_>>(),
        ids,
        "pgmq reads the due pushes, in order, under the ids push returned"
    );
    for ((_, text), job) in read.iter().zip(&jobs) {
        let sent = serde_json::to_string(job).unwrap();
        // The body is the job's JSON, as pgmq prints that document for any client.
        let expected = common::psql(&format!("SELECT '{sent}'::jsonb::text")).await;
        assert_eq!(text, &expected);
        assert_eq!(serde_json::from_str::<Email>(text).unwrap(), *job);
    }
    let list: Vec<String> = read.iter().map(|r| r.0.to_string()).collect();
    let archived =
        common::psql(&format!("SELECT count(*) FROM pgmq.archive('{q}', ARRAY[{}]::bigint[])", list.join(","))).await;
    assert_eq!(archived, "3");
    for id in &ids {
        assert_eq!(storage.get(*id).await.unwrap().unwrap().status, Status::Done, "a message pgmq archived is done");
    }
    let info = storage.get(later).await.unwrap().unwrap();
    assert_eq!(info.status, Status::Pending);
    assert!(info.run_at > chrono::Utc::now() + chrono::Duration::seconds(3000), "the delay is pgmq's vt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_messages_are_readable_by_pgmq_in_the_dead_queue() {
    let storage: PgmqStorage<Email> = common::storage("dead").await;
    let dead_queue = storage.dead_queue_name();
    async fn fail(job: Email) -> Result<(), BoxDynError> {
        Err(format!("no mailbox for {}", job.to).into())
    }
    let id = storage
        .push_with(Email { to: "gone@example.com".into(), n: 1 }, PushOptions::new().max_attempts(2))
        .await
        .unwrap();
    let worker = WorkerBuilder::new("dead")
        .backend(storage.clone())
        .poll_interval(Duration::from_millis(50))
        .backoff(drover_core::Backoff::constant(Duration::from_millis(50)))
        .build_fn(fail);
    let handle = tokio::spawn(worker.run_until(tokio::time::sleep(Duration::from_secs(3600))));
    common::wait_for_status(&storage, id, Status::Dead, Duration::from_secs(10)).await;
    handle.abort();

    let row = common::psql(&format!(
        "SELECT message::text, headers->>'x-drover-id', headers->>'x-drover-error', headers->>'x-drover-attempts' \
         FROM pgmq.read('{dead_queue}', 0, 10)"
    ))
    .await;
    let expected = common::psql(r#"SELECT '{"to":"gone@example.com","n":1}'::jsonb::text"#).await;
    assert_eq!(row, format!("{expected}|{}|no mailbox for gone@example.com|2", msg_id(id).unwrap()));
    assert_eq!(common::psql(&format!("SELECT count(*) FROM pgmq.q_{}", storage.queue_name())).await, "0");

    // And back: requeued under its own id, attempts from 1.
    assert!(storage.requeue(id).await.unwrap());
    let info = storage.get(id).await.unwrap().unwrap();
    assert_eq!((info.status, info.attempt), (Status::Pending, 0));
    assert_eq!(common::psql(&format!("SELECT count(*) FROM pgmq.q_{dead_queue}")).await, "0");
}

/// Run the PyPI client with one command.
async fn python(command: Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/pgmq_client.py");
    let output = tokio::process::Command::new(common::python())
        .arg(script)
        .arg(command.to_string())
        .env("DATABASE_URL", common::url())
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "python pgmq {command} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("python printed no JSON ({e})"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_talks_to_drover_both_ways() {
    // Python → Drover.
    let storage = raw_storage("python").await;
    let q = storage.queue_name().to_owned();
    let messages = json!([{"task": "resize", "w": 640, "tags": ["a", "b"]}, {"task": "crop", "ratio": 1.5}]);
    let ids =
        python(json!({"op": "send_batch", "queue": q, "messages": messages, "headers": [{"lang": "python"}, {}]}))
            .await;
    let ids: Vec<i64> = serde_json::from_value(ids).unwrap();
    assert_eq!(ids.len(), 2);
    let seen = run_until_seen(&storage, 2).await;
    let stored = id_text_rows(&format!("SELECT msg_id, message::text FROM pgmq.a_{q} ORDER BY msg_id")).await;
    assert_eq!(stored.iter().map(|r| r.0).collect::<Vec<_>>(), ids);
    for (id, text) in stored {
        assert_eq!(seen.get(&id).unwrap(), text.as_bytes(), "the worker gets the body pgmq holds, byte for byte");
    }

    // Drover → Python.
    let storage: PgmqStorage<Email> = common::storage("python_out").await;
    let q = storage.queue_name().to_owned();
    let id = storage.push(Email { to: "py@example.com".into(), n: 7 }).await.unwrap();
    let read = python(json!({"op": "read", "queue": q, "vt": 30, "qty": 5})).await;
    assert_eq!(read[0]["msg_id"], json!(msg_id(id).unwrap()));
    assert_eq!(read[0]["message"], json!({"to": "py@example.com", "n": 7}));
    assert_eq!(python(json!({"op": "archive", "queue": q, "msg_ids": [msg_id(id).unwrap()]})).await, json!([true]));
    assert_eq!(storage.get(id).await.unwrap().unwrap().status, Status::Done);
}
