//! Turn a panicking job into an ordinary error, so layers above it (retry, metrics) see it.
//!
//! The worker runtime catches panics anyway (a panic never stops a worker); this layer is for
//! stacks that want to treat a panic like any other failure before it reaches the runtime.

mod layer;
mod service;

pub use crate::panic::PanicError;
pub use layer::CatchPanicLayer;
pub use service::CatchPanic;
