//! The streams, consumers and subjects of one queue.

use drover_core::TaskId;

/// Names derived from the prefix `p` and the queue `q`.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    pub(crate) queue: String,
    /// `P_q`: the work-queue stream of due tasks.
    pub(crate) work_stream: String,
    /// `P_q_DELAY`: tasks waiting for their run time.
    pub(crate) delay_stream: String,
    /// `P_q_DEAD`: dead tasks.
    pub(crate) dead_stream: String,
    /// `P_q_DONE`: records of done tasks (limits retention, `max_age` = keep_done).
    pub(crate) done_stream: String,
    /// `p_q_ticks`: the KV bucket of cron schedules' last ticks.
    pub(crate) ticks_bucket: String,
    /// `p_q_unique`: the KV bucket of unique keys and the tasks holding them.
    pub(crate) unique_bucket: String,
    /// `p.q.ready`: `p.q.ready.<id>` holds one task.
    ready: String,
    delay: String,
    dead: String,
    done: String,
    /// `p.q.wake`: a core subject (in no stream) that tells workers work arrived.
    pub(crate) wake: String,
}

/// The durable pull consumer of the work stream that every worker of the queue shares.
pub(crate) const WORK_CONSUMER: &str = "drover_workers";
/// The durable pull consumer of the delay stream that moves due tasks to the work stream.
pub(crate) const PUMP_CONSUMER: &str = "drover_pump";

impl Names {
    pub(crate) fn new(prefix: &str, queue: &str) -> Self {
        let upper = prefix.to_ascii_uppercase();
        Self {
            queue: queue.to_owned(),
            work_stream: format!("{upper}_{queue}"),
            delay_stream: format!("{upper}_{queue}_DELAY"),
            dead_stream: format!("{upper}_{queue}_DEAD"),
            done_stream: format!("{upper}_{queue}_DONE"),
            ticks_bucket: format!("{prefix}_{queue}_ticks"),
            unique_bucket: format!("{prefix}_{queue}_unique"),
            ready: format!("{prefix}.{queue}.ready"),
            delay: format!("{prefix}.{queue}.delay"),
            dead: format!("{prefix}.{queue}.dead"),
            done: format!("{prefix}.{queue}.done"),
            wake: format!("{prefix}.{queue}.wake"),
        }
    }

    pub(crate) fn ready_all(&self) -> String {
        format!("{}.*", self.ready)
    }
    pub(crate) fn delay_all(&self) -> String {
        format!("{}.*", self.delay)
    }
    pub(crate) fn dead_all(&self) -> String {
        format!("{}.*", self.dead)
    }
    pub(crate) fn done_all(&self) -> String {
        format!("{}.*", self.done)
    }
    pub(crate) fn done_of(&self, id: TaskId) -> String {
        format!("{}.{id}", self.done)
    }
    pub(crate) fn ready_of(&self, id: TaskId) -> String {
        format!("{}.{id}", self.ready)
    }
    pub(crate) fn delay_of(&self, id: TaskId) -> String {
        format!("{}.{id}", self.delay)
    }
    pub(crate) fn dead_of(&self, id: TaskId) -> String {
        format!("{}.{id}", self.dead)
    }

    /// The server's advisory when a work message reaches `max_deliver`.
    pub(crate) fn max_deliveries_advisory(&self) -> String {
        format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.{WORK_CONSUMER}", self.work_stream)
    }
}

/// The task id in the last token of a subject.
pub(crate) fn id_of_subject(subject: &str) -> Option<TaskId> {
    subject.rsplit('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_queue() {
        let n = Names::new("drover", "email");
        assert_eq!(n.work_stream, "DROVER_email");
        assert_eq!(n.delay_stream, "DROVER_email_DELAY");
        assert_eq!(n.ready_all(), "drover.email.ready.*");
        let id = TaskId::new();
        assert_eq!(id_of_subject(&n.ready_of(id)), Some(id));
        assert_eq!(id_of_subject("drover.email.ready.nope"), None);
    }
}
