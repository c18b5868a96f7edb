//! The production worker template as a process: SIGTERM mid-job on PostgreSQL and Redis (running
//! jobs finish, unstarted claims go back, nothing is lost, exit 0), its probes, and its
//! one-line configuration errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use drover::prelude::*;
use serde::{Deserialize, Serialize};

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The template's job, encoded the same way (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Work {
    id: u64,
    millis: u64,
}

/// Every variable the template reads, removed so the test's own environment cannot leak in.
const VARIABLES: &[&str] = &[
    "DROVER_BACKEND",
    "DATABASE_URL",
    "REDIS_URL",
    "DROVER_QUEUE",
    "WORKER_NAME",
    "HOSTNAME",
    "WORKER_CONCURRENCY",
    "WORKER_PREFETCH",
    "SHUTDOWN_TIMEOUT_SECS",
    "HTTP_ADDR",
    "RUST_LOG",
];

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// A fresh directory with no `.env`, so that dotenvy finds nothing unless a test writes one.
fn empty_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("drover-production-worker"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn template(dir: &PathBuf, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_production_worker"));
    command.current_dir(dir);
    for var in VARIABLES {
        command.env_remove(var);
    }
    command.envs(vars.iter().copied());
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` over a plain TCP connection, as a kubelet probe does: (status, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// The work ids of log lines with `message` in the template's JSON logs.
fn work_ids(logs: &[String], message: &str) -> BTreeSet<u64> {
    logs.iter()
        .filter(|line| line.contains(&format!("\"message\":\"{message}\"")))
        .filter_map(|line| {
            let rest = line.split("\"work_id\":").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
        .collect()
}

/// What a run of the template left behind.
struct Run {
    logs: Vec<String>,
    shutdown_took: Duration,
}

const JOBS: u64 = 24;
const JOB_MILLIS: u64 = 2_000;
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// Start the template on a backlog of 2 s jobs, check its probes, send SIGTERM half a second
/// into the first job, and wait for it to exit 0.
/// `claimed` reads the storage's running count (claims, started or not) just before the signal.
fn run_and_terminate(backend: &str, url_var: &str, url: &str, queue: &str, claimed: impl Fn() -> u64) -> Run {
    let dir = empty_dir();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let timeout = SHUTDOWN_TIMEOUT_SECS.to_string();
    let mut child: Child = template(
        &dir,
        &[
            ("DROVER_BACKEND", backend),
            (url_var, url),
            ("DROVER_QUEUE", queue),
            ("WORKER_NAME", "test-worker"),
            ("WORKER_CONCURRENCY", "4"),
            // Four jobs run and eight more are claimed ahead: the ones to hand back.
            ("WORKER_PREFETCH", "8"),
            ("SHUTDOWN_TIMEOUT_SECS", &timeout),
            ("HTTP_ADDR", &addr),
            ("RUST_LOG", "info,sqlx=warn"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("the template starts");
    let (tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut logs = Vec::new();

    // Both probes answer 200 once the worker runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let healthz = http_get(port, "/healthz");
        let readyz = http_get(port, "/readyz");
        if let (Ok((200, _)), Ok((200, ready))) = (&healthz, &readyz) {
            assert_eq!(ready.trim(), "ready");
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the template exited early ({status}): {:?}", child_stderr(&mut child));
        }
        assert!(Instant::now() < deadline, "the probes never answered 200: {healthz:?} {readyz:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, metrics) = http_get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains(&format!("drover_queue_tasks{{queue=\"{queue}\",status=\"pending\"}}")), "{metrics}");

    // SIGTERM half a second into the first job, while others are claimed but not started.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !logs.iter().any(|l: &String| l.contains("\"message\":\"work started\"")) {
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => logs.push(line),
            Err(_) => assert!(Instant::now() < deadline, "no job started: {logs:#?}"),
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(claimed(), 12, "four jobs run, eight are claimed ahead");
    let pid = child.id().to_string();
    let killed = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());

    // From the signal on, the worker is no longer ready (while its jobs drain).
    std::thread::sleep(Duration::from_millis(150));
    let (status, body) = http_get(port, "/readyz").expect("the endpoints stay up while jobs drain");
    assert_eq!((status, body.trim()), (503, "shutting down"));
    assert_eq!(http_get(port, "/healthz").unwrap().0, 200);

    let deadline = killed + Duration::from_secs(SHUTDOWN_TIMEOUT_SECS + 10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the template did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let shutdown_took = killed.elapsed();
    reader.join().unwrap();
    logs.extend(lines.try_iter());
    let stderr = child_stderr(&mut child);
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM; stderr: {stderr}\nlogs:\n{}", logs.join("\n"));
    assert!(logs.iter().any(|l| l.contains("\"signal\":\"SIGTERM\"")), "the signal is logged");
    assert!(logs.iter().all(|l| l.starts_with('{') && l.ends_with('}')), "JSON logs, one per line: {logs:#?}");
    Run { logs, shutdown_took }
}

fn child_stderr(child: &mut Child) -> String {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    stderr
}

/// The storage after the run: nothing lost, nothing stuck running, every started job done, the
/// handed-back claims pending with no attempt counted.
async fn check_storage<B: Inspect>(storage: &B, run: &Run) {
    let started = work_ids(&run.logs, "work started");
    let finished = work_ids(&run.logs, "work finished");
    assert!(!started.is_empty());
    assert_eq!(started, finished, "every job running at SIGTERM finished");
    assert!(
        run.shutdown_took < Duration::from_secs(SHUTDOWN_TIMEOUT_SECS),
        "shutdown took {:?}, beyond the timeout",
        run.shutdown_took
    );
    let stats = storage.stats().await.unwrap();
    eprintln!("after SIGTERM: {stats:?}, {} jobs ran, shutdown took {:?}", finished.len(), run.shutdown_took);
    assert_eq!(stats.running, 0, "none stuck running: {stats:?}");
    assert_eq!(stats.dead, 0, "{stats:?}");
    assert_eq!(stats.done + stats.pending, JOBS, "nothing lost: {stats:?}");
    assert_eq!(stats.done, finished.len() as u64, "done = the jobs that ran: {stats:?}");
    assert!(stats.pending > 0, "the SIGTERM came mid-backlog: {stats:?}");
    assert_eq!(stats.scheduled, 0, "handed-back jobs are due at once: {stats:?}");
    let pending = storage.list(ListQuery::new(Some(Status::Pending), 100)).await.unwrap();
    assert_eq!(pending.len() as u64, stats.pending);
    for task in &pending {
        assert_eq!(task.attempt, 0, "a handed-back claim does not count an attempt: {task:?}");
        assert_eq!(task.last_error, None);
    }
}

/// The running count of `storage`, read from a blocking thread of the test's runtime.
fn claimed_by<B: Inspect>(storage: B) -> impl Fn() -> u64 {
    let runtime = tokio::runtime::Handle::current();
    move || runtime.block_on(storage.stats()).unwrap().running
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_job_on_postgres() {
    use drover::postgres::{sqlx::PgPool, PostgresConfig, PostgresStorage};
    let queue = unique("pw_sigterm");
    let pool = PgPool::connect(POSTGRES_URL).await.expect("PostgreSQL runs (cargo xtask services)");
    PostgresStorage::setup(&pool).await.unwrap();
    let storage = PostgresStorage::<Work>::new_with_config(pool.clone(), PostgresConfig::new(queue.as_str()));
    storage.push_bulk((0..JOBS).map(|id| Work { id, millis: JOB_MILLIS })).await.unwrap();

    let q = queue.clone();
    let run = tokio::task::spawn_blocking({
        let claimed = claimed_by(storage.clone());
        move || run_and_terminate("postgres", "DATABASE_URL", POSTGRES_URL, &q, claimed)
    })
    .await
    .unwrap();
    check_storage(&storage, &run).await;
    drover::postgres::sqlx::query("DELETE FROM drover.tasks WHERE queue = $1")
        .bind(&queue)
        .execute(&pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_job_on_redis() {
    use drover::redis::{RedisConfig, RedisStorage};
    let queue = unique("pw_sigterm");
    let conn = drover::redis::connect(REDIS_URL).await.expect("Redis runs (cargo xtask services)");
    let mut manager = conn.clone();
    let storage = RedisStorage::<Work>::new_with_config(conn, RedisConfig::new(queue.as_str()));
    storage.push_bulk((0..JOBS).map(|id| Work { id, millis: JOB_MILLIS })).await.unwrap();

    let q = queue.clone();
    let run = tokio::task::spawn_blocking({
        let claimed = claimed_by(storage.clone());
        move || run_and_terminate("redis", "REDIS_URL", REDIS_URL, &q, claimed)
    })
    .await
    .unwrap();
    check_storage(&storage, &run).await;
    let keys: Vec<String> =
        drover::redis::redis::cmd("KEYS").arg(format!("drover:{{{queue}}}*")).query_async(&mut manager).await.unwrap();
    if !keys.is_empty() {
        drover::redis::redis::cmd("DEL").arg(&keys).query_async::<()>(&mut manager).await.unwrap();
    }
}

/// Runs the template to its exit; returns (exit code, stderr).
fn exit_of(dir: &PathBuf, vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = template(dir, vars).output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_one_line_naming(stderr: &str, variable: &str) {
    let line = stderr.trim_end();
    assert!(!line.is_empty() && !line.contains('\n'), "one line on stderr, got: {stderr:?}");
    assert!(line.contains(variable), "the message names {variable}: {line}");
}

/// Variables, the variable the message must name, and a fragment of the expected form.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[test]
fn configuration_errors_exit_78_with_one_line_naming_the_variable() {
    let dir = empty_dir();
    let redis = [("DROVER_BACKEND", "redis"), ("REDIS_URL", REDIS_URL)];
    let cases: Vec<Case> = vec![
        (vec![], "DROVER_BACKEND", "postgres, redis or sqlite"),
        (vec![("DROVER_BACKEND", "memory")], "DROVER_BACKEND", "\"memory\""),
        (vec![("DROVER_BACKEND", "postgres")], "DATABASE_URL", "is not set"),
        (vec![("DROVER_BACKEND", "redis")], "REDIS_URL", "is not set"),
        ([&redis[..], &[("WORKER_CONCURRENCY", "ten")]].concat(), "WORKER_CONCURRENCY", "\"ten\""),
        ([&redis[..], &[("SHUTDOWN_TIMEOUT_SECS", "-1")]].concat(), "SHUTDOWN_TIMEOUT_SECS", "whole number"),
        ([&redis[..], &[("HTTP_ADDR", "localhost")]].concat(), "HTTP_ADDR", "IP address and port"),
        ([&redis[..], &[("RUST_LOG", "info,[")]].concat(), "RUST_LOG", "filter"),
    ];
    for (vars, variable, fragment) in cases {
        let (code, stderr) = exit_of(&dir, &vars);
        assert_eq!(code, Some(78), "{vars:?}: {stderr}");
        assert_one_line_naming(&stderr, variable);
        assert!(stderr.contains(fragment), "{vars:?}: {stderr}");
    }
}

#[test]
fn dot_env_is_loaded_and_the_environment_wins() {
    let dir = empty_dir();
    std::fs::write(
        dir.join(".env"),
        "DROVER_BACKEND=redis\nREDIS_URL=redis://127.0.0.1:6379\nWORKER_CONCURRENCY=ten\n",
    )
    .unwrap();
    let (code, stderr) = exit_of(&dir, &[]);
    assert_eq!(code, Some(78));
    assert_one_line_naming(&stderr, "WORKER_CONCURRENCY");
    // A variable already set is not overridden by the file.
    let (code, stderr) = exit_of(&dir, &[("WORKER_CONCURRENCY", "4"), ("SHUTDOWN_TIMEOUT_SECS", "soon")]);
    assert_eq!(code, Some(78));
    assert_one_line_naming(&stderr, "SHUTDOWN_TIMEOUT_SECS");
}

#[test]
fn an_unreachable_storage_exits_1_with_one_line() {
    let dir = empty_dir();
    let (code, stderr) = exit_of(
        &dir,
        &[("DROVER_BACKEND", "postgres"), ("DATABASE_URL", "postgres://postgres:secret@127.0.0.1:1/test")],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line_naming(&stderr, "DATABASE_URL");
    assert!(stderr.contains("cannot connect to PostgreSQL"), "{stderr}");
    assert!(!stderr.contains("secret"), "the password is not printed: {stderr}");
}
