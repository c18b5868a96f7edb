//! Three processes run the same every-second schedule, piped into PostgreSQL (and, in the
//! other test, Redis), each with a worker, for 60 s (`DROVER_CRON_TEST_SECS`); one is killed
//! with SIGKILL halfway. Each tick must have exactly one task, with no tick missed across the
//! kill, and each task must run once per attempt: only a task the killed process held may run
//! again, as attempt 2, when its lease expires.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use drover_core::{Attempt, BoxDynError, Data, Inspect, ListQuery, Monitor, PushTicks, Status, WorkerBuilder};
use drover_cron::{CronJob, Schedule, Tick};
use drover_postgres::sqlx::{self, PgPool};
use drover_postgres::{PostgresConfig, PostgresStorage};
use drover_redis::redis::AsyncCommands;
use drover_redis::{RedisConfig, RedisStorage};

const BACKEND: &str = "DROVER_CRON_NODE_BACKEND";
const QUEUE: &str = "DROVER_CRON_NODE_QUEUE";
const NODE: &str = "DROVER_CRON_NODE";
const SCHEDULE: &str = "every-second";
const LEASE: Duration = Duration::from_secs(2);
const CONCURRENCY: usize = 2;

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Beat;

fn pg_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn test_secs() -> u64 {
    std::env::var("DROVER_CRON_TEST_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60)
}

/// Where each run is recorded: (tick ms, attempt, node), in the backend's own server.
#[derive(Clone)]
enum Runs {
    Postgres(PgPool, String),
    Redis(drover_redis::RedisConnection, String),
}

impl Runs {
    async fn open(backend: &str, queue: &str) -> Runs {
        match backend {
            "postgres" => {
                let pool = drover_postgres::sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .connect(&pg_url())
                    .await
                    .expect("connect to PostgreSQL (see the crate README for how to start it)");
                PostgresStorage::setup(&pool).await.expect("setup");
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS drover_test_cron_runs (queue text, tick bigint, attempt int, node int)",
                )
                .execute(&pool)
                .await
                .expect("create the runs table");
                Runs::Postgres(pool, queue.to_owned())
            }
            _ => {
                let conn = drover_redis::connect(&redis_url()).await.expect("connect to Redis");
                Runs::Redis(conn, format!("drover-test:cron-runs:{queue}"))
            }
        }
    }

    async fn record(&self, tick: i64, attempt: u32, node: u32) -> Result<(), BoxDynError> {
        match self {
            Runs::Postgres(pool, queue) => {
                sqlx::query("INSERT INTO drover_test_cron_runs VALUES ($1, $2, $3, $4)")
                    .bind(queue)
                    .bind(tick)
                    .bind(i32::try_from(attempt)?)
                    .bind(i32::try_from(node)?)
                    .execute(pool)
                    .await?;
            }
            Runs::Redis(conn, key) => {
                let mut conn = conn.clone();
                let () = conn.rpush(key, format!("{tick}:{attempt}:{node}")).await?;
            }
        }
        Ok(())
    }

    async fn all(&self) -> Vec<(i64, u32, u32)> {
        match self {
            Runs::Postgres(pool, queue) => {
                let rows: Vec<(i64, i32, i32)> =
                    sqlx::query_as("SELECT tick, attempt, node FROM drover_test_cron_runs WHERE queue = $1")
                        .bind(queue)
                        .fetch_all(pool)
                        .await
                        .unwrap();
                rows.into_iter().map(|(t, a, n)| (t, a as u32, n as u32)).collect()
            }
            Runs::Redis(conn, key) => {
                let mut conn = conn.clone();
                let items: Vec<String> = conn.lrange(key, 0, -1).await.unwrap();
                items
                    .iter()
                    .map(|s| {
                        let parts: Vec<&str> = s.split(':').collect();
                        (parts[0].parse().unwrap(), parts[1].parse().unwrap(), parts[2].parse().unwrap())
                    })
                    .collect()
            }
        }
    }
}

async fn beat(_job: Beat, tick: Tick, attempt: Attempt, runs: Data<Runs>, node: Data<u32>) -> Result<(), BoxDynError> {
    runs.record(tick.at().timestamp_millis(), attempt.0, *node).await
}

/// One node: the schedule's pipe and a worker, until SIGINT (or SIGKILL).
async fn node<S>(storage: S, runs: Runs, node: u32)
where
    S: PushTicks<Job = Beat> + Inspect,
{
    let job = CronJob::<Beat>::new(SCHEDULE, Schedule::every(Duration::from_secs(1)).unwrap()).unwrap();
    let worker = WorkerBuilder::new(format!("node-{node}"))
        .backend(storage.clone())
        .concurrency(CONCURRENCY)
        .lease(LEASE)
        .data(runs)
        .data(node)
        .build_fn(beat);
    Monitor::new()
        .register(job.pipe_to(storage))
        .register(worker)
        .run_with_signal(tokio::signal::ctrl_c())
        .await
        .unwrap();
}

async fn postgres_storage(queue: &str) -> PostgresStorage<Beat> {
    let Runs::Postgres(pool, _) = Runs::open("postgres", queue).await else { unreachable!() };
    PostgresStorage::new_with_config(pool, PostgresConfig::new(queue))
}

async fn redis_storage(queue: &str) -> RedisStorage<Beat> {
    let conn = drover_redis::connect(&redis_url()).await.expect("connect to Redis");
    RedisStorage::new_with_config(conn, RedisConfig::default().set_namespace(queue))
}

