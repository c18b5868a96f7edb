//! Enqueue in a transaction: pushes are buffered and stored atomically on commit; dropping the
//! transaction discards them.

use drover_core::{BackendError, BufferedTransaction, Codec, EnqueueInTransaction, PushOptions, TaskId};
use redis::Value;

use crate::connection::backend_error;
use crate::scripts;
use crate::storage::{push_args, RedisStorage};

/// A Redis "transaction" of pushes: nothing reaches the server until
/// [`commit`](EnqueueInTransaction::commit), which stores every task atomically (one script
/// call, or one `MULTI`/`EXEC` of script calls beyond 1,000 tasks). Dropping it discards the
/// pushes, like a rolled-back SQL transaction. It does not include your own Redis commands.
pub type RedisTransaction = BufferedTransaction;

impl<T, C> EnqueueInTransaction for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Transaction = RedisTransaction;

    async fn begin(&self) -> Result<RedisTransaction, BackendError> {
        Ok(RedisTransaction::default())
    }

    fn push_in<'a>(
        &'a self,
        tx: &'a mut RedisTransaction,
        job: T,
        options: PushOptions,
    ) -> impl std::future::Future<Output = Result<TaskId, BackendError>> + Send + 'a {
        std::future::ready(tx.push_job::<T, C>(&job, options))
    }

    async fn commit(&self, tx: RedisTransaction) -> Result<(), BackendError> {
        let tasks = tx.into_tasks();
        if tasks.is_empty() {
            return Ok(());
        }
        let batch = self.shared.config.push_batch();
        if tasks.len() <= batch {
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
        self.shared.wakeup.notify();
        Ok(())
    }
}
