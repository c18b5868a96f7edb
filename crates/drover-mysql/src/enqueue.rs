//! The produce side: multi-row `INSERT`s in chunks, unique keys, and pushes inside a caller's
//! transaction.

use std::collections::HashMap;
use std::future::Future;

use drover_core::{BackendError, Codec, Enqueue, EnqueueInTransaction, NewTask, PushOptions, TaskId};
use sqlx::AssertSqlSafe;
use sqlx::{MySql, MySqlConnection, Row, Transaction};

use crate::columns::{clamp_time, id_bytes, task_id};
use crate::config::{MAX_CONCURRENCY_KEY_CHARS, MAX_UNIQUE_KEY_CHARS};
use crate::error::{backend_error, retry_on_lock_conflict, Attempt};
use crate::storage::MysqlStorage;

/// Cut a chunk at about this many payload bytes, well below MySQL's default
/// `max_allowed_packet` (16 MiB on MariaDB, 64 MiB on MySQL 8).
const CHUNK_PAYLOAD_BYTES: usize = 4 << 20;

const INSERT_PREFIX: &str = "INSERT INTO drover_tasks
  (id, queue, payload, status, attempt, max_attempts, run_at, priority, unique_key, unique_live, concurrency_key,
   created_at, updated_at)
  VALUES ";
const INSERT_ROW: &str =
    "(?, ?, ?, 'pending', 0, ?, COALESCE(?, UTC_TIMESTAMP(6)), ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))";

/// With unique keys, a row whose key a pending or running task holds is skipped (the no-op
/// update locks the holder, so it cannot finish before the ids are read back below).
const ON_DUPLICATE: &str = " ON DUPLICATE KEY UPDATE id = id";

/// The holders of unique keys (the `IN` list follows).
const HOLDERS_PREFIX: &str = "SELECT id, unique_live FROM drover_tasks WHERE queue = ? AND unique_live IN (";

/// `prefix` followed by `n` placeholders and `)`.
fn in_list(prefix: &str, n: usize) -> String {
    let mut sql = String::with_capacity(prefix.len() + n * 3);
    sql.push_str(prefix);
    for i in 0..n {
        sql.push_str(if i == 0 { "?" } else { ", ?" });
    }
    sql.push(')');
    sql
}

/// Check what the table cannot store, before any row is written.
fn validate(tasks: &[NewTask]) -> Result<(), BackendError> {
    for task in tasks {
        if let Some(key) = &task.unique_key {
            let chars = key.chars().count();
            if chars > MAX_UNIQUE_KEY_CHARS {
                return Err(BackendError::Unsupported(format!(
                    "a unique key may have at most {MAX_UNIQUE_KEY_CHARS} characters in drover-mysql, this one has \
                     {chars}; hash long keys (for example with SHA-256) before pushing"
                )));
            }
        }
        if let Some(key) = &task.concurrency_key {
            let chars = key.chars().count();
            if chars > MAX_CONCURRENCY_KEY_CHARS {
                return Err(BackendError::Unsupported(format!(
                    "a concurrency key may have at most {MAX_CONCURRENCY_KEY_CHARS} characters in drover-mysql, this \
                     one has {chars}; hash long keys (for example with SHA-256) before pushing"
                )));
            }
        }
    }
    Ok(())
}

