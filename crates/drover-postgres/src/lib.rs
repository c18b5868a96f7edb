//! PostgreSQL storage for Drover (docs to come).

mod backend;
mod config;
mod enqueue;
mod error;
mod inspect;
mod listener;
mod migrate;
mod retention;
mod storage;

pub use config::{ClaimCommit, PostgresConfig, Retention};
pub use inspect::WorkerInfo;
pub use retention::Pruned;
pub use storage::PostgresStorage;
