//! The whole conformance suite (and the admin contract's) through PgBouncer 1.18 in
//! transaction pooling mode, in front of the PostgreSQL server at `DATABASE_URL` (default
//! postgres://postgres@127.0.0.1:5432), database `drover_pgb` (created if missing): storages
//! with `set_transaction_pooling(true)` and a `LISTEN` URL straight to the server. One
//! PgBouncer serves every test of this binary with 4 server connections, so concurrent tests
//! and workers share them and a client's transactions really move between servers.
//!
//! Beside the suite: the default (direct) mode fails through this pooler (so the switch is
//! needed, and these tests would catch a regression in it), a concurrent drain loses
//! nothing, a drain survives PgBouncer killed with SIGKILL and restarted (both on PgBouncers
//! of their own), and wake-ups work from the `LISTEN` URL or by polling without one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/pgbouncer.rs"]
mod pgbouncer;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use drover_conformance::TestJob;
use drover_core::{BoxDynError, Data, Enqueue, TaskId, WorkerBuilder};
use drover_postgres::{PostgresAdmin, PostgresConfig, PostgresStorage};
use pgbouncer::{PgBouncer, Upstream};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// This binary's own database: other test binaries migrate the shared `test` database, and
/// a schema newer than this code is refused.
const DATABASE: &str = "drover_pgb";

/// Server connections each PgBouncer keeps: fewer than the clients, so that a client's
/// transactions move between servers; with 3, timed checks (`global_rate`) sometimes missed
/// their bounds on this busy 2-core machine while other checks held every server.
const SERVER_CONNECTIONS: u32 = 4;

/// The database straight on the server.
fn direct() -> Upstream {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    Upstream::parse(&url).unwrap_or_else(|e| panic!("DATABASE_URL: {e}")).with_database(DATABASE)
}

/// Create the database through the direct server, once per process.
async fn ensure_database() {
    static DONE: OnceLock<()> = OnceLock::new();
    if DONE.get().is_some() {
        return;
    }
    let server = direct().with_database("postgres").url();
    let pool = PgPoolOptions::new().max_connections(1).connect(&server).await.unwrap_or_else(|e| {
        panic!("cannot connect to PostgreSQL at {server}: {e}; start it with `cargo xtask services`")
    });
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(DATABASE)
        .fetch_optional(&pool)
        .await
        .unwrap();
    if exists.is_none() {
        // Another test may create it at the same moment: duplicate_database, unique_violation.
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}"))).execute(&pool).await {
            let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
            assert!(matches!(code.as_deref(), Some("42P04" | "23505")), "create database {DATABASE}: {e}");
        }
    }
    pool.close().await;
    let _ = DONE.set(());
}

/// The PgBouncer of this binary. A `static` is never dropped: its watchdog stops it when the
/// test process exits.
fn bouncer() -> &'static PgBouncer {
    static BOUNCER: OnceLock<PgBouncer> = OnceLock::new();
    BOUNCER.get_or_init(|| PgBouncer::start(&direct(), SERVER_CONNECTIONS).unwrap_or_else(|e| panic!("{e}")))
}

/// A pool through PgBouncer, the schema set up through it.
async fn pool(connections: u32) -> PgPool {
    ensure_database().await;
    let url = bouncer().url();
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect through PgBouncer at {url}: {e}\n{}", bouncer().log()));
    PostgresStorage::setup(&pool).await.expect("setup through PgBouncer");
    pool
}

/// The configuration every storage here uses: transaction pooling, `LISTEN` on the server.
fn config(queue: String) -> PostgresConfig {
    PostgresConfig::new(queue).set_transaction_pooling(true).set_listen_url(direct().url())
}

async fn backend() -> PostgresStorage<TestJob> {
    PostgresStorage::new_with_config(pool(4).await, config(format!("pgb-{}", TaskId::new())))
}

async fn admin() -> (PostgresAdmin, String) {
    let admin = PostgresAdmin::new(pool(4).await).set_transaction_pooling(true);
    (admin, format!("pgb_admin_{}", TaskId::new()))
}

drover_conformance::conformance_tests!(backend; core, priorities, unique_keys, cancel, requeue, inspect, transactions, prune, ticks, pause, global_concurrency, global_rate, key_concurrency, long_drain);
drover_conformance::admin_conformance_tests!(admin);

