//! Key names. Every key of a queue starts with `drover:{<namespace>}`, so the namespace is the
//! Redis Cluster hash tag and one queue's keys share a slot (scripts may touch them together).

use std::time::Duration;

use crate::config::RedisConfig;

/// Milliseconds stored by the scripts stay below 10^14 (the year 5138), the most Lua prints
/// exactly.
pub(crate) const MAX_MS: i64 = 99_999_999_999_999;

/// The set of all queue namespaces, for listing queues. It lies outside every queue's slot, so
/// it is written by a command of its own, never inside a script.
pub(crate) const QUEUES_KEY: &str = "drover:queues";

/// The keys and fixed arguments every script call carries (see `scripts/common.lua`).
#[derive(Debug)]
pub(crate) struct Keys {
    pub(crate) prefix: String,
    pub(crate) channel: String,
    /// KEYS of every script, in the order `common.lua` reads them.
    pub(crate) script_keys: Vec<String>,
    /// The first six ARGV of every script.
    pub(crate) common_args: Vec<String>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(MAX_MS).min(MAX_MS)
}

impl Keys {
    pub(crate) fn new(config: &RedisConfig, queue: &str) -> Self {
        let prefix = format!("drover:{{{queue}}}");
        let names = ["ready", "scheduled", "leases", "ids", "done", "dead", "cancelled", "unique", "seq", "workers"];
        let script_keys = names.iter().map(|name| format!("{prefix}:{name}")).collect();
        let channel = format!("{prefix}:signal");
        let common_args = vec![
            prefix.clone(),
            channel.clone(),
            millis(config.done_ttl()).to_string(),
            config.done_cap().to_string(),
            millis(config.dead_ttl()).to_string(),
            config.dead_cap().to_string(),
        ];
        Self { prefix, channel, script_keys, common_args }
    }

    pub(crate) fn task(&self, id: &str) -> String {
        format!("{}:task:{id}", self.prefix)
    }

    pub(crate) fn leases(&self) -> &str {
        &self.script_keys[2]
    }

    pub(crate) fn workers(&self) -> &str {
        &self.script_keys[9]
    }

    /// A SCAN pattern matching every key of the queue (glob characters in the namespace are
    /// escaped).
    pub(crate) fn scan_pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.prefix.len() + 2);
        for c in self.prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push_str(":*");
        pattern
    }
}

/// Milliseconds for a script argument, clamped to what the scripts store exactly.
pub(crate) fn clamp_ms(ms: i64) -> i64 {
    ms.clamp(0, MAX_MS)
}

/// A duration in milliseconds for a script argument.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    millis(d)
}
