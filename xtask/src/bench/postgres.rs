//! The PostgreSQL bench: one pool to the server at `DATABASE_URL`, the migrations applied
//! once, a fresh queue per run; each run's tasks are deleted when the next run starts, so the
//! table stays small. `run_pgbouncer` runs the same through PgBouncer in transaction mode.

use drover_core::Backend;
use drover_postgres::sqlx::{self, postgres::PgPoolOptions};
use drover_postgres::{ClaimCommit, PostgresConfig, PostgresStorage};

#[path = "../../../crates/drover-postgres/tests/common/pgbouncer.rs"]
mod pgbouncer;

use super::suite::{capped_drains, run_suite_cleaning, scale_drains, BenchJob, Measurement, Workload};

/// Delete the tasks of one bench queue.
const DELETE_QUEUE: &str = "DELETE FROM drover.tasks WHERE queue = $1";

/// The storage configuration: the defaults, unless `DROVER_BENCH_PG_CLAIM_COMMIT=async` asks
/// for a variant (to measure what it buys).
fn config(queue: String) -> anyhow::Result<PostgresConfig> {
    let mut config = PostgresConfig::new(queue);
    if std::env::var("DROVER_BENCH_PG_CLAIM_COMMIT").is_ok_and(|v| v == "async") {
        config = config.set_claim_commit(ClaimCommit::Asynchronous);
    }
    Ok(config)
}

pub async fn run(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    run_through(workload, on_result, &url, None).await
}

/// The same through PgBouncer 1.18 in transaction pooling mode (started here, with as many
/// server connections as the pool has, stopped at the end): storages with
/// `set_transaction_pooling(true)` and a `LISTEN` URL straight to the server. The cost of the
/// pooler, beside `run`'s figures.
pub async fn run_pgbouncer(workload: &Workload, on_result: impl FnMut(&Measurement)) -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let upstream = pgbouncer::Upstream::parse(&url).map_err(anyhow::Error::msg)?;
    let bouncer = pgbouncer::PgBouncer::start(&upstream, POOL).map_err(anyhow::Error::msg)?;
    eprintln!("PgBouncer (transaction pooling, {POOL} server connections) on port {}", bouncer.port());
    let result = run_through(workload, on_result, &url, Some(&bouncer.url())).await;
    drop(bouncer);
    result
}

/// Client connections (and PgBouncer's server connections).
const POOL: u32 = 16;

/// The suite with storages on a pool to `through` (PgBouncer) when given, else to `url`; the
/// set-up and cleaning always go straight to `url`.
async fn run_through(
    workload: &Workload,
    on_result: impl FnMut(&Measurement),
    url: &str,
    through: Option<&str>,
) -> anyhow::Result<()> {
    // No ping before each acquire: a round trip saved per statement (a broken connection then
    // fails one call, which the worker retries). See the drover-postgres docs, "Tuning".
    let connect = |url: String| async move {
        PgPoolOptions::new()
            .max_connections(POOL)
            .test_before_acquire(false)
            .connect(&url)
            .await
            .map_err(|e| anyhow::anyhow!("{e} (start PostgreSQL with `cargo xtask services`, or set DATABASE_URL)"))
    };
    let pool = connect(url.to_owned()).await?;
    let storage_pool = match through {
        Some(through) => connect(through.to_owned()).await?,
        None => pool.clone(),
    };
    PostgresStorage::setup(&pool).await?;
    sqlx::query("DELETE FROM drover.tasks WHERE queue LIKE 'bench\\_%'").execute(&pool).await?;
    sqlx::query("VACUUM ANALYZE drover.tasks").execute(&pool).await?;
    let mut on_result = on_result;
    let make = |queue: String| {
        let pool = storage_pool.clone();
        let listen = through.map(|_| url.to_owned());
        async move {
            let mut config = config(queue)?;
            if let Some(listen) = listen {
                config = config.set_transaction_pooling(true).set_listen_url(listen);
            }
            Ok(PostgresStorage::<BenchJob>::new_with_config(pool, config))
        }
    };
    let clean = |last: PostgresStorage<BenchJob>| {
        let pool = pool.clone();
        async move {
            sqlx::query(DELETE_QUEUE).bind(last.queue()).execute(&pool).await?;
            // What autovacuum does on a normal server (this CI server turns it off): each
            // run starts without the previous runs' dead rows.
            sqlx::query("VACUUM drover.tasks").execute(&pool).await?;
            Ok(())
        }
    };
    if let Some(big) = workload.scale {
        // No VACUUM during the drains: the backlog's dead rows stay, as they would between two
        // autovacuum runs (and on this CI server, which turns autovacuum off).
        return scale_drains(workload, big, &mut on_result, make, clean).await;
    }
    run_suite_cleaning(workload, &mut on_result, make, clean).await?;
    capped_drains(workload, &mut on_result, make, clean).await
}
