//! The tags this crate sets, on the job's scope (so every event of the job has them) and on
//! its transaction.

/// The queue the task was claimed from.
pub const QUEUE: &str = "queue";
/// The task's id.
pub const TASK_ID: &str = "task_id";
/// This attempt's number, starting at 1.
pub const ATTEMPT: &str = "attempt";
/// The name of the worker running the task.
pub const WORKER: &str = "worker";
/// How the run ended, as [`drover_core::RunOutcome`] names it: `done`, `retried`, `dead` or
/// `panicked`.
pub const OUTCOME: &str = "drover.outcome";
/// `true` when the task will run again after this failure, `false` when it is dead (or the run
/// succeeded). A panic is retried unless it was the last attempt.
pub const WILL_RETRY: &str = "drover.will_retry";
