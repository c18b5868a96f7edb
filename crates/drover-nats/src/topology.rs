//! Connecting, and the streams and consumers of a queue, created when missing.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use drover_core::BackendError;

use crate::config::{NatsConfig, NatsStorageType};
use crate::names::{Names, PUMP_CONSUMER, WORK_CONSUMER};

/// What a storage holds of the server: the connection and the handles of its streams.
#[derive(Debug, Clone)]
pub(crate) struct Topology {
    pub(crate) client: async_nats::Client,
    pub(crate) js: Context,
    pub(crate) work: stream::Stream,
    pub(crate) delay: stream::Stream,
    pub(crate) dead: stream::Stream,
    /// The done stream, unless done records are off (`keep_done` zero).
    pub(crate) done: Option<stream::Stream>,
    pub(crate) consumer: PullConsumer,
    pub(crate) pump: PullConsumer,
}

/// Connect to the server, or to the first of a cluster's servers that answers (`url` may list
/// several, comma-separated). The client reconnects by itself after a server restart, forever,
/// to any server listed or announced by the cluster.
pub(crate) async fn connect(config: &NatsConfig) -> Result<async_nats::Client, BackendError> {
    let url = config.url().to_owned();
    let servers: Vec<&str> = url.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if servers.is_empty() {
        return Err(BackendError::Config(
            "the NATS URL is empty: give one server (`nats://127.0.0.1:4222`) or a cluster's, comma-separated".into(),
        ));
    }
    let connecting = async_nats::ConnectOptions::new()
        .connection_timeout(config.connect_timeout())
        .max_reconnects(None)
        .connect(servers);
    let client = match tokio::time::timeout(config.connect_timeout() + Duration::from_secs(1), connecting).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => return Err(unreachable(&url, e)),
        Err(_) => return Err(unreachable(&url, "timed out")),
    };
    if !client.server_info().jetstream {
        return Err(BackendError::Config(format!(
            "the NATS server at {url} does not have JetStream enabled: start it with `-js` \
             (for example `nats-server -js -sd /var/lib/nats-server`), or `jetstream {{}}` in its config file"
        )));
    }
    Ok(client)
}

fn unreachable(url: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::connection(
        "connect",
        format!(
            "could not reach the NATS server at {url} ({e}): start one with JetStream \
             (`nats-server -js`), or point NATS_URL at yours"
        ),
    )
}

fn storage_type(config: &NatsConfig) -> StorageType {
    match config.storage() {
        NatsStorageType::File => StorageType::File,
        NatsStorageType::Memory => StorageType::Memory,
    }
}

fn stream_config(config: &NatsConfig, name: &str, subject: String, retention: RetentionPolicy) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects: vec![subject],
        retention,
        storage: storage_type(config),
        num_replicas: config.replicas(),
        duplicate_window: config.duplicate_window(),
        ..Default::default()
    }
}

async fn ensure_stream(js: &Context, wanted: stream::Config) -> Result<stream::Stream, BackendError> {
    let name = wanted.name.clone();
    js.get_or_create_stream(wanted).await.map_err(|e| {
        BackendError::server(
            "create stream",
            format!("could not create or open the JetStream stream `{name}`: {e} (is JetStream enabled, with room for a new stream?)"),
        )
    })
}

async fn ensure_consumer(stream: &stream::Stream, wanted: pull::Config) -> Result<PullConsumer, BackendError> {
    let name = wanted.durable_name.clone().unwrap_or_default();
    let mut consumer: PullConsumer = stream
        .get_or_create_consumer(&name, wanted.clone())
        .await
        .map_err(|e| BackendError::server("create consumer", format!("could not create the consumer `{name}`: {e}")))?;
    let current = consumer.info().await.map_err(|e| BackendError::connection("consumer info", e))?.config.clone();
    let differs = current.ack_wait != wanted.ack_wait
        || current.max_deliver != wanted.max_deliver
        || current.max_ack_pending != wanted.max_ack_pending;
    if differs {
        // nats-server 2.9 has no consumer update call: creating the durable again with new
        // settings edits those it allows (ack_wait, max_deliver, max_ack_pending).
        consumer = stream.create_consumer(wanted).await.map_err(|e| {
            BackendError::server("update consumer", format!("could not update the consumer `{name}`: {e}"))
        })?;
    }
    Ok(consumer)
}

impl Topology {
    /// Connect, and create what is missing: the work, delay and dead streams and the two
    /// consumers.
    pub(crate) async fn open(config: &NatsConfig, names: &Names) -> Result<Self, BackendError> {
        let client = connect(config).await?;
        let js = jetstream::new(client.clone());
        let work = ensure_stream(
            &js,
            stream_config(config, &names.work_stream, names.ready_all(), RetentionPolicy::WorkQueue),
        )
        .await?;
        let delay = ensure_stream(
            &js,
            stream_config(config, &names.delay_stream, names.delay_all(), RetentionPolicy::WorkQueue),
        )
        .await?;
        let dead =
            ensure_stream(&js, stream_config(config, &names.dead_stream, names.dead_all(), RetentionPolicy::Limits))
                .await?;
        let done = if config.keep_done().is_zero() {
            None
        } else {
            let wanted = stream::Config {
                max_age: config.keep_done(),
                max_messages_per_subject: 1,
                ..stream_config(config, &names.done_stream, names.done_all(), RetentionPolicy::Limits)
            };
            let mut done = ensure_stream(&js, wanted.clone()).await?;
            let current = done.info().await.map_err(|e| BackendError::connection("stream info", e))?.config.max_age;
            if current != wanted.max_age {
                js.update_stream(wanted).await.map_err(|e| {
                    BackendError::server("update stream", format!("could not set the done stream's max_age: {e}"))
                })?;
            }
            Some(done)
        };
        let consumer = ensure_consumer(
            &work,
            pull::Config {
                durable_name: Some(WORK_CONSUMER.to_owned()),
                description: Some("Drover workers: claims are pulls".to_owned()),
                ack_policy: AckPolicy::Explicit,
                deliver_policy: DeliverPolicy::All,
                ack_wait: config.ack_wait(),
                max_deliver: config.max_deliver().unwrap_or(-1),
                max_ack_pending: config.max_ack_pending(),
                ..Default::default()
            },
        )
        .await?;
        let pump = ensure_consumer(
            &delay,
            pull::Config {
                durable_name: Some(PUMP_CONSUMER.to_owned()),
                description: Some("Drover delay pump: moves due tasks to the work stream".to_owned()),
                ack_policy: AckPolicy::Explicit,
                deliver_policy: DeliverPolicy::All,
                ack_wait: Duration::from_secs(30),
                max_deliver: -1,
                max_ack_pending: -1,
                ..Default::default()
            },
        )
        .await?;
        Ok(Self { client, js, work, delay, dead, done, consumer, pump })
    }
}
