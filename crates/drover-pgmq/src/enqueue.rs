//! The produce side: pushes by `pgmq.send_batch` (one call per run time and chunk), and pushes
//! inside the caller's transaction.

use chrono::{DateTime, Utc};
use drover_core::{BackendError, Codec, Enqueue, EnqueueInTransaction, NewTask, PushOptions, TaskId};
use sqlx::{PgConnection, Postgres};

use crate::envelope::outgoing;
use crate::error::db_error;
use crate::storage::{task_id, PgmqStorage, SEND_SQL};

/// Refuse what pgmq cannot store: priorities and unique keys.
fn refuse_unsupported(tasks: &[NewTask]) -> Result<(), BackendError> {
    if tasks.iter().any(|t| t.priority != 0) {
        return Err(BackendError::Unsupported(
            "pgmq has no priorities: a push with a priority other than 0 was refused (nothing of it was stored); \
             use a separate queue for urgent jobs"
                .into(),
        ));
    }
    if tasks.iter().any(|t| t.unique_key.is_some()) {
        return Err(BackendError::Unsupported(
            "pgmq has no unique keys: a push with a unique key was refused (nothing of it was stored)".into(),
        ));
    }
    drover_core::refuse_concurrency_keys("pgmq", tasks)
}

/// Consecutive tasks with the same run time, at most `chunk` of them: one `send_batch` call each.
fn groups(tasks: &[NewTask], chunk: usize) -> Vec<&[NewTask]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=tasks.len() {
        if i == tasks.len() || i - start == chunk.max(1) || tasks[i].run_at != tasks[start].run_at {
            out.push(&tasks[start..i]);
            start = i;
        }
    }
    out
}

/// Send one group with `pgmq.send_batch`; returns the task ids in push order.
async fn send(conn: &mut PgConnection, queue: &str, group: &[NewTask]) -> Result<Vec<TaskId>, BackendError> {
    let (mut bodies, mut headers) = (Vec::with_capacity(group.len()), Vec::with_capacity(group.len()));
    for task in group {
        let message = outgoing(&task.payload, task.max_attempts);
        bodies.push(message.body);
        headers.push(message.headers);
    }
    let run_at: Option<DateTime<Utc>> = group.first().and_then(|t| t.run_at);
    let mut ids: Vec<i64> = sqlx::query_scalar(SEND_SQL)
        .bind(queue)
        .bind(bodies)
        .bind(headers)
        .bind(run_at)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db_error("enqueue (pgmq.send_batch)", queue, e))?;
    if ids.len() != group.len() {
        return Err(BackendError::Corrupt(format!(
            "pgmq.send_batch stored {} messages for {} pushes",
            ids.len(),
            group.len()
        )));
    }
    // One statement draws its ids from the sequence in the order of the array.
    ids.sort_unstable();
    Ok(ids.into_iter().map(task_id).collect())
}

/// Send `tasks` on `conn`; several calls should run inside a transaction.
async fn send_all(
    conn: &mut PgConnection,
    queue: &str,
    chunk: usize,
    tasks: &[NewTask],
) -> Result<Vec<TaskId>, BackendError> {
    let mut ids = Vec::with_capacity(tasks.len());
    for group in groups(tasks, chunk) {
        ids.extend(send(conn, queue, group).await?);
    }
    Ok(ids)
}

impl<T, C> Enqueue for PgmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn enqueue(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        let queue = &self.tables()?.queue;
        refuse_unsupported(&tasks)?;
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let chunk = self.inner.config.enqueue_chunk();
        let ids = if groups(&tasks, chunk).len() == 1 {
            let mut conn = self.inner.pool.acquire().await.map_err(|e| db_error("enqueue", queue, e))?;
            send_all(&mut conn, queue, chunk, &tasks).await?
        } else {
            // Several calls: one transaction keeps the push all or nothing.
            let mut tx = self.inner.pool.begin().await.map_err(|e| db_error("enqueue", queue, e))?;
            let ids = send_all(&mut tx, queue, chunk, &tasks).await?;
            tx.commit().await.map_err(|e| db_error("enqueue (commit)", queue, e))?;
            ids
        };
        self.inner.wakeup.notify();
        Ok(ids)
    }
}

impl<T, C> EnqueueInTransaction for PgmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Transaction = sqlx::Transaction<'static, Postgres>;

    async fn begin(&self) -> Result<Self::Transaction, BackendError> {
        self.inner.pool.begin().await.map_err(|e| db_error("begin transaction", self.queue_name(), e))
    }

    fn push_in<'a>(
        &'a self,
        tx: &'a mut Self::Transaction,
        job: T,
        options: PushOptions,
    ) -> impl std::future::Future<Output = Result<TaskId, BackendError>> + Send + 'a {
        let task = C::encode(&job).map(|payload| NewTask::new(payload, options));
        async move { first_id(self.enqueue_in(tx, vec![task?]).await?) }
    }

    async fn commit(&self, tx: Self::Transaction) -> Result<(), BackendError> {
        tx.commit().await.map_err(|e| db_error("commit", self.queue_name(), e))?;
        self.inner.wakeup.notify();
        Ok(())
    }
}

fn first_id(ids: Vec<TaskId>) -> Result<TaskId, BackendError> {
    ids.into_iter()
        .next()
        .ok_or_else(|| BackendError::Corrupt("the backend accepted a push but returned no task id".into()))
}

impl<T, C> PgmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// Push `job` inside the caller's own transaction (or on any connection): the message is
    /// visible to readers only when that transaction commits, and gone if it rolls back.
    ///
    /// ```no_run
    /// # use drover_pgmq::PgmqStorage;
    /// # async fn run(pool: sqlx::PgPool, storage: PgmqStorage<String>) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("UPDATE users SET welcomed = true WHERE id = $1").bind(42).execute(&mut *tx).await?;
    /// storage.push_in_tx(&mut tx, "welcome user 42".to_owned()).await?;
    /// tx.commit().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn push_in_tx(&self, conn: &mut PgConnection, job: T) -> Result<TaskId, BackendError> {
        let task = NewTask::new(C::encode(&job)?, PushOptions::default());
        first_id(self.enqueue_in(conn, vec![task]).await?)
    }

    /// Enqueue already-encoded tasks on the caller's connection or transaction.
    pub async fn enqueue_in(&self, conn: &mut PgConnection, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        let queue = &self.tables()?.queue;
        refuse_unsupported(&tasks)?;
        send_all(conn, queue, self.inner.config.enqueue_chunk(), &tasks).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_split_by_run_time_and_chunk() {
        let at = Utc::now();
        let task = |run_at| {
            let mut t = NewTask::new(b"1".to_vec(), PushOptions::new());
            t.run_at = run_at;
            t
        };
        let tasks = vec![task(None), task(None), task(Some(at)), task(Some(at)), task(Some(at)), task(None)];
        let sizes: Vec<usize> = groups(&tasks, 2).iter().map(|g| g.len()).collect();
        assert_eq!(sizes, vec![2, 2, 1, 1]);
        assert!(groups(&[], 2).is_empty());
    }
}
