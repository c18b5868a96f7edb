//! The produce side: bulk inserts in few statements, unique keys, and pushes inside a
//! caller's transaction.

use std::collections::HashMap;

use drover_core::{BackendError, Codec, Enqueue, EnqueueInTransaction, NewTask, PushOptions, TaskId};
use sqlx::sqlite::{SqliteArguments, SqliteConnection};
use sqlx::{Connection, Row, Sqlite};

use crate::batch::{built, chunks_of, execute_on, fetch_all_on, rows_of, BoxFuture};
use crate::codec::{id_bytes, id_from, millis, now_millis};
use crate::error::sql;
use crate::group::{Param, Statement};
use crate::storage::{add, SqliteStorage};

/// Parameters per inserted row: id, queue, payload, max_attempts, run_at, priority,
/// unique_key, created_at, updated_at, concurrency_key.
const INSERT_COLUMNS: usize = 10;

/// One row's cells: status and attempt are literals, the rest parameters.
const INSERT_ROW: [&str; 12] = ["?", "?", "?", "'pending'", "0", "?", "?", "?", "?", "?", "?", "?"];

const INSERT_HEAD: &str = "INSERT INTO drover_tasks \
(id, queue, payload, status, attempt, max_attempts, run_at, priority, unique_key, created_at, updated_at, \
concurrency_key) VALUES ";

/// A row whose unique key is taken by a pending or running task is skipped; the caller then
/// looks the key up to return that task's id.
const INSERT_KEYED_TAIL: &str = " ON CONFLICT DO NOTHING";

/// Insert `tasks` into `queue` on `conn`, in chunks of one multi-row `INSERT` each; returns
/// the ids in order (for a unique key already pending or running, that task's id). The
/// caller decides the transaction.
pub(crate) fn insert<'a>(
    conn: &'a mut SqliteConnection,
    queue: &'a str,
    tasks: &'a [NewTask],
) -> BoxFuture<'a, Result<Vec<TaskId>, BackendError>> {
    Box::pin(insert_inner(conn, queue, tasks))
}

async fn insert_inner(
    conn: &mut SqliteConnection,
    queue: &str,
    tasks: &[NewTask],
) -> Result<Vec<TaskId>, BackendError> {
    const OP: &str = "enqueueing tasks";
    let now = now_millis();
    let mut ids = Vec::with_capacity(tasks.len());
    for chunk in tasks.chunks(chunks_of(INSERT_COLUMNS)) {
        let keyed = chunk.iter().any(|t| t.unique_key.is_some());
        let mut statement = String::with_capacity(INSERT_HEAD.len() + chunk.len() * 36);
        statement.push_str(INSERT_HEAD);
        rows_of(&mut statement, chunk.len(), &INSERT_ROW);
        if keyed {
            statement.push_str(INSERT_KEYED_TAIL);
        }
        let mut args = SqliteArguments::default();
        for task in chunk {
            add(&mut args, id_bytes(task.id).to_vec(), OP)?;
            add(&mut args, queue.to_owned(), OP)?;
            add(&mut args, task.payload.clone(), OP)?;
            add(&mut args, i64::from(task.max_attempts), OP)?;
            add(&mut args, task.run_at.map_or(now, millis), OP)?;
            add(&mut args, i64::from(task.priority), OP)?;
            add(&mut args, task.unique_key.clone(), OP)?;
            add(&mut args, now, OP)?;
            add(&mut args, now, OP)?;
            add(&mut args, task.concurrency_key.clone(), OP)?;
        }
        execute_on(conn, built(statement), args).await.map_err(|e| sql(OP, e))?;
        if keyed {
            let holders = key_holders(conn, queue, chunk).await?;
            ids.extend(
                chunk.iter().map(|t| t.unique_key.as_ref().and_then(|k| holders.get(k).copied()).unwrap_or(t.id)),
            );
        } else {
            ids.extend(chunk.iter().map(|t| t.id));
        }
    }
    Ok(ids)
}

/// Insert `tasks` in one immediate transaction on `conn`.
async fn insert_all(conn: &mut SqliteConnection, queue: &str, tasks: &[NewTask]) -> Result<Vec<TaskId>, BackendError> {
    const OP: &str = "enqueueing tasks";
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(|e| sql(OP, e))?;
    let ids = insert(&mut tx, queue, tasks).await?;
    tx.commit().await.map_err(|e| sql(OP, e))?;
    Ok(ids)
}