/// The default mode prepares named statements, one set per client connection: through a
/// transaction-mode pooler they land on whichever server runs that transaction, where
/// another client's statement of the same name exists already (or this one is missing). With
/// 8 client connections over 4 server connections, some pushes must fail; with the switch,
/// none does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_mode_fails_through_pgbouncer_and_the_switch_fixes_it() {
    let url = {
        pool(1).await.close().await;
        bouncer().url()
    };
    let mut failures = Vec::new();
    for pooled in [false, true] {
        let mut failed = Vec::new();
        for client in 0..8 {
            let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
            let config = PostgresConfig::new(format!("pgb-default-{}", TaskId::new()))
                .set_listen(false)
                .set_transaction_pooling(pooled);
            let storage: PostgresStorage<TestJob> = PostgresStorage::new_with_config(pool.clone(), config);
            for n in 0..3 {
                let pushed = tokio::time::timeout(Duration::from_secs(30), storage.push(TestJob::ok(n)))
                    .await
                    .expect("a push through PgBouncer hung");
                if let Err(e) = pushed {
                    failed.push(format!("client {client}: {e}"));
                }
            }
            pool.close().await;
        }
        failures.push(failed);
    }
    eprintln!(
        "through PgBouncer, {} of 24 pushes failed in the default mode ({} with the switch); the first: {:?}",
        failures[0].len(),
        failures[1].len(),
        failures[0].first()
    );
    assert!(
        failures[0].iter().any(|e| e.contains("prepared statement")),
        "the default mode should fail through PgBouncer in transaction mode (named prepared statements), \
         but every push succeeded or failed otherwise: {:?}",
        failures[0]
    );
    assert!(failures[1].is_empty(), "with set_transaction_pooling(true) every push succeeds: {:?}", failures[1]);
}

/// 6 producers and 2 workers (concurrency 8 each), 12 client connections on 4 server
/// connections of a PgBouncer of its own (so that the timed checks running beside it on the
/// shared one still get a server connection soon): every task runs, none is lost. No
/// `LISTEN` URL: the workers wake on their own process's pushes and poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_drain_through_pgbouncer_loses_nothing() {
    const PRODUCERS: u64 = 6;
    const EACH: u64 = 100;
    pool(1).await.close().await;
    let own = PgBouncer::start(&direct(), SERVER_CONNECTIONS).unwrap_or_else(|e| panic!("{e}"));
    let connect = || async {
        PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect(&own.url())
            .await
            .unwrap()
    };
    let queue = format!("pgb-drain-{}", TaskId::new());
    let seen: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..2 {
        let storage: PostgresStorage<TestJob> = PostgresStorage::new_with_config(
            connect().await,
            PostgresConfig::new(&queue).set_transaction_pooling(true),
        );
        let worker = WorkerBuilder::new(format!("pgb-drain-{w}"))
            .backend(storage)
            .concurrency(8)
            .poll_interval(Duration::from_millis(200))
            .data(seen.clone())
            .build_fn(|job: TestJob, seen: Data<Arc<Mutex<HashSet<u64>>>>| async move {
                seen.lock().unwrap().insert(job.n);
                Ok::<(), BoxDynError>(())
            });
        workers.push(tokio::spawn(worker.run_until(tokio::time::sleep(Duration::from_secs(3600)))));
    }
    let producer: PostgresStorage<TestJob> =
        PostgresStorage::new_with_config(connect().await, PostgresConfig::new(&queue).set_transaction_pooling(true));
    let pushes: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let producer = producer.clone();
            tokio::spawn(async move {
                // Half one by one, half in one bulk push.
                for n in 0..EACH / 2 {
                    producer.push(TestJob::ok(p * EACH + n)).await.expect("push through PgBouncer");
                }
                let bulk: Vec<TestJob> = (EACH / 2..EACH).map(|n| TestJob::ok(p * EACH + n)).collect();
                producer.push_bulk(bulk).await.expect("bulk push through PgBouncer");
            })
        })
        .collect();
    for push in pushes {
        push.await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let done = seen.lock().unwrap().len();
        if done == usize::try_from(PRODUCERS * EACH).unwrap() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {done} of {} tasks ran", PRODUCERS * EACH);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let missing: Vec<u64> = (0..PRODUCERS * EACH).filter(|n| !seen.lock().unwrap().contains(n)).collect();
    assert!(missing.is_empty(), "tasks never ran: {missing:?}");
    for worker in workers {
        worker.abort();
    }
    drop(own);
}

