//! Batches: pushes are buffered and stored atomically on commit; dropping the batch discards
//! them.

use drover_core::{BackendError, BufferedBatch, Codec, EnqueueBatch, PushOptions, TaskId};
use redis::Value;

use crate::connection::backend_error;
use crate::scripts;
use crate::storage::{is_plain, push_args, RedisStorage};

/// A Redis batch of pushes: nothing reaches the server until
/// [`commit_batch`](EnqueueBatch::commit_batch), which stores every task atomically (one script
/// call, or one `MULTI`/`EXEC` of script calls beyond 1,000 tasks). Dropping it discards the
/// pushes. It does not include your own Redis commands.
pub type RedisBatch = BufferedBatch;

impl<T, C> EnqueueBatch for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Batch = RedisBatch;

    async fn begin_batch(&self) -> Result<RedisBatch, BackendError> {
        Ok(RedisBatch::default())
    }

    fn push_to<'a>(
        &'a self,
        batch: &'a mut RedisBatch,
        job: T,
        options: PushOptions,
    ) -> impl std::future::Future<Output = Result<TaskId, BackendError>> + Send + 'a {
        std::future::ready(batch.push_job::<T, C>(&job, options))
    }

    async fn commit_batch(&self, batch: RedisBatch) -> Result<(), BackendError> {
        let tasks = batch.into_tasks();
        if tasks.is_empty() {
            return Ok(());
        }
        let batch = self.shared.config.push_batch();
        if tasks.len() == 1 && is_plain(&tasks[0]) {
            self.push_one("commit", &tasks[0]).await?;
        } else if tasks.len() <= batch {
            let _: Value = self.run("commit", &scripts::ENQUEUE, |inv| push_args(inv, &tasks)).await?;
        } else {
            self.check_namespace()?;
            let mut conn = self.shared.conn.clone();
            // Inside MULTI a missing script fails only at EXEC, so load it first.
            let hash: String = scripts::ENQUEUE
                .prepare_invoke()
                .load_async(&mut conn)
                .await
                .map_err(|e| backend_error("commit", e))?;
            let mut pipe = redis::pipe();
            pipe.atomic();
            for chunk in tasks.chunks(batch) {
                let cmd = pipe.cmd("EVALSHA").arg(&hash).arg(self.shared.keys.script_keys.len());
                cmd.arg(&self.shared.keys.script_keys).arg(&self.shared.keys.common_args);
                push_args(cmd, chunk);
                cmd.ignore();
            }
            let _: Value = pipe.query_async(&mut conn).await.map_err(|e| backend_error("commit", e))?;
        }
        self.confirm_replicated("commit").await?;
        self.shared.wakeup.notify();
        Ok(())
    }
}
