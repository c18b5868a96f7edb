//! A `tracing` span around each job, with its outcome and duration logged.
//! `WorkerBuilder::enable_tracing` adds it.

mod layer;
mod service;

pub use layer::TraceLayer;
pub use service::Trace;
