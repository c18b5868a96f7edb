//! The SQL side: migrations under concurrency, `drover.push_job` through the real psql,
//! wake-ups from another connection, unique keys in bulk, retention.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use drover_conformance::TestJob;
use drover_core::{
    Backend, BoxDynError, ClaimRequest, Completion, Enqueue, Inspect, NewTask, Outcome, PushOptions, Status, TaskId,
    WorkerBuilder,
};
use drover_postgres::{PostgresConfig, PostgresStorage, Retention};

fn psql(sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([&common::url(), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("run psql (the PostgreSQL client)");
    assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_is_rerunnable_and_safe_in_parallel() {
    let url = common::url();
    let runs = (0..6).map(|_| {
        let url = url.clone();
        tokio::spawn(async move {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            PostgresStorage::setup(&pool).await
        })
    });
    for run in runs {
        run.await.unwrap().expect("concurrent setup");
    }
    let version: i32 = psql("SELECT max(version) FROM drover.schema_migrations").parse().unwrap();
    assert_eq!(version, PostgresStorage::schema_version());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_job_from_psql_is_a_normal_task() {
    let storage: PostgresStorage<TestJob> = common::storage("psql").await;
    let queue = storage.queue().to_owned();
    let id: TaskId = psql(&format!("SELECT drover.push_job('{queue}', '{{\"n\": 7}}')")).parse().expect("a task id");
    let info = storage.get(id).await.unwrap().expect("the pushed task");
    assert_eq!((info.status, info.attempt, info.max_attempts, info.priority), (Status::Pending, 0, 25, 0));
    assert!(id.created_at() <= chrono::Utc::now() + chrono::Duration::seconds(1), "ids carry their creation time");

    // Options: unique key (a duplicate returns the same id), priority, attempts, run time.
    let first =
        psql(&format!("SELECT drover.push_job('{queue}', '{{\"n\": 8}}', now(), 5, 'only-once', max_attempts => 3)"));
    let again = psql(&format!("SELECT drover.push_job('{queue}', '{{\"n\": 9}}', unique_key => 'only-once')"));
    assert_eq!(first, again, "a duplicate unique key returns the live task's id");
    let later: TaskId =
        psql(&format!("SELECT drover.push_job('{queue}', '{{\"n\": 10}}', run_at => now() + interval '1 hour')"))
            .parse()
            .unwrap();
    assert!(storage.get(later).await.unwrap().unwrap().run_at > chrono::Utc::now() + chrono::Duration::minutes(59));

    let claimed = storage.claim(ClaimRequest::new("psql-test", 10, Duration::from_secs(30))).await.unwrap();
    let jobs: Vec<(u64, u32)> = claimed.iter().map(|t| (drover_conformance::decode(t).n, t.max_attempts)).collect();
    assert_eq!(jobs, vec![(8, 3), (7, 25)], "priority first; the scheduled job waits");
    let ids: Vec<TaskId> = claimed.iter().map(|t| t.id).collect();
    assert_eq!(ids[0], first.parse::<TaskId>().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_from_another_connection_wakes_an_idle_worker() {
    let storage: PostgresStorage<TestJob> = common::storage("notify").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let worker = WorkerBuilder::new("listener")
        .backend(storage.clone())
        // Polling alone would take a minute: only a wake-up can start the job sooner.
        .poll_interval(Duration::from_secs(60))
        .data(tx)
        .build_fn(|job: TestJob, tx: drover_core::Data<tokio::sync::mpsc::UnboundedSender<u64>>| async move {
            let _ = tx.send(job.n);
            Ok::<(), BoxDynError>(())
        });
    let handle = tokio::spawn(worker.run_until(tokio::time::sleep(Duration::from_secs(3600))));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queue = storage.queue().to_owned();
    tokio::task::spawn_blocking(move || psql(&format!("SELECT drover.push_job('{queue}', '{{\"n\": 42}}')")))
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("woken by NOTIFY, not polling");
    assert_eq!(n, Some(42));
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_pushes_with_unique_keys_span_chunks() {
    let pool = common::pool().await;
    let storage: PostgresStorage<TestJob> =
        PostgresStorage::new_with_config(pool, PostgresConfig::new(common::queue("bulk-unique")).set_enqueue_chunk(7));
    let live = storage.push_with(TestJob::ok(0), PushOptions::new().unique_key("k-0")).await.unwrap();
    let tasks: Vec<NewTask> = (0..30u64)
        .map(|n| {
            let options = PushOptions::new().unique_key(format!("k-{}", n % 10));
            NewTask::new(serde_json::to_vec(&TestJob::ok(n)).unwrap(), options)
        })
        .collect();
    let ids = storage.enqueue(tasks).await.unwrap();
    assert_eq!(ids.len(), 30);
    assert_eq!(ids[0], live, "a key held by a live task returns its id");
    for n in 0..30 {
        assert_eq!(ids[n], ids[n % 10], "every duplicate, in or across chunks, returns the first holder");
    }
    assert_eq!(storage.stats().await.unwrap().pending, 10);

    // Plain bulk pushes larger than a chunk are all or nothing, in order.
    let plain = storage.push_bulk((100..150).map(TestJob::ok)).await.unwrap();
    assert_eq!(plain.len(), 50);
    assert_eq!(storage.stats().await.unwrap().pending, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_old_finished_tasks_in_batches() {
    let pool = common::pool().await;
    let retention = Retention::default().done(Some(Duration::from_secs(3600))).dead(None).batch(4);
    let storage: PostgresStorage<TestJob> = PostgresStorage::new_with_config(
        pool.clone(),
        PostgresConfig::new(common::queue("prune")).set_retention(retention),
    );
    storage.push_bulk((0..12).map(TestJob::ok)).await.unwrap();
    let claimed = storage.claim(ClaimRequest::new("pruner", 11, Duration::from_secs(30))).await.unwrap();
    let (done, dead) = claimed.split_at(9);
    let mut batch: Vec<Completion> =
        done.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect();
    batch.extend(dead.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Dead { error: "x".into() } }));
    storage.complete(batch).await.unwrap();
    // Eight of the nine done tasks finished two hours ago.
    let old: Vec<uuid::Uuid> = done[..8].iter().map(|t| uuid::Uuid::from_u128(t.id.to_u128())).collect();
    sqlx::query("UPDATE drover.tasks SET updated_at = now() - interval '2 hours' WHERE id = ANY($1)")
        .bind(&old)
        .execute(&pool)
        .await
        .unwrap();
    // Their ids say they were made just now; the cutoff must not hide them: age the ids too.
    let pruned = storage.prune().await.unwrap();
    assert_eq!(pruned.total(), 0, "tasks created within the retention age are kept whatever updated_at says");
    sqlx::query(
        "UPDATE drover.tasks SET id = ('00000000' || substr(replace(id::text, '-', ''), 9))::uuid WHERE id = ANY($1)",
    )
    .bind(&old)
    .execute(&pool)
    .await
    .unwrap();
    let pruned = storage.prune().await.unwrap();
    assert_eq!((pruned.done, pruned.dead), (8, 0), "old done tasks go (in batches of 4); dead ones are kept");
    let stats = storage.stats().await.unwrap();
    assert_eq!((stats.done, stats.dead, stats.pending), (1, 2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_of_plain_tasks_goes_through_copy_intact() {
    // 300 plain tasks due now take the COPY path: ids, payloads, priorities and attempt limits
    // must come back exactly, and the claim order must follow the priorities.
    let pool = common::pool().await;
    let storage: PostgresStorage<TestJob> =
        PostgresStorage::new_with_config(pool.clone(), PostgresConfig::new(common::queue("copy")));
    let tasks: Vec<NewTask> = (0..300u64)
        .map(|n| {
            let options = PushOptions::new()
                .priority(i32::try_from(n % 3).unwrap())
                .max_attempts(u32::try_from(n % 7 + 1).unwrap());
            NewTask::new(serde_json::to_vec(&TestJob::ok(n)).unwrap(), options)
        })
        .collect();
    let expected: std::collections::HashMap<TaskId, (Vec<u8>, u32)> =
        tasks.iter().map(|t| (t.id, (t.payload.clone(), t.max_attempts))).collect();
    let ids = storage.enqueue(tasks).await.unwrap();
    assert_eq!(ids.len(), 300);
    let claimed = storage.claim(ClaimRequest::new("copier", 300, Duration::from_secs(30))).await.unwrap();
    assert_eq!(claimed.len(), 300);
    for task in &claimed {
        let (payload, max_attempts) = &expected[&task.id];
        assert_eq!(&task.payload, payload);
        assert_eq!(task.max_attempts, *max_attempts);
        assert_eq!(task.attempt, 1);
    }
    let first: TestJob = serde_json::from_slice(&claimed[0].payload).unwrap();
    let last: TestJob = serde_json::from_slice(&claimed[299].payload).unwrap();
    assert_eq!((first.n % 3, last.n % 3), (2, 0), "claims follow priority: {first:?} .. {last:?}");
    let info = storage.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(info.status, Status::Running);
}

/// The database of the plan test: it needs statistics it controls (taken of an empty table).
const PLANS_DATABASE: &str = "drover_plans";

/// `url` with another database.
fn on_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// Run a psql script (from standard input, so `\gset` and `\echo` work) on `url`.
fn psql_script(url: &str, script: &str) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("psql")
        .args([url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run psql (the PostgreSQL client)");
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Completions, lease extensions and hand-backs find their tasks by primary key even when the
/// table's statistics are older than its backlog. They were taken of an empty table here, then
/// 300,000 running tasks arrive: planned with `status = 'running'`, each of those statements
/// hash-joined every running task through `tasks_running_lease_idx` (after a 1,000,000-task
/// push, 30 s per completion call, and the worker's claims ran far ahead of its acks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_by_id_use_the_primary_key_with_statistics_older_than_the_backlog() {
    let exists = psql(&format!("SELECT count(*) FROM pg_database WHERE datname = '{PLANS_DATABASE}'"));
    if exists == "0" {
        let created = std::process::Command::new("psql")
            .args([&common::url(), "-X", "-c", &format!("CREATE DATABASE {PLANS_DATABASE}")])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&created.stderr);
        assert!(created.status.success() || stderr.contains("already exists"), "create database: {stderr}");
    }
    let url = on_database(&common::url(), PLANS_DATABASE);
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    PostgresStorage::setup(&pool).await.unwrap();
    pool.close().await;
    psql_script(&url, "TRUNCATE drover.tasks CASCADE;\nANALYZE drover.tasks;\n");
    let statements = [
        (
            "complete",
            include_str!("../sql/complete.sql"),
            "array_fill(0::int2, array[500]), array_fill(0::int8, array[500]), array_fill(''::text, array[500]), 'x'",
        ),
        ("extend", include_str!("../sql/extend.sql"), "1000000"),
        ("release", include_str!("../sql/release.sql"), "'x'"),
    ];
    let mut script = String::from(
        "BEGIN;\n\
         INSERT INTO drover.tasks (id, queue, payload, status, lease_token, lease_expires_at)\n\
         SELECT gen_random_uuid(), 'plans', '\\x00', 'running', g, now() + interval '1 hour' FROM generate_series(1, 300000) g;\n\
         SELECT array_agg(id)::text AS ids, array_agg(lease_token)::text AS tokens\n\
         FROM (SELECT id, lease_token FROM drover.tasks LIMIT 500) AS s \\gset\n",
    );
    for (name, sql, rest) in statements {
        script.push_str(&format!(
            "PREPARE {name}_q AS {sql};\n\\echo =={name}==\nEXPLAIN (COSTS OFF) EXECUTE {name}_q(:'ids', :'tokens', {rest});\n"
        ));
    }
    script.push_str("ROLLBACK;\n");
    let out = psql_script(&url, &script);
    for (name, _, _) in statements {
        let plan = out.split(&format!("=={name}==")).nth(1).unwrap_or_default().split("==").next().unwrap_or_default();
        assert!(
            plan.contains("tasks_pkey") && !plan.contains("tasks_running_lease_idx"),
            "the {name} statement must find its tasks by primary key:\n{plan}"
        );
    }
}