/// Split `tasks` into chunks of at most `rows` rows and about [`CHUNK_PAYLOAD_BYTES`].
fn chunks(tasks: &[NewTask], rows: usize) -> Vec<&[NewTask]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, task) in tasks.iter().enumerate() {
        if i > start && (i - start >= rows || bytes + task.payload.len() > CHUNK_PAYLOAD_BYTES) {
            out.push(&tasks[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += task.payload.len();
    }
    if start < tasks.len() {
        out.push(&tasks[start..]);
    }
    out
}

/// Insert `tasks` on `conn` (a transaction when there is more than one statement) and return
/// their ids, a duplicate unique key giving the id of the task that holds it.
pub(crate) fn insert<'a>(
    conn: &'a mut MySqlConnection,
    queue: &'a str,
    tasks: &'a [NewTask],
    chunk_rows: usize,
) -> Attempt<'a, Vec<TaskId>> {
    Box::pin(async move {
        let unique = tasks.iter().any(|t| t.unique_key.is_some());
        for chunk in chunks(tasks, chunk_rows) {
            let mut sql = String::with_capacity(INSERT_PREFIX.len() + chunk.len() * (INSERT_ROW.len() + 2) + 40);
            sql.push_str(INSERT_PREFIX);
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(INSERT_ROW);
            }
            if unique {
                sql.push_str(ON_DUPLICATE);
            }
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for task in chunk {
                query = query
                    .bind(id_bytes(task.id))
                    .bind(queue)
                    .bind(&task.payload)
                    .bind(task.max_attempts)
                    .bind(task.run_at.map(clamp_time))
                    .bind(task.priority)
                    .bind(task.unique_key.as_deref())
                    .bind(task.unique_key.as_deref())
                    .bind(task.concurrency_key.as_deref());
            }
            query.execute(&mut *conn).await?;
        }
        let mut ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
        if unique {
            let holders = holders(conn, queue, tasks).await?;
            for (id, task) in ids.iter_mut().zip(tasks) {
                if let Some(holder) = task.unique_key.as_ref().and_then(|k| holders.get(k)) {
                    *id = *holder;
                }
            }
        }
        Ok(ids)
    })
}

/// Which task holds each unique key of `tasks` now.
fn holders<'a>(
    conn: &'a mut MySqlConnection,
    queue: &'a str,
    tasks: &'a [NewTask],
) -> Attempt<'a, HashMap<String, TaskId>> {
    Box::pin(async move {
        let mut keys: Vec<&str> = tasks.iter().filter_map(|t| t.unique_key.as_deref()).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut holders = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(1_000) {
            let sql = in_list(HOLDERS_PREFIX, chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(queue);
            for key in chunk {
                query = query.bind(*key);
            }
            for row in query.fetch_all(&mut *conn).await? {
                let id: Vec<u8> = row.try_get("id")?;
                let key: Vec<u8> = row.try_get("unique_live")?;
                if let Ok(key) = String::from_utf8(key) {
                    holders.insert(key, task_id(&id)?);
                }
            }
        }
        Ok(holders)
    })
}

impl<T, C> Enqueue for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn enqueue(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        self.check()?;
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        validate(&tasks)?;
        let queue = self.queue_name();
        let chunk_rows = self.config().enqueue_chunk();
        let single = tasks.len() <= chunk_rows
            && tasks.iter().all(|t| t.unique_key.is_none())
            && chunks(&tasks, chunk_rows).len() == 1;
        let ids = retry_on_lock_conflict("enqueue", || {
            Box::pin(async {
                if single {
                    // One statement commits on its own: no transaction round trips.
                    let mut conn = self.pool().acquire().await?;
                    insert(&mut conn, queue, &tasks, chunk_rows).await
                } else {
                    let mut tx = self.pool().begin().await?;
                    let ids = insert(&mut tx, queue, &tasks, chunk_rows).await?;
                    tx.commit().await?;
                    Ok(ids)
                }
            })
        })
        .await?;
        let now = chrono::Utc::now();
        if tasks.iter().any(|t| t.run_at.is_none_or(|at| at <= now)) {
            self.shared.wakeup.notify();
        }
        Ok(ids)
    }
}

impl<T, C> EnqueueInTransaction for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Transaction = Transaction<'static, MySql>;

    async fn begin(&self) -> Result<Self::Transaction, BackendError> {
        self.pool().begin().await.map_err(|e| backend_error("begin a transaction", e))
    }

    fn push_in<'a>(
        &'a self,
        tx: &'a mut Self::Transaction,
        job: T,
        options: PushOptions,
    ) -> impl Future<Output = Result<TaskId, BackendError>> + Send + 'a {
        let task = C::encode(&job).map(|payload| NewTask::new(payload, options));
        async move {
            self.check()?;
            let tasks = vec![task?];
            validate(&tasks)?;
            let ids = insert(tx, self.queue_name(), &tasks, 1)
                .await
                .map_err(|e| backend_error("push in a transaction", e))?;
            ids.into_iter().next().ok_or_else(|| BackendError::Corrupt("push in a transaction stored no task".into()))
        }
    }

    async fn commit(&self, tx: Self::Transaction) -> Result<(), BackendError> {
        tx.commit().await.map_err(|e| backend_error("commit a transaction", e))?;
        self.shared.wakeup.notify();
        Ok(())
    }
}
