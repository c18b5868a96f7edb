//! The queues a storage declares, their arguments, and how a wait maps onto delay queues.
//!
//! Everything goes through the default exchange (routing key = queue name), so there is no
//! exchange to declare. For a queue `q`:
//! - `q`: the work queue, durable; consumers read it.
//! - `q.dead`: durable; dead tasks, with their last error in a header.
//! - `q.delay.<ms>`: durable, `x-message-ttl = <ms>`, `x-dead-letter-exchange = ""` and
//!   `x-dead-letter-routing-key = q`: a message waits there `<ms>` and then moves to `q`.
//!
//! With [`QueueType::Quorum`] all three are quorum queues; `q` also has `x-delivery-limit` and
//! dead-letters to `q.dead`, and dead-lettering is at least once.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use crate::config::{AmqpConfig, QueueType};

/// The longest single delay queue: about 24.8 days. Longer waits take several hops.
pub(crate) const MAX_BUCKET_MS: u64 = 1 << 31;

/// Where a message is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    /// The work queue: due now.
    Work,
    /// The delay queue with this TTL in milliseconds.
    Delay(u64),
    /// The dead-letter queue.
    Dead,
}

impl Route {
    /// The route of a message due at `run_at_ms` (epoch milliseconds) seen at `now_ms`.
    pub(crate) fn for_run_at(run_at_ms: Option<i64>, now_ms: i64) -> Self {
        match run_at_ms {
            Some(at) if at > now_ms => Route::Delay(bucket_ms(at.abs_diff(now_ms))),
            _ => Route::Work,
        }
    }
}

/// The delay queue for a wait of `remaining_ms`: the wait rounded DOWN to three significant
/// bits (so never late by rounding; at most ~4 queues per doubling of the wait). A message
/// whose wait is not over when it reaches the work queue is sent on to the next, smaller
/// bucket, so every wait is exact to the millisecond after at most a few hops (each hop at
/// least quarters the remaining wait).
pub(crate) fn bucket_ms(remaining_ms: u64) -> u64 {
    let remaining = remaining_ms.clamp(1, MAX_BUCKET_MS);
    if remaining < 8 {
        return remaining;
    }
    let shift = 63 - remaining.leading_zeros() - 2;
    (remaining >> shift) << shift
}

/// The names of one storage's queues.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    pub(crate) work: String,
    pub(crate) dead: String,
}

impl Names {
    pub(crate) fn new(queue: &str) -> Self {
        Self { work: queue.to_owned(), dead: format!("{queue}.dead") }
    }

    pub(crate) fn delay(&self, ms: u64) -> String {
        format!("{}.delay.{ms}", self.work)
    }

