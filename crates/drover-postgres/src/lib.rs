//! PostgreSQL storage for Drover (docs to come).

mod backend;
mod config;
mod enqueue;
mod error;
mod inspect;
mod listener;
mod migrate;
mod prefetch;
mod retention;
mod storage;

pub use config::{ClaimCommit, PostgresConfig, Retention};
pub use inspect::WorkerInfo;
pub use retention::Pruned;
pub use storage::PostgresStorage;

/// The sqlx this crate is built with, so applications use the same version for their pool.
pub use sqlx;
