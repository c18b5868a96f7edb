//! Quorum queues against the real RabbitMQ at `AMQP_URL`: the broker's delivery limit dead-letters
//! a message whose consumer dies on every delivery (before Drover could count the attempt), and
//! a queue cannot change its type.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_amqp::{AmqpConfig, AmqpStorage, QueueType};
use drover_conformance::wait_until;
use drover_core::{Attempt, BackendError, BoxDynError, Data, Enqueue, TaskId, WorkerBuilder};
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Job {
    n: u64,
}

fn quorum(queue: &str) -> AmqpConfig {
    AmqpConfig::from_env(queue).set_queue_type(QueueType::Quorum).set_queue_expires(Duration::from_secs(300))
}

async fn raw_connection(config: &AmqpConfig) -> Connection {
    Connection::connect(config.url(), ConnectionProperties::default()).await.expect("connect to RabbitMQ")
}

/// Delete the queues a test declared (they would expire anyway).
async fn delete_queues(config: &AmqpConfig, names: &[String]) {
    let connection = raw_connection(config).await;
    let channel = connection.create_channel().await.unwrap();
    for name in names {
        let _ = channel.queue_delete(name.as_str().into(), QueueDeleteOptions::default()).await;
    }
    let _ = connection.close(200, "done".into()).await;
}

type Seen = Arc<Mutex<Vec<(u64, u32)>>>;

async fn record(job: Job, seen: Data<Seen>, attempt: Attempt) -> Result<(), BoxDynError> {
    seen.lock().unwrap().push((job.n, attempt.0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_consumer_dies_on_every_delivery_is_dead_lettered_by_the_delivery_limit() {
    let queue = format!("quorum-limit-{}", TaskId::new());
    let config = quorum(&queue).set_delivery_limit(2);
    let storage: AmqpStorage<Job> = AmqpStorage::connect(config.clone()).await.expect("connect to RabbitMQ");
    storage.push(Job { n: 7 }).await.unwrap();

    // A consumer that dies on every delivery: it takes the message and its connection goes
    // away without an ack, so the broker returns the message to the queue each time.
    let mut deliveries = Vec::new();
    for _ in 0..10 {
        let connection = raw_connection(&config).await;
        let channel = connection.create_channel().await.unwrap();
        channel.basic_qos(1, BasicQosOptions { global: false }).await.unwrap();
        let mut consumer = channel
            .basic_consume(queue.as_str().into(), "dies".into(), BasicConsumeOptions::default(), FieldTable::default())
            .await
            .unwrap();
        let next = tokio::time::timeout(Duration::from_millis(1500), consumer.next()).await;
        let _ = connection.close(320, "the worker died".into()).await;
        let Ok(Some(delivery)) = next else { break };
        let delivery = delivery.unwrap();
        let count = delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(&ShortString::from("x-delivery-count")).cloned());
        deliveries.push((delivery.redelivered, count));
    }
    assert_eq!(deliveries.len(), 3, "a delivery limit of 2 allows 3 deliveries: {deliveries:?}");
    assert!(!deliveries[0].0 && deliveries[1].0 && deliveries[2].0, "{deliveries:?}");
    assert_eq!(deliveries[2].1, Some(AMQPValue::LongLongInt(2)), "the broker counted the returns: {deliveries:?}");

    let mut depths = storage.queue_depths().await.unwrap();
    for _ in 0..100 {
        if depths.dead == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        depths = storage.queue_depths().await.unwrap();
    }
    assert_eq!((depths.ready, depths.dead), (0, 1), "the message must be in `<queue>.dead`: {depths:?}");

    // The dead task is an ordinary Drover dead task: requeued, it runs.
    assert_eq!(storage.requeue_dead(10).await.unwrap(), 1);
    let seen = Seen::default();
    let worker = WorkerBuilder::new("after-limit").backend(storage.clone()).concurrency(1).data(seen.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.build_fn(record).run_until(async move {
        let _ = stopped.await;
    }));
    wait_until("the requeued task ran", Duration::from_secs(20), || !seen.lock().unwrap().is_empty()).await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    assert_eq!(seen.lock().unwrap()[0].0, 7);
    storage.close().await.unwrap();
    delete_queues(&config, &[queue.clone(), format!("{queue}.dead")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_queue_cannot_be_opened_as_quorum() {
    let queue = format!("quorum-type-{}", TaskId::new());
    let classic = AmqpConfig::from_env(&queue).set_queue_expires(Duration::from_secs(300));
    let storage: AmqpStorage<Job> = AmqpStorage::connect(classic.clone()).await.expect("connect to RabbitMQ");
    storage.close().await.unwrap();

    let error = match AmqpStorage::<Job>::connect(quorum(&queue)).await {
        Ok(_) => panic!("a classic queue must not open as a quorum queue"),
        Err(error) => error,
    };
    let text = error.to_string();
    assert!(matches!(error, BackendError::Config(_)), "{error:?}");
    assert!(
        text.contains(&format!("`{queue}`")) && text.contains("delete") && text.contains("another queue name"),
        "{text}"
    );
    delete_queues(&classic, &[queue.clone(), format!("{queue}.dead")]).await;
}
