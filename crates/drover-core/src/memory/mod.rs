//! The in-memory backend: every capability, no server. For tests, doctests, examples and
//! single-process programs that can afford to lose their queue when they exit.

mod admin;
mod state;
mod storage;

pub use admin::MemoryAdmin;
pub use storage::{BufferedBatch, MemoryBatch, MemoryStorage};
