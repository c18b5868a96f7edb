//! Interoperability with the real npm `rsmq` client (0.12): messages sent from Node are
//! processed by Drover workers, messages Drover pushes are received by Node byte for byte,
//! and Node reads queue attributes consistent with Drover's traffic. Each test has its own
//! namespace. The client is installed once into `target/rsmq-node` (see `node_dir`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use drover_core::{
    Backend, BackendError, BoxDynError, ClaimRequest, Codec, CodecError, Completion, Data, Enqueue, Outcome,
    PushOptions, WorkerBuilder,
};
use drover_rsmq::{RsmqConfig, RsmqStorage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Bodies with quotes, backslashes, newlines and characters outside the BMP.
const TRICKY: &[&str] = &[
    "plain",
    "say \"hi\" and 'bye'",
    "back\\slash\nnew line\ttab",
    "héllo wörld ✓ 日本語",
    "emoji 🎉🚀 and 𝄞",
    "{\"looks\": \"like json\"}",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Job {
    n: u64,
    text: String,
    #[serde(default)]
    fail: bool,
}

/// A codec that stores a `String` as its UTF-8 bytes, nothing else: what any rsmq client sends.
struct RawText;

impl Codec<String> for RawText {
    fn encode(job: &String) -> Result<Vec<u8>, CodecError> {
        Ok(job.as_bytes().to_vec())
    }
    fn decode(bytes: &[u8]) -> Result<String, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(|e| CodecError::new(e.to_string()))
    }
}

/// The folder holding `node_modules/rsmq`: `RSMQ_NODE_DIR`, or `rsmq-node` in the target
/// folder, where `npm install rsmq@0.12` runs once (into a temporary folder, then renamed, so
/// a half-finished install is never used).
fn node_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("RSMQ_NODE_DIR").map(PathBuf::from).unwrap_or_else(|| {
            // The test binary lives in <target>/<profile>/deps/.
            let exe = std::env::current_exe().unwrap();
            exe.ancestors().nth(3).unwrap().join("rsmq-node")
        });
        if dir.join("node_modules/rsmq/package.json").exists() {
            return dir;
        }
        let staging = dir.with_extension(format!("installing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).unwrap();
        let status = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(&staging)
            .arg("rsmq@0.12")
            .status()
            .unwrap_or_else(|e| panic!("cannot run npm ({e}): install Node.js 18+ with npm to run these tests"));
        assert!(status.success(), "`npm install rsmq@0.12` failed ({status}); is the npm registry reachable?");
        if std::fs::rename(&staging, &dir).is_err() {
            // Another test process installed it first.
            let _ = std::fs::remove_dir_all(&staging);
        }
        assert!(dir.join("node_modules/rsmq/package.json").exists(), "rsmq is not in {}", dir.display());
        dir
    })
}

/// Connection settings for the Node client, from `REDIS_URL`.
fn node_conn(ns: &str, realtime: bool) -> Value {
    let url = common::redis_url();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let (password, host_port) = match rest.rsplit_once('@') {
        Some((auth, hp)) => (auth.rsplit_once(':').map_or(auth, |(_, p)| p).to_owned(), hp),
        None => (String::new(), rest),
    };
    let host_port = host_port.split('/').next().unwrap_or("127.0.0.1:6379");
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "6379"));
    json!({ "host": host, "port": port.parse::<u16>().unwrap(), "password": password, "ns": ns, "realtime": realtime })
}

