//! NATS JetStream storage for Drover (docs below are completed in a later commit).

mod config;
mod dead;
mod envelope;
mod inner;
mod names;
mod pump;
mod state;
mod storage;
mod ticks;
mod topology;

pub use config::{NatsConfig, NatsStorageType, DEFAULT_URL};
pub use storage::{NatsStorage, StreamDepths};
