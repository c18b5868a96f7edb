//! The keys and common script arguments of a queue, in rsmq's layout (see
//! `scripts/common.lua` for what each holds).

use crate::config::RsmqConfig;

/// Every script gets the same keys and leading arguments.
#[derive(Debug)]
pub(crate) struct Keys {
    /// `<ns>:<q>`, `<ns>:<q>:Q`, `<ns>:<q>:drover`, the same three of the dead queue, and
    /// `<ns>:QUEUES`.
    pub(crate) script_keys: Vec<String>,
    /// Queue name, dead queue name, realtime channels, default max attempts, and the vt,
    /// delay and maxsize of a queue Drover creates.
    pub(crate) common_args: Vec<String>,
    /// The queue's realtime channel, `<ns>:rt:<q>`.
    pub(crate) channel: String,
}

impl Keys {
    pub(crate) fn new(config: &RsmqConfig) -> Self {
        let ns = config.namespace();
        let queue = config.queue();
        let dead = config.dead_queue();
        let channel = format!("{ns}:rt:{queue}");
        let dead_channel = format!("{ns}:rt:{dead}");
        let (vt, delay, maxsize) = config.creation_attributes();
        let realtime = config.realtime();
        Self {
            script_keys: vec![
                format!("{ns}:{queue}"),
                format!("{ns}:{queue}:Q"),
                format!("{ns}:{queue}:drover"),
                format!("{ns}:{dead}"),
                format!("{ns}:{dead}:Q"),
                format!("{ns}:{dead}:drover"),
                format!("{ns}:QUEUES"),
            ],
            common_args: vec![
                queue.to_owned(),
                dead,
                if realtime { channel.clone() } else { String::new() },
                if realtime { dead_channel } else { String::new() },
                config.max_attempts().to_string(),
                vt.to_string(),
                delay.to_string(),
                maxsize.to_string(),
            ],
            channel,
        }
    }
}