/// PgBouncer killed (SIGKILL) mid-drain and started again on its port half a second later:
/// every connection of the worker and the producer breaks; the worker keeps going and every
/// task runs (at least once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_survives_pgbouncer_being_killed_and_restarted() {
    const N: u64 = 400;
    pool(1).await.close().await;
    let mut own = PgBouncer::start(&direct(), SERVER_CONNECTIONS).unwrap_or_else(|e| panic!("{e}"));
    let connect = |url: String| async move {
        PgPoolOptions::new().max_connections(4).acquire_timeout(Duration::from_secs(30)).connect(&url).await.unwrap()
    };
    let queue = format!("pgb-kill-{}", TaskId::new());
    let config = PostgresConfig::new(&queue).set_transaction_pooling(true);
    let storage: PostgresStorage<TestJob> = PostgresStorage::new_with_config(connect(own.url()).await, config.clone());
    let producer: PostgresStorage<TestJob> = PostgresStorage::new_with_config(connect(own.url()).await, config);
    producer.push_bulk((0..N).map(TestJob::ok).collect::<Vec<_>>()).await.expect("bulk push through PgBouncer");
    let seen: Arc<Mutex<HashSet<u64>>> = Arc::default();
    // A short lease: a claim whose answer was lost in the kill comes back in 3 s.
    let worker = WorkerBuilder::new("pgb-kill")
        .backend(storage)
        .concurrency(4)
        .lease(Duration::from_secs(3))
        .poll_interval(Duration::from_millis(100))
        .data(seen.clone())
        .build_fn(|job: TestJob, seen: Data<Arc<Mutex<HashSet<u64>>>>| async move {
            // Slow enough that the kill lands mid-drain.
            tokio::time::sleep(Duration::from_millis(10)).await;
            seen.lock().unwrap().insert(job.n);
            Ok::<(), BoxDynError>(())
        });
    let handle = tokio::spawn(worker.run_until(tokio::time::sleep(Duration::from_secs(3600))));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().len() < usize::try_from(N / 4).unwrap() {
        assert!(tokio::time::Instant::now() < deadline, "the drain did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at_kill = seen.lock().unwrap().len();
    assert!(at_kill < usize::try_from(N).unwrap(), "the drain ended before the kill; make the jobs slower");
    let own = tokio::task::spawn_blocking(move || {
        own.restart(Duration::from_millis(500)).unwrap_or_else(|e| panic!("restart PgBouncer: {e}"));
        own
    })
    .await
    .unwrap();
    // Pushes go on through the new PgBouncer too.
    producer.push(TestJob::ok(N)).await.expect("a push after the restart");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = seen.lock().unwrap().len();
        if done == usize::try_from(N + 1).unwrap() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} of {} tasks ran after PgBouncer's restart (at the kill: {at_kill})\n{}",
            N + 1,
            own.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!handle.is_finished(), "the worker kept running");
    handle.abort();
    drop(own);
}

/// An idle worker that would poll only once a minute, and a push from another connection
/// straight to the server (`drover.push_job`): it runs at once if the wake-up arrives.
async fn wakes_within(config: PostgresConfig, poll: Duration, within: Duration) -> bool {
    let storage: PostgresStorage<TestJob> = PostgresStorage::new_with_config(pool(4).await, config);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let worker = WorkerBuilder::new("pgb-listener").backend(storage.clone()).poll_interval(poll).data(tx).build_fn(
        |job: TestJob, tx: Data<tokio::sync::mpsc::UnboundedSender<u64>>| async move {
            let _ = tx.send(job.n);
            Ok::<(), BoxDynError>(())
        },
    );
    let handle = tokio::spawn(worker.run_until(tokio::time::sleep(Duration::from_secs(3600))));
    // Let the worker claim nothing and go idle (and its listener connect).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let server = PgPoolOptions::new().max_connections(1).connect(&direct().url()).await.unwrap();
    let _: String = sqlx::query_scalar("SELECT drover.push_job($1, '{\"n\": 42}')")
        .bind(storage.config().queue().unwrap())
        .fetch_one(&server)
        .await
        .unwrap();
    let ran = tokio::time::timeout(within, rx.recv()).await;
    handle.abort();
    server.close().await;
    matches!(ran, Ok(Some(42)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listen_url_wakes_an_idle_worker_through_pgbouncer() {
    let config = config(format!("pgb-listen-{}", TaskId::new()));
    assert!(
        wakes_within(config, Duration::from_secs(60), Duration::from_secs(10)).await,
        "woken by NOTIFY on the listen URL, not by polling"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_listen_url_workers_poll_through_pgbouncer() {
    let config = PostgresConfig::new(format!("pgb-poll-{}", TaskId::new())).set_transaction_pooling(true);
    assert!(wakes_within(config, Duration::from_millis(300), Duration::from_secs(10)).await, "found by polling");
}