/// One multi-row `INSERT` of `chunk` (no unique keys) for the write group.
fn insert_statement(queue: &str, chunk: &[NewTask], now: i64) -> Statement {
    let mut sql = String::with_capacity(INSERT_HEAD.len() + chunk.len() * 36);
    sql.push_str(INSERT_HEAD);
    rows_of(&mut sql, chunk.len(), &INSERT_ROW);
    let mut params = Vec::with_capacity(chunk.len() * INSERT_COLUMNS);
    for task in chunk {
        params.extend([
            Param::Blob(id_bytes(task.id).to_vec()),
            Param::Text(queue.to_owned()),
            Param::Blob(task.payload.clone()),
            Param::Int(i64::from(task.max_attempts)),
            Param::Int(task.run_at.map_or(now, millis)),
            Param::Int(i64::from(task.priority)),
            Param::OptText(None),
            Param::Int(now),
            Param::Int(now),
            Param::OptText(task.concurrency_key.clone()),
        ]);
    }
    Statement::new(sql, params)
}

/// The pending or running task holding each unique key of `chunk`.
async fn key_holders(
    conn: &mut SqliteConnection,
    queue: &str,
    chunk: &[NewTask],
) -> Result<HashMap<String, TaskId>, BackendError> {
    const OP: &str = "looking up unique keys";
    let keys: Vec<&String> = chunk.iter().filter_map(|t| t.unique_key.as_ref()).collect();
    let mut statement = String::from(
        "SELECT unique_key, id FROM drover_tasks \
         WHERE queue = ? AND unique_key IS NOT NULL AND status IN ('pending', 'running') AND unique_key IN ",
    );
    rows_of(&mut statement, 1, &vec!["?"; keys.len()]);
    let mut args = SqliteArguments::default();
    add(&mut args, queue.to_owned(), OP)?;
    for key in keys {
        add(&mut args, key.clone(), OP)?;
    }
    let rows = fetch_all_on(conn, built(statement), args).await.map_err(|e| sql(OP, e))?;
    let mut holders = HashMap::with_capacity(rows.len());
    for row in rows {
        let key: String = row.try_get(0).map_err(|e| sql(OP, e))?;
        let id = id_from(&row.try_get::<Vec<u8>, _>(1).map_err(|e| sql(OP, e))?)?;
        holders.insert(key, id);
    }
    Ok(holders)
}

impl<T, C> Enqueue for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn enqueue(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        const OP: &str = "enqueueing tasks";
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let queue = self.inner.queue.as_str();
        let single = tasks.len() <= chunks_of(INSERT_COLUMNS) && tasks.iter().all(|t| t.unique_key.is_none());
        let ids = if single {
            // One statement is atomic by itself: it goes with the other writes of the moment.
            let statement = insert_statement(queue, &tasks, now_millis());
            self.inner.hub.group.write(&self.inner.pool, OP, vec![statement]).await?;
            tasks.iter().map(|t| t.id).collect()
        } else {
            let mut turn = self.inner.hub.group.turn().await;
            let conn = turn.connection(&self.inner.pool, OP).await?;
            let result = insert_all(conn, queue, &tasks).await;
            if let Err(error) = &result {
                turn.reset_after(error);
            }
            result?
        };
        self.notify();
        Ok(ids)
    }
}

impl<T, C> EnqueueInTransaction for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Transaction = sqlx::Transaction<'static, Sqlite>;

    /// Begin an immediate transaction: it takes SQLite's write lock at once, so the caller's
    /// own reads and writes in it never fail half-way with "database is locked". Keep it
    /// short: other writers to the file wait for it.
    async fn begin(&self) -> Result<Self::Transaction, BackendError> {
        self.inner.pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| sql("beginning a transaction", e))
    }

    fn push_in<'a>(
        &'a self,
        tx: &'a mut Self::Transaction,
        job: T,
        options: PushOptions,
    ) -> impl std::future::Future<Output = Result<TaskId, BackendError>> + Send + 'a {
        let task = C::encode(&job).map(|payload| NewTask::new(payload, options));
        async move {
            let task = task?;
            let ids = insert(tx, self.inner.queue.as_str(), std::slice::from_ref(&task)).await?;
            Ok(ids.into_iter().next().unwrap_or(task.id))
        }
    }

    async fn commit(&self, tx: Self::Transaction) -> Result<(), BackendError> {
        tx.commit().await.map_err(|e| sql("committing a transaction", e))?;
        self.notify();
        Ok(())
    }
}
