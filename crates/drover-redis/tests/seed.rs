//! The production guide's §10 program ("Multiple Workers in One Process") as written: storages
//! from the plain constructor `RedisStorage::new`, one per job type, on one connection and one
//! Monitor. Every job must be done and none dead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use drover_conformance::seed::{self, Email, Report};
use drover_redis::RedisStorage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiple_workers_in_one_process() {
    let url = common::redis_url();
    // Earlier runs leave their finished tasks in these queues.
    let client = redis::Client::open(url.as_str()).expect("client");
    let mut admin = client.get_multiplexed_async_connection().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    for queue in ["email", "report"] {
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("drover:{{{queue}}}:*")).query_async(&mut admin).await.expect("KEYS");
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut admin).await.expect("DEL");
        }
    }
    let conn = drover_redis::connect(&url).await.expect("connect");
    let email_storage: RedisStorage<Email> = RedisStorage::new(conn.clone());
    let report_storage: RedisStorage<Report> = RedisStorage::new(conn);
    seed::multiple_workers_in_one_process(email_storage, report_storage).await;
}