    /// The queue a route publishes to (through the default exchange).
    pub(crate) fn queue_of(&self, route: Route) -> String {
        match route {
            Route::Work => self.work.clone(),
            Route::Dead => self.dead.clone(),
            Route::Delay(ms) => self.delay(ms),
        }
    }
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The arguments every queue has. A classic queue is a version-2 classic queue: its index
/// writes persistent messages with far less disk work than version 1 (the default before
/// RabbitMQ 3.12), which raises publish and ack throughput by half here. A quorum queue has
/// `x-queue-type = quorum` (and no queue version, which is a classic queue's argument).
fn with_expiry(config: &AmqpConfig, mut args: FieldTable) -> FieldTable {
    match config.queue_type() {
        QueueType::Classic => {
            args.insert(ShortString::from("x-queue-version"), AMQPValue::LongLongInt(2));
        }
        QueueType::Quorum => {
            args.insert(ShortString::from("x-queue-type"), AMQPValue::LongString(LongString::from("quorum")));
        }
    }
    if let Some(expires) = config.expires_arg() {
        args.insert(ShortString::from("x-expires"), AMQPValue::LongLongInt(millis(expires).max(1)));
    }
    args
}

/// Dead-letter the messages of a quorum queue to `target` through the default exchange, at
/// least once: the broker keeps a message until `target` confirmed it (the default,
/// at-most-once, can drop it when a node fails). At-least-once needs `x-overflow =
/// reject-publish`, which only matters with a length limit; none is set.
fn dead_letter_to(args: &mut FieldTable, target: &str, quorum: bool) {
    args.insert(ShortString::from("x-dead-letter-exchange"), AMQPValue::LongString(LongString::from("")));
    args.insert(ShortString::from("x-dead-letter-routing-key"), AMQPValue::LongString(LongString::from(target)));
    if quorum {
        args.insert(
            ShortString::from("x-dead-letter-strategy"),
            AMQPValue::LongString(LongString::from("at-least-once")),
        );
        args.insert(ShortString::from("x-overflow"), AMQPValue::LongString(LongString::from("reject-publish")));
    }
}

/// Arguments of the work queue. A quorum work queue also has `x-delivery-limit` and
/// dead-letters to the dead-letter queue: a message returned more often than that (its
/// consumers died before Drover could count the attempt) goes to `q.dead`.
pub(crate) fn work_args(config: &AmqpConfig, names: &Names) -> FieldTable {
    let mut args = FieldTable::default();
    if let Some(timeout) = config.consumer_timeout_arg() {
        args.insert(ShortString::from("x-consumer-timeout"), AMQPValue::LongLongInt(millis(timeout)));
    }
    if config.queue_type() == QueueType::Quorum {
        args.insert(ShortString::from("x-delivery-limit"), AMQPValue::LongLongInt(i64::from(config.delivery_limit())));
        dead_letter_to(&mut args, &names.dead, true);
    }
    with_expiry(config, args)
}

/// Arguments of the dead-letter queue.
pub(crate) fn dead_args(config: &AmqpConfig) -> FieldTable {
    with_expiry(config, FieldTable::default())
}

/// Arguments of a delay queue: hold each message `ms`, then dead-letter it to the work queue.
pub(crate) fn delay_args(config: &AmqpConfig, names: &Names, ms: u64) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(ShortString::from("x-message-ttl"), AMQPValue::LongLongInt(i64::try_from(ms).unwrap_or(i64::MAX)));
    dead_letter_to(&mut args, &names.work, config.queue_type() == QueueType::Quorum);
    // A delay queue must outlive its longest wait, or its messages would go with it.
    let mut args = with_expiry(config, args);
    if let Some(expires) = config.expires_arg() {
        let at_least = millis(expires).max(i64::try_from(ms).unwrap_or(i64::MAX).saturating_mul(2));
        args.insert(ShortString::from("x-expires"), AMQPValue::LongLongInt(at_least));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg<'a>(args: &'a FieldTable, key: &str) -> Option<&'a AMQPValue> {
        args.inner().get(&ShortString::from(key))
    }

    #[test]
    fn quorum_queues_get_their_type_limit_and_dead_letter_target() {
        let names = Names::new("jobs");
        let classic = AmqpConfig::new(crate::DEFAULT_URL, "jobs");
        let work = work_args(&classic, &names);
        assert!(arg(&work, "x-queue-type").is_none() && arg(&work, "x-delivery-limit").is_none());
        assert_eq!(arg(&work, "x-queue-version"), Some(&AMQPValue::LongLongInt(2)));

        let quorum = classic.set_queue_type(QueueType::Quorum).set_delivery_limit(3);
        let work = work_args(&quorum, &names);
        assert_eq!(arg(&work, "x-queue-type"), Some(&AMQPValue::LongString(LongString::from("quorum"))));
        assert!(arg(&work, "x-queue-version").is_none());
        assert_eq!(arg(&work, "x-delivery-limit"), Some(&AMQPValue::LongLongInt(3)));
        assert_eq!(
            arg(&work, "x-dead-letter-routing-key"),
            Some(&AMQPValue::LongString(LongString::from("jobs.dead")))
        );
        let dead = dead_args(&quorum);
        assert!(arg(&dead, "x-dead-letter-exchange").is_none(), "the dead queue dead-letters nowhere");
        let delay = delay_args(&quorum, &names, 768);
        assert_eq!(arg(&delay, "x-queue-type"), Some(&AMQPValue::LongString(LongString::from("quorum"))));
        assert_eq!(arg(&delay, "x-dead-letter-routing-key"), Some(&AMQPValue::LongString(LongString::from("jobs"))));
        assert_eq!(
            arg(&delay, "x-dead-letter-strategy"),
            Some(&AMQPValue::LongString(LongString::from("at-least-once")))
        );
    }

    #[test]
    fn buckets_round_down_to_three_significant_bits() {
        assert_eq!(bucket_ms(0), 1);
        assert_eq!(bucket_ms(5), 5);
        assert_eq!(bucket_ms(8), 8);
        assert_eq!(bucket_ms(15), 14);
        assert_eq!(bucket_ms(800), 768);
        assert_eq!(bucket_ms(1200), 1024);
        assert_eq!(bucket_ms(u64::MAX), MAX_BUCKET_MS);
        for ms in 1..100_000u64 {
            let b = bucket_ms(ms);
            assert!(b <= ms && ms - b < ms.div_ceil(4).max(1), "{ms} -> {b}");
        }
    }

    #[test]
    fn few_buckets_exist() {
        let distinct: std::collections::HashSet<u64> = (1..10_000_000u64).step_by(7).map(bucket_ms).collect();
        assert!(distinct.len() < 100, "{}", distinct.len());
    }

    #[test]
    fn routes_by_run_time() {
        assert_eq!(Route::for_run_at(None, 1000), Route::Work);
        assert_eq!(Route::for_run_at(Some(900), 1000), Route::Work);
        assert_eq!(Route::for_run_at(Some(1000), 1000), Route::Work);
        assert_eq!(Route::for_run_at(Some(1800), 1000), Route::Delay(768));
    }
}
