#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
use std::time::{Duration, Instant};

use drover_core::{Backend, ClaimRequest, Completion, Enqueue, Outcome, TaskId};
use drover_postgres::{PostgresConfig, PostgresStorage};
use sqlx::postgres::PgPoolOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = PgPoolOptions::new().max_connections(10).connect(&url).await?;
    PostgresStorage::setup(&pool).await?;
    let s: PostgresStorage<serde_json::Value> =
        PostgresStorage::new_with_config(pool, PostgresConfig::new(format!("diag-{}", TaskId::new())).set_claim_commit(if std::env::var("ASYNC").is_ok() { drover_postgres::ClaimCommit::Asynchronous } else { drover_postgres::ClaimCommit::Synchronous }));
    let t = Instant::now();
    s.push_bulk((0..10_000).map(|i| serde_json::json!({"id": i, "to": format!("user{i}@example.com")}))).await?;
    println!("bulk 10k: {:?}", t.elapsed());
    let mut claim_t = Duration::ZERO;
    let mut comp_t = Duration::ZERO;
    let mut n = 0;
    let t = Instant::now();
    loop {
        let c0 = Instant::now();
        let got = s.claim(ClaimRequest::new("diag", 10, Duration::from_secs(30))).await?;
        claim_t += c0.elapsed();
        if got.is_empty() {
            break;
        }
        n += got.len();
        let c1 = Instant::now();
        s.complete(got.iter().map(|t| Completion { lease: t.lease(), outcome: Outcome::Done }).collect()).await?;
        comp_t += c1.elapsed();
    }
    println!("{n} sequential claim(10)+complete: {:?}; claims {:?}, completes {:?}", t.elapsed(), claim_t, comp_t);
    Ok(())
}
