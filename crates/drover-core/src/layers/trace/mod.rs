//! A `tracing` span around each job, with its outcome and duration logged.
//! `WorkerBuilder::enable_tracing` adds it.

mod layer;

pub use layer::{Trace, TraceLayer};
