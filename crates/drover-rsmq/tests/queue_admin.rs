//! Queue creation and deletion, attributes, refused push options, and the dead queue's
//! round trip, against the Redis server at `REDIS_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use drover_core::{Backend, BackendError, ClaimRequest, Completion, Enqueue, Outcome, PushOptions, Requeue};
use drover_rsmq::{RsmqConfig, RsmqStorage};

#[tokio::test]
async fn create_and_delete_follow_rsmq() {
    let ns = common::fresh_namespace("admin");
    let storage: RsmqStorage<u32> =
        common::storage(RsmqConfig::new("made").set_namespace(&ns).set_vt(60).set_delay(0).set_maxsize(2048)).await;
    assert_eq!(storage.attributes().await.unwrap(), None, "no queue before the first push or create");
    assert!(storage.create_queue().await.unwrap());
    assert!(!storage.create_queue().await.unwrap(), "creating twice is a no-op");
    let attrs = storage.attributes().await.unwrap().unwrap();
    assert_eq!((attrs.vt, attrs.delay, attrs.maxsize, attrs.msgs, attrs.totalsent), (60, 0, 2048, 0, 0));
    storage.push(1).await.unwrap();
    assert_eq!(storage.attributes().await.unwrap().unwrap().msgs, 1);
    assert!(storage.delete_queue().await.unwrap());
    assert!(!storage.delete_queue().await.unwrap());
    assert_eq!(storage.attributes().await.unwrap(), None);
    assert!(storage.claim(ClaimRequest::new("t", 10, Duration::from_secs(5))).await.unwrap().is_empty());
}

#[tokio::test]
async fn options_rsmq_cannot_hold_are_refused() {
    let ns = common::fresh_namespace("admin");
    let storage: RsmqStorage<u32> = common::storage(RsmqConfig::new("opts").set_namespace(&ns)).await;
    let err = storage.push_with(1, PushOptions::new().priority(5)).await.unwrap_err();
    assert!(matches!(err, BackendError::Unsupported(_)) && err.to_string().contains("priorit"), "{err}");
    let err = storage.push_with(1, PushOptions::new().unique_key("k")).await.unwrap_err();
    assert!(matches!(err, BackendError::Unsupported(_)) && err.to_string().contains("unique key"), "{err}");
    assert_eq!(storage.attributes().await.unwrap(), None, "a refused push sends nothing");
    let conn = drover_rsmq::connect(&common::redis_url()).await.unwrap();
    let err = RsmqStorage::<u32>::new(conn, RsmqConfig::new("bad name")).unwrap_err();
    assert!(matches!(err, BackendError::Config(_)) && err.to_string().contains("A-Z a-z 0-9"), "{err}");
}

#[tokio::test]
async fn dead_messages_keep_body_and_attempt_limit_through_requeue() {
    let ns = common::fresh_namespace("admin");
    let storage: RsmqStorage<String> =
        common::storage(RsmqConfig::new("jobs").set_namespace(&ns).set_dead_queue("graveyard")).await;
    let id = storage.push_with("ünïcode \"job\"".to_owned(), PushOptions::new().max_attempts(2)).await.unwrap();
    let claim = || storage.claim(ClaimRequest::new("t", 1, Duration::from_secs(30)));
    let first = claim().await.unwrap();
    assert_eq!((first[0].id, first[0].max_attempts), (id, 2));
    storage
        .complete(vec![Completion { lease: first[0].lease(), outcome: Outcome::Dead { error: "bad".into() } }])
        .await
        .unwrap();
    let dead = storage.dead_attributes().await.unwrap().unwrap();
    assert_eq!((dead.msgs, dead.totalsent), (1, 1));
    assert!(storage.requeue(id).await.unwrap());
    assert!(!storage.requeue(id).await.unwrap(), "already back in the queue");
    let again = claim().await.unwrap();
    assert_eq!((again[0].id, again[0].attempt, again[0].max_attempts), (id, 1, 2));
    assert_eq!(again[0].payload, serde_json::to_vec("ünïcode \"job\"").unwrap());
    assert_eq!(storage.dead_attributes().await.unwrap().unwrap().msgs, 0);
}