/// Run one rsmq command in Node and return its JSON result.
async fn node(command: Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/rsmq-cli.js");
    let output = tokio::process::Command::new("node")
        .arg(script)
        .arg(command.to_string())
        .env("NODE_PATH", node_dir().join("node_modules"))
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run node ({e}): install Node.js 18+ to run these tests"));
    assert!(output.status.success(), "node rsmq command {command} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("node printed no JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// Each job a worker ran, with its attempt.
type Seen = Arc<Mutex<Vec<(Job, u32)>>>;
/// Stops a worker, and its result.
type RunningWorker = (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<drover_core::Result<()>>);

/// A worker processing `Job`s on `storage`, recording them; failing jobs fail.
fn start_worker(storage: RsmqStorage<Job>, seen: Seen, poll: Duration) -> RunningWorker {
    async fn handle(job: Job, seen: Data<Seen>, attempt: drover_core::Attempt) -> Result<(), BoxDynError> {
        let fail = job.fail;
        seen.lock().unwrap().push((job, attempt.0));
        if fail {
            return Err("failing on purpose".into());
        }
        Ok(())
    }
    let worker = WorkerBuilder::new("interop")
        .concurrency(4)
        .poll_interval(poll)
        .backoff(drover_core::Backoff::constant(Duration::from_millis(50)))
        .data(seen)
        .backend(storage)
        .build_fn(handle);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
    }));
    (stop, running)
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_by_node_are_processed_by_a_drover_worker() {
    let ns = common::fresh_namespace("interop");
    let conn = node_conn(&ns, false);
    assert_eq!(node(json!({ "op": "create", "conn": conn, "qname": "work" })).await, json!(1));
    let jobs: Vec<Job> = TRICKY
        .iter()
        .enumerate()
        .map(|(n, text)| Job { n: n as u64, text: (*text).to_owned(), fail: false })
        .chain([Job { n: 99, text: "dies \"here\" ☠".into(), fail: true }])
        .collect();
    let bodies: Vec<String> = jobs.iter().map(|j| serde_json::to_string(j).unwrap()).collect();
    let ids = node(json!({ "op": "send", "conn": conn, "qname": "work", "messages": bodies })).await;
    assert_eq!(ids.as_array().unwrap().len(), jobs.len());

    let storage: RsmqStorage<Job> =
        common::storage(RsmqConfig::new("work").set_namespace(&ns).set_max_attempts(2)).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (stop, running) = start_worker(storage.clone(), seen.clone(), Duration::from_millis(50));
    wait_for("every job ran and the failing one twice", Duration::from_secs(10), || {
        seen.lock().unwrap().len() == jobs.len() + 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();

    let mut runs = seen.lock().unwrap().clone();
    runs.sort_by_key(|(job, attempt)| (job.n, *attempt));
    let expected: Vec<(Job, u32)> =
        jobs.iter().cloned().map(|j| (j, 1)).chain([(jobs.last().unwrap().clone(), 2)]).collect();
    assert_eq!(runs, expected, "each Node message must decode to the job sent; the failing one runs attempts 1 and 2");

    // Successes are deleted; the failure is in the dead queue, where Node reads the same body.
    let attrs = node(json!({ "op": "attributes", "conn": conn, "qname": "work" })).await;
    assert_eq!((attrs["msgs"].as_u64(), attrs["totalsent"].as_u64()), (Some(0), Some(jobs.len() as u64)), "{attrs}");
    assert_eq!(attrs["totalrecv"].as_u64(), Some(jobs.len() as u64 + 1), "{attrs}");
    let dead = node(json!({ "op": "receive", "conn": conn, "qname": "work-dead", "max": 10, "delete": true })).await;
    let dead = dead.as_array().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["message"].as_str(), bodies.last().map(String::as_str), "the dead body must be unchanged");
    assert_eq!(dead[0]["id"], ids[jobs.len() - 1], "the dead message keeps its id");
    let queues = node(json!({ "op": "listQueues", "conn": conn })).await;
    let mut queues: Vec<&str> = queues.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    queues.sort();
    assert_eq!(queues, vec!["work", "work-dead"], "the dead queue is an rsmq queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_pushed_by_drover_are_received_by_node_byte_for_byte() {
    let ns = common::fresh_namespace("interop");
    let conn = node_conn(&ns, false);
    // Raw strings: the body must be exactly these bytes.
    let raw: RsmqStorage<String, RawText> = RsmqStorage::with_codec(
        drover_rsmq::connect(&common::redis_url()).await.unwrap(),
        RsmqConfig::new("raw").set_namespace(&ns),
    )
    .unwrap();
    let texts: Vec<String> = TRICKY.iter().map(|t| (*t).to_owned()).collect();
    let ids = raw.push_bulk(texts.clone()).await.unwrap();
    let got = node(json!({ "op": "receive", "conn": conn, "qname": "raw", "max": 100, "delete": true })).await;
    let got = got.as_array().unwrap();
    // Pushes in one millisecond share a score; rsmq then orders them by id, not push order.
    let mut messages: Vec<&str> = got.iter().filter_map(|m| m["message"].as_str()).collect();
    messages.sort();
    let mut expected = TRICKY.to_vec();
    expected.sort();
    assert_eq!(messages, expected, "Node must receive every body unchanged");
    let now_ms = chrono::Utc::now().timestamp_millis() as f64;
    for m in got {
        assert_eq!(m["id"].as_str().map(str::len), Some(32), "an rsmq message id: {m}");
        assert_eq!(m["rc"].as_u64(), Some(1), "{m}");
        let sent = m["sent"].as_f64().unwrap();
        assert!((now_ms - sent).abs() < 10_000.0, "rsmq's `sent` (from the id) must be the push time: {m}");
        assert!(m["fr"].as_f64().unwrap() >= sent.floor(), "{m}");
    }
    assert_eq!(ids.len(), TRICKY.len());

    // JSON jobs, one delayed: Node gets it only after the delay.
    let jobs: RsmqStorage<Job> = common::storage(RsmqConfig::new("jobs").set_namespace(&ns)).await;
    let now = Job { n: 1, text: "now \"ü\" 🎉".into(), fail: false };
    let later = Job { n: 2, text: "later".into(), fail: false };
    jobs.push(now.clone()).await.unwrap();
    jobs.push_with(later.clone(), PushOptions::new().delay(Duration::from_millis(1500))).await.unwrap();
    let first = node(json!({ "op": "receive", "conn": conn, "qname": "jobs", "max": 10, "delete": true })).await;
    assert_eq!(first.as_array().unwrap().len(), 1, "the delayed job must stay hidden: {first}");
    assert_eq!(first[0]["message"].as_str().unwrap(), serde_json::to_string(&now).unwrap());
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let second = node(json!({ "op": "receive", "conn": conn, "qname": "jobs", "max": 10, "delete": true })).await;
    assert_eq!(second.as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second[0]["message"].as_str().unwrap(), serde_json::to_string(&later).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_reads_queue_attributes_after_drover_traffic() {
    let ns = common::fresh_namespace("interop");
    let conn = node_conn(&ns, false);
    let storage: RsmqStorage<Job> =
        common::storage(RsmqConfig::new("attrs").set_namespace(&ns).set_max_attempts(3)).await;
    let before = chrono::Utc::now().timestamp();
    storage.push_bulk((0..5).map(|n| Job { n, text: format!("job {n}"), fail: false })).await.unwrap();
    let claimed = storage.claim(ClaimRequest::new("attrs", 3, Duration::from_secs(60))).await.unwrap();
    assert_eq!(claimed.len(), 3);
    storage
        .complete(vec![
            Completion { lease: claimed[0].lease(), outcome: Outcome::Done },
            Completion {
                lease: claimed[1].lease(),
                outcome: Outcome::Retry { delay: Duration::from_secs(60), error: "later".into() },
            },
            Completion { lease: claimed[2].lease(), outcome: Outcome::Dead { error: "bad".into() } },
        ])
        .await
        .unwrap();
    let held = storage.claim(ClaimRequest::new("attrs", 1, Duration::from_secs(60))).await.unwrap();
    assert_eq!(held.len(), 1);
    // rsmq counts hidden messages from the start of the current second: let the pushes age.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let attrs = node(json!({ "op": "attributes", "conn": conn, "qname": "attrs" })).await;
    assert_eq!(attrs["vt"], 30, "{attrs}");
    assert_eq!(attrs["delay"], 0, "{attrs}");
    assert_eq!(attrs["maxsize"], 65536, "{attrs}");
    assert_eq!(attrs["totalsent"], 5, "five pushes: {attrs}");
    assert_eq!(attrs["totalrecv"], 4, "four claims: {attrs}");
    assert_eq!(attrs["msgs"], 3, "one deleted, one dead, three left: {attrs}");
    assert_eq!(attrs["hiddenmsgs"], 2, "the retried and the claimed message are hidden: {attrs}");
    let created = attrs["created"].as_i64().unwrap();
    assert!((before - 1..=before + 2).contains(&created), "created at the first push: {attrs}");
    assert_eq!(attrs["modified"], attrs["created"], "{attrs}");

    let ours = storage.attributes().await.unwrap().unwrap();
    assert_eq!(
        (ours.totalsent, ours.totalrecv, ours.msgs, ours.hiddenmsgs, ours.vt, ours.maxsize),
        (5, 4, 3, 2, 30, 65536),
        "Drover's reading must match Node's: {ours:?}"
    );
    let dead = node(json!({ "op": "attributes", "conn": conn, "qname": "attrs-dead" })).await;
    assert_eq!((dead["msgs"].as_u64(), dead["totalsent"].as_u64()), (Some(1), Some(1)), "{dead}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_counts_and_visibility_are_shared_with_node() {
    let ns = common::fresh_namespace("interop");
    let conn = node_conn(&ns, false);
    node(json!({ "op": "create", "conn": conn, "qname": "shared" })).await;
    node(json!({ "op": "send", "conn": conn, "qname": "shared", "messages": [r#"{"n":1,"text":"x"}"#] })).await;
    // Node receives it and lets its 1 s visibility timeout run out.
    let first = node(json!({ "op": "receive", "conn": conn, "qname": "shared", "max": 1, "vt": 1 })).await;
    assert_eq!(first[0]["rc"], 1);
    let storage: RsmqStorage<Job> = common::storage(RsmqConfig::new("shared").set_namespace(&ns)).await;
    assert!(storage.claim(ClaimRequest::new("t", 1, Duration::from_secs(30))).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let claimed = storage.claim(ClaimRequest::new("t", 1, Duration::from_secs(30))).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempt, 2, "Node's receive counts as the first attempt");
    // While Drover holds it, Node cannot receive it.
    let none = node(json!({ "op": "receive", "conn": conn, "qname": "shared", "max": 1 })).await;
    assert_eq!(none, json!([]));
    // The task id of a message Node sent works for every operation, from any storage.
    let other: RsmqStorage<Job> = common::storage(RsmqConfig::new("shared").set_namespace(&ns)).await;
    other.extend_leases(vec![claimed[0].lease()], Duration::from_secs(60)).await.unwrap();
    other.complete(vec![Completion { lease: claimed[0].lease(), outcome: Outcome::Done }]).await.unwrap();
    let attrs = node(json!({ "op": "attributes", "conn": conn, "qname": "shared" })).await;
    assert_eq!((attrs["msgs"].as_u64(), attrs["totalrecv"].as_u64()), (Some(0), Some(2)), "{attrs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxsize_is_counted_as_rsmq_counts() {
    let ns = common::fresh_namespace("interop");
    let conn = node_conn(&ns, false);
    node(json!({ "op": "create", "conn": conn, "qname": "small", "maxsize": 1024 })).await;
    let raw: RsmqStorage<String, RawText> = RsmqStorage::with_codec(
        drover_rsmq::connect(&common::redis_url()).await.unwrap(),
        RsmqConfig::new("small").set_namespace(&ns),
    )
    .unwrap();
    // 1,024 characters of two UTF-8 bytes each: 2,048 bytes, but rsmq counts 1,024.
    let fits = "é".repeat(1024);
    raw.push(fits.clone()).await.unwrap();
    let err = raw.push_bulk(["ok".to_owned(), "x".repeat(1025)]).await.unwrap_err();
    assert!(matches!(err, BackendError::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("maxsize of 1024"), "{err}");
    let got = node(json!({ "op": "receive", "conn": conn, "qname": "small", "max": 10, "delete": true })).await;
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), 1, "a refused batch sends nothing");
    assert_eq!(got[0]["message"].as_str(), Some(fits.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_sends_from_node_wake_an_idle_worker() {
    let ns = common::fresh_namespace("interop");
    let conn = node_conn(&ns, true);
    node(json!({ "op": "create", "conn": conn, "qname": "rt" })).await;
    let storage: RsmqStorage<Job> = common::storage(RsmqConfig::new("rt").set_namespace(&ns).set_realtime(true)).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    // A poll interval far longer than the test: only the realtime message can wake the worker.
    let (stop, running) = start_worker(storage.clone(), seen.clone(), Duration::from_secs(120));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let body = serde_json::to_string(&Job { n: 7, text: "wake up".into(), fail: false }).unwrap();
    node(json!({ "op": "send", "conn": conn, "qname": "rt", "messages": [body] })).await;
    wait_for("the worker woke for the realtime message", Duration::from_secs(10), || seen.lock().unwrap().len() == 1)
        .await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
