//! The conformance suite on quorum queues (`QueueType::Quorum`: work, dead and delay queues)
//! against the real RabbitMQ at `AMQP_URL` (default amqp://guest:guest@127.0.0.1:5672/%2f,
//! RabbitMQ 3.10 or later): the same groups as tests/conformance.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use drover_amqp::{AmqpConfig, AmqpStorage, QueueType};
use drover_conformance::TestJob;
use drover_core::TaskId;

async fn backend() -> AmqpStorage<TestJob> {
    // A queue of its own per check; the broker deletes it once unused.
    let config = AmqpConfig::from_env(format!("confq-{}", TaskId::new()))
        .set_queue_type(QueueType::Quorum)
        .set_queue_expires(Duration::from_secs(300));
    AmqpStorage::connect(config)
        .await
        .expect("connect to RabbitMQ (AMQP_URL); start it with `rabbitmq-server -detached`")
}

drover_conformance::conformance_tests!(backend; core, refuses_priorities, refuses_unique_keys, refuses_concurrency_keys, requeue, batches);
