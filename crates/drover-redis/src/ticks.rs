//! Recurring schedules' ticks (`PushTicks`): one script compares the tick with the schedule's
//! entry in `<prefix>:cron_ticks` and pushes the task in the same atomic step.

use drover_core::{BackendError, Codec, Overlap, PushTicks, TickPush, TickPushed, TickRecord};
use redis::Value;

use crate::connection::backend_error;
use crate::scripts;
use crate::storage::{push_args, ArgSink, RedisStorage};
use crate::values::{tick_entry, tick_reply};

impl<T, C> RedisStorage<T, C> {
    fn ticks_key(&self) -> String {
        format!("{}:cron_ticks", self.shared.keys.prefix)
    }
}

impl<T, C> PushTicks for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn push_tick(&self, push: TickPush) -> Result<TickPushed, BackendError> {
        const OP: &str = "push a schedule's tick";
        self.register().await;
        let task = std::slice::from_ref(&push.task);
        let skip = if push.overlap == Overlap::Skip { "1" } else { "0" };
        let value: Value = self
            .run(OP, &scripts::TICK, |inv| {
                push_args(inv, task);
                inv.push_arg(push.schedule.as_str()).push_arg(push.tick.timestamp_millis()).push_arg(skip);
            })
            .await?;
        let pushed = tick_reply(value, push.task.id).map_err(|e| BackendError::server(OP, e))?;
        if matches!(pushed, TickPushed::Pushed(_)) {
            self.confirm_replicated(OP).await?;
            self.shared.wakeup.notify();
        }
        Ok(pushed)
    }

    async fn tick_record(&self, schedule: &str) -> Result<Option<TickRecord>, BackendError> {
        const OP: &str = "read a schedule's last tick";
        self.check_namespace()?;
        let mut conn = self.shared.conn.clone();
        let entry: Option<String> = redis::cmd("HGET")
            .arg(self.ticks_key())
            .arg(schedule)
            .query_async(&mut conn)
            .await
            .map_err(|e| backend_error(OP, e))?;
        entry.map(|e| tick_entry(schedule.to_owned(), &e).map_err(|e| BackendError::server(OP, e))).transpose()
    }

    async fn tick_records(&self) -> Result<Vec<TickRecord>, BackendError> {
        const OP: &str = "list the schedules' last ticks";
        self.check_namespace()?;
        let mut conn = self.shared.conn.clone();
        let entries: std::collections::BTreeMap<String, String> = redis::cmd("HGETALL")
            .arg(self.ticks_key())
            .query_async(&mut conn)
            .await
            .map_err(|e| backend_error(OP, e))?;
        entries.into_iter().map(|(name, e)| tick_entry(name, &e).map_err(|e| BackendError::server(OP, e))).collect()
    }
}
