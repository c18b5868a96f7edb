//! Set-up and its errors: a missing pgmq says how to install it, a queue never set up says to
//! run `setup`, and a bad queue name is refused before any SQL runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use drover_core::{Backend, BackendError, ClaimRequest, Enqueue, Inspect};
use drover_pgmq::{PgmqConfig, PgmqStorage};
use sqlx::postgres::PgPoolOptions;

#[tokio::test]
async fn a_database_without_pgmq_is_told_how_to_install_it() {
    let database = common::queue("drover_no_pgmq");
    common::psql(&format!("CREATE DATABASE {database}")).await;
    let url = common::url();
    let (base, _) = url.rsplit_once('/').unwrap();
    let pool = PgPoolOptions::new().max_connections(1).connect(&format!("{base}/{database}")).await.unwrap();
    let storage: PgmqStorage<String> = PgmqStorage::new_with_config(pool.clone(), PgmqConfig::new("jobs"));
    let setup = storage.setup().await;
    let push = storage.push("x".to_owned()).await;
    pool.close().await;
    common::psql(&format!("DROP DATABASE {database}")).await;
    for result in [setup.map(|_| ()), push.map(|_| ())] {
        let Err(BackendError::Schema(message)) = result else { panic!("expected a Schema error, got {result:?}") };
        assert!(message.contains("pgmq 1.11 or newer is not installed"), "{message}");
        assert!(message.contains("CREATE EXTENSION pgmq") && message.contains("pgmq/sql/pgmq.sql"), "{message}");
    }
}

#[tokio::test]
async fn a_queue_never_set_up_says_to_run_setup() {
    let storage: PgmqStorage<String> =
        PgmqStorage::new_with_config(common::pool().await, PgmqConfig::new(common::queue("nosetup")));
    let Err(BackendError::Schema(message)) = storage.push("x".to_owned()).await else { panic!("expected Schema") };
    assert!(message.contains("does not exist") && message.contains("storage.setup()"), "{message}");
    storage.setup().await.unwrap();
    storage.setup().await.unwrap();
    storage.push("x".to_owned()).await.unwrap();
    assert_eq!(storage.stats().await.unwrap().pending, 1);
    storage.drop_queues().await.unwrap();
}

#[tokio::test]
async fn bad_queue_names_never_reach_sql() {
    let pool = common::pool().await;
    for name in ["jobs; DROP TABLE pgmq.meta", "Jobs", "a\"b", "", "x".repeat(43).as_str()] {
        let storage: PgmqStorage<String> = PgmqStorage::new_with_config(pool.clone(), PgmqConfig::new(name));
        let results = [
            storage.setup().await.map(|_| ()),
            storage.push("x".to_owned()).await.map(|_| ()),
            storage.claim(ClaimRequest::new("w", 1, std::time::Duration::from_secs(1))).await.map(|_| ()),
            storage.stats().await.map(|_| ()),
        ];
        for result in results {
            let Err(BackendError::Config(message)) = result else {
                panic!("{name:?}: expected Config, got {result:?}")
            };
            assert!(message.contains("cannot be a pgmq queue name"), "{message}");
        }
    }
    assert_eq!(common::psql("SELECT count(*) > 0 FROM pgmq.meta").await, "t", "pgmq.meta is still there");
}
