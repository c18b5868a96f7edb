//! The RabbitMQ bench: each run gets a fresh queue on the broker at `AMQP_URL`, declared with
//! `x-expires` so the broker removes the bench's queues once they are unused. `amqp` uses
//! classic queues (the default), `amqp-quorum` quorum queues (on one node here, so the figure is
//! the cost of the Raft log without replication traffic).

use std::time::Duration;

use drover_amqp::{AmqpConfig, AmqpStorage, QueueType};

use super::suite::{run_suite, BenchJob, Measurement, Workload};

pub async fn run(
    workload: &Workload,
    on_result: impl FnMut(&Measurement),
    queue_type: QueueType,
) -> anyhow::Result<()> {
    run_suite(workload, on_result, |queue| async move {
        let config = AmqpConfig::from_env(queue).set_queue_type(queue_type).set_queue_expires(Duration::from_secs(120));
        AmqpStorage::<BenchJob>::connect(config)
            .await
            .map_err(|e| anyhow::anyhow!("{e} (start RabbitMQ with `cargo xtask services`, or set AMQP_URL)"))
    })
    .await
}