/// Not a test of its own: the node process the two tests start (this binary, re-executed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by the node tests"]
async fn child_node_process() {
    let (Ok(backend), Ok(queue), Ok(n)) = (std::env::var(BACKEND), std::env::var(QUEUE), std::env::var(NODE)) else {
        return;
    };
    let n: u32 = n.parse().unwrap();
    let runs = Runs::open(&backend, &queue).await;
    match backend.as_str() {
        "postgres" => node(postgres_storage(&queue).await, runs, n).await,
        _ => node(redis_storage(&queue).await, runs, n).await,
    }
}

fn start_node(backend: &str, queue: &str, n: u32) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_node_process", "--ignored", "--nocapture"])
        .env(BACKEND, backend)
        .env(QUEUE, queue)
        .env(NODE, n.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start a node process")
}

fn interrupt(child: &Child) {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("run kill -INT");
    assert!(status.success(), "kill -INT {} failed", child.id());
}

async fn three_nodes<S>(backend: &str, storage: S, queue: &str)
where
    S: PushTicks<Job = Beat> + Inspect,
{
    let secs = test_secs();
    let runs = Runs::open(backend, queue).await;
    let mut nodes: Vec<Child> = (0..3).map(|n| start_node(backend, queue, n)).collect();
    tokio::time::sleep(Duration::from_secs(secs / 2)).await;
    // kill -9 of node 0 midway: no shutdown, no hand-back, no completion.
    nodes[0].kill().expect("SIGKILL node 0");
    let killed_at = chrono::Utc::now();
    assert!(!nodes[0].wait().unwrap().success());
    tokio::time::sleep(Duration::from_secs(secs - secs / 2)).await;
    for child in &nodes[1..] {
        interrupt(child);
    }
    for child in &mut nodes[1..] {
        let status = child.wait().unwrap();
        assert!(status.success(), "a node stopped by SIGINT must exit cleanly: {status}");
    }

    // Run what the nodes left pending (pushed just before they stopped) in this process.
    let drain = WorkerBuilder::new("drain")
        .backend(storage.clone())
        .concurrency(CONCURRENCY)
        .lease(LEASE)
        .data(runs.clone())
        .data(9_u32)
        .build_fn(beat);
    let probe = storage.clone();
    drain
        .run_until(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while tokio::time::Instant::now() < deadline {
                let stats = probe.stats().await.unwrap();
                if stats.pending == 0 && stats.running == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .unwrap();

    // Every tick has one task, one second apart, none missed across the kill.
    let tasks = storage.list(ListQuery::new(None, 10_000)).await.unwrap();
    let mut ticks: Vec<i64> = tasks
        .iter()
        .map(|t| Tick::of(t.id).unwrap_or_else(|| panic!("task {} is not a tick's", t.id)).at().timestamp_millis())
        .collect();
    ticks.sort_unstable();
    let n = ticks.len();
    assert!(n as u64 >= secs - 5, "{n} ticks in {secs} s: ticks were missed");
    for pair in ticks.windows(2) {
        assert_eq!(pair[1] - pair[0], 1000, "ticks must be one second apart, none missed or doubled: {pair:?}");
    }
    let unfinished: Vec<_> = tasks.iter().filter(|t| t.status != Status::Done).collect();
    assert!(unfinished.is_empty(), "every tick's task must be done: {unfinished:?}");
    let record = storage.tick_record(SCHEDULE).await.unwrap().expect("the schedule's record");
    assert_eq!(record.last_tick.timestamp_millis(), ticks[n - 1], "the record holds the newest tick");

    // Each task ran once per attempt. Only a task the killed node held may differ from one run
    // as attempt 1: run again as attempt 2 (its first run's ack died with the node), or run
    // only as attempt 2 (the node had claimed it and not started it).
    let mut by_tick: BTreeMap<i64, Vec<(u32, u32)>> = BTreeMap::new();
    for (tick, attempt, node) in runs.all().await {
        by_tick.entry(tick).or_default().push((attempt, node));
    }
    assert_eq!(by_tick.keys().copied().collect::<Vec<_>>(), ticks, "every tick's task ran, and no other");
    let mut again = Vec::new();
    for (tick, runs) in &by_tick {
        let mut attempts: Vec<u32> = runs.iter().map(|(a, _)| *a).collect();
        attempts.sort_unstable();
        attempts.dedup();
        assert_eq!(attempts.len(), runs.len(), "tick {tick} ran {runs:?}: an attempt ran twice");
        if attempts != [1] {
            again.push((*tick, runs.clone()));
        }
    }
    assert!(
        again.len() <= CONCURRENCY,
        "only tasks the killed node held (at most {CONCURRENCY}) may run other than once, got {again:?}"
    );
    for (tick, runs) in &again {
        assert!(
            runs.iter().all(|(a, n)| *a > 1 || *n == 0),
            "tick {tick}: {runs:?}: a first run not on the killed node"
        );
        assert!((tick - killed_at.timestamp_millis()).abs() < 5_000, "tick {tick} re-ran far from the kill: {runs:?}");
    }
    let nodes_ran: std::collections::BTreeSet<u32> = by_tick.values().flatten().map(|(_, n)| *n).collect();
    println!("{backend}: {n} ticks in {secs} s, run by nodes {nodes_ran:?}; re-run after the kill: {again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_postgres_nodes_push_and_run_each_tick_once() {
    let queue = format!("cron-nodes-{}", drover_core::TaskId::new());
    three_nodes("postgres", postgres_storage(&queue).await, &queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_redis_nodes_push_and_run_each_tick_once() {
    let queue = format!("cron-nodes-{}", drover_core::TaskId::new());
    three_nodes("redis", redis_storage(&queue).await, &queue).await;
}
