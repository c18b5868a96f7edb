//! The produce side: batched inserts (one statement per chunk), unique keys, and pushes inside
//! the caller's transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use drover_core::{BackendError, Codec, Enqueue, EnqueueInTransaction, NewTask, PushOptions, TaskId};
use futures_util::future::BoxFuture;
use sqlx::{PgConnection, Postgres};
use uuid::Uuid;

use crate::backend::{task_id, uuid_of};
use crate::error::db_error;
use crate::storage::PostgresStorage;

const ENQUEUE_SQL: &str = include_str!("../sql/enqueue.sql");
const ENQUEUE_UNIQUE_SQL: &str = include_str!("../sql/enqueue_unique.sql");
const NOTIFY_SQL: &str = "SELECT pg_notify('drover_tasks', $1)::text";
const UNIQUE_HOLDERS_SQL: &str = include_str!("../sql/unique_holders.sql");

/// How often a push whose unique key's holder raced with it is tried again.
const UNIQUE_RACE_TRIES: usize = 5;

/// A task's attempt limit as the column stores it (at least 1).
fn max_attempts(task: &NewTask) -> i32 {
    i32::try_from(task.max_attempts.max(1)).unwrap_or(i32::MAX)
}

/// The columns of a batch, as arrays for `unnest`.
struct Columns {
    ids: Vec<Uuid>,
    payloads: Vec<Vec<u8>>,
    run_ats: Vec<Option<DateTime<Utc>>>,
    priorities: Vec<i32>,
    max_attempts: Vec<i32>,
    unique_keys: Vec<Option<String>>,
    concurrency_keys: Vec<Option<String>>,
}

impl Columns {
    fn of(tasks: &[NewTask]) -> Self {
        let n = tasks.len();
        let mut c = Columns {
            ids: Vec::with_capacity(n),
            payloads: Vec::with_capacity(n),
            run_ats: Vec::with_capacity(n),
            priorities: Vec::with_capacity(n),
            max_attempts: Vec::with_capacity(n),
            unique_keys: Vec::with_capacity(n),
            concurrency_keys: Vec::with_capacity(n),
        };
        for t in tasks {
            c.ids.push(uuid_of(t.id));
            c.payloads.push(t.payload.clone());
            c.run_ats.push(t.run_at);
            c.priorities.push(t.priority);
            c.max_attempts.push(max_attempts(t));
            c.unique_keys.push(t.unique_key.clone());
            c.concurrency_keys.push(t.concurrency_key.clone());
        }
        c
    }
}

/// Insert `tasks` into `queue` on `conn`, `chunk` per statement; returns the ids in order.
/// `persistent`: sqlx may prepare named statements (not behind a transaction-mode pooler).
///
/// Boxed: the future borrows a connection, and a boxed `Send` future pins its lifetimes down
/// where the compiler otherwise fails to prove `Send` for every lifetime (a known limit of
/// async functions over sqlx executors).
pub(crate) fn insert<'a>(
    conn: &'a mut PgConnection,
    persistent: bool,
    queue: &'a str,
    chunk: usize,
    tasks: &'a [NewTask],
) -> BoxFuture<'a, Result<Vec<TaskId>, BackendError>> {
    Box::pin(async move {
        let mut ids = Vec::with_capacity(tasks.len());
        for part in tasks.chunks(chunk.max(1)) {
            if part.iter().any(|t| t.unique_key.is_some()) {
                ids.extend(insert_unique(conn, persistent, queue, part).await?);
            } else if part.len() >= COPY_FROM && part.iter().all(|t| t.run_at.is_none() && t.concurrency_key.is_none())
            {
                copy_plain(conn, queue, part).await?;
                ids.extend(part.iter().map(|t| t.id));
            } else {
                insert_plain(conn, persistent, queue, part).await?;
                ids.extend(part.iter().map(|t| t.id));
            }
        }
        Ok(ids)
    })
}

/// Insert, then `NOTIFY` in the same transaction (delivered when it commits).
fn notify_on_commit<'a>(
    conn: &'a mut PgConnection,
    persistent: bool,
    queue: &'a str,
    chunk: usize,
    tasks: Vec<NewTask>,
) -> BoxFuture<'a, Result<Vec<TaskId>, BackendError>> {
    Box::pin(async move {
        let ids = insert(conn, persistent, queue, chunk, &tasks).await?;
        if !ids.is_empty() {
            sqlx::query(NOTIFY_SQL)
                .bind(queue)
                .persistent(persistent)
                .execute(&mut *conn)
                .await
                .map_err(|e| db_error("enqueue (notify)", e))?;
        }
        Ok(ids)
    })
}

async fn insert_plain(
    conn: &mut PgConnection,
    persistent: bool,
    queue: &str,
    tasks: &[NewTask],
) -> Result<(), BackendError> {
    let c = Columns::of(tasks);
    sqlx::query(ENQUEUE_SQL)
        .bind(queue)
        .bind(c.ids)
        .bind(c.payloads)
        .bind(c.run_ats)
        .bind(c.priorities)
        .bind(c.max_attempts)
        .bind(c.concurrency_keys)
        .persistent(persistent)
        .execute(&mut *conn)
        .await
        .map_err(|e| db_error("enqueue", e))?;
    Ok(())
}

/// Batches of at least this many plain tasks due now are sent with `COPY`.
const COPY_FROM: usize = 64;

/// The columns `copy_plain` sends; `run_at` and the others take their defaults (now).
const COPY_SQL: &str = "COPY drover.tasks (id, queue, payload, priority, max_attempts) FROM STDIN (FORMAT binary)";

/// Insert plain tasks due now with `COPY … FROM STDIN (FORMAT binary)`: no statement to plan
/// and no arrays to unpack, so the server spends a third less per row than on `INSERT …
/// SELECT FROM unnest(…)`. All or nothing like the statement.
async fn copy_plain(conn: &mut PgConnection, queue: &str, tasks: &[NewTask]) -> Result<(), BackendError> {
    let mut data = Vec::with_capacity(19 + tasks.iter().map(|t| 46 + queue.len() + t.payload.len()).sum::<usize>() + 2);
    data.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    data.extend_from_slice(&0i32.to_be_bytes()); // flags
    data.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    let field = |data: &mut Vec<u8>, bytes: &[u8]| -> Result<(), BackendError> {
        let len = i32::try_from(bytes.len()).map_err(|_| {
            BackendError::Unsupported(format!("a payload of {} bytes is too large for PostgreSQL", bytes.len()))
        })?;
        data.extend_from_slice(&len.to_be_bytes());
        data.extend_from_slice(bytes);
        Ok(())
    };
    for t in tasks {
        data.extend_from_slice(&5i16.to_be_bytes());
        field(&mut data, uuid_of(t.id).as_bytes())?;
        field(&mut data, queue.as_bytes())?;
        field(&mut data, &t.payload)?;
        field(&mut data, &t.priority.to_be_bytes())?;
        field(&mut data, &max_attempts(t).to_be_bytes())?;
    }
    data.extend_from_slice(&(-1i16).to_be_bytes());
    let mut copy = conn.copy_in_raw(COPY_SQL).await.map_err(|e| db_error("enqueue", e))?;
    if let Err(e) = copy.send(data).await {
        let _ = copy.abort("drover: sending the batch failed").await;
        return Err(db_error("enqueue", e));
    }
    copy.finish().await.map_err(|e| db_error("enqueue", e))?;
    Ok(())
}

async fn insert_unique_once(
    conn: &mut PgConnection,
    persistent: bool,
    queue: &str,
    tasks: &[NewTask],
) -> Result<Vec<Option<Uuid>>, BackendError> {
    let c = Columns::of(tasks);
    let rows: Vec<(Option<Uuid>,)> = sqlx::query_as(ENQUEUE_UNIQUE_SQL)
        .bind(queue)
        .bind(c.ids)
        .bind(c.payloads)
        .bind(c.run_ats)
        .bind(c.priorities)
        .bind(c.max_attempts)
        .bind(c.unique_keys)
        .bind(c.concurrency_keys)
        .persistent(persistent)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db_error("enqueue", e))?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Insert a batch that has unique keys. A duplicate's holder that committed after the insert's
/// snapshot is looked up with a fresh one; if it finished meanwhile, the task is inserted again.
async fn insert_unique(
    conn: &mut PgConnection,
    persistent: bool,
    queue: &str,
    tasks: &[NewTask],
) -> Result<Vec<TaskId>, BackendError> {
    let mut ids = insert_unique_once(conn, persistent, queue, tasks).await?;
    for _ in 0..UNIQUE_RACE_TRIES {
        let missing: Vec<usize> = (0..ids.len()).filter(|&i| ids[i].is_none()).collect();
        if missing.is_empty() {
            break;
        }
        let keys: Vec<String> = missing.iter().filter_map(|&i| tasks.get(i)?.unique_key.clone()).collect();
        let holders: HashMap<String, Uuid> = sqlx::query_as(UNIQUE_HOLDERS_SQL)
            .bind(queue)
            .bind(&keys)
            .persistent(persistent)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| db_error("enqueue (unique key look-up)", e))?
            .into_iter()
            .collect();
        let mut again = Vec::new();
        for &i in &missing {
            let holder = tasks.get(i).and_then(|t| t.unique_key.as_ref()).and_then(|k| holders.get(k));
            match holder {
                Some(id) => ids[i] = Some(*id),
                None => again.push(i),
            }
        }
        if again.is_empty() {
            break;
        }
        let retry: Vec<NewTask> = again.iter().filter_map(|&i| tasks.get(i).cloned()).collect();
        for (i, id) in again.into_iter().zip(insert_unique_once(conn, persistent, queue, &retry).await?) {
            ids[i] = id;
        }
    }
    ids.into_iter()
        .map(|id| {
            id.map(task_id).ok_or_else(|| {
                BackendError::server(
                    "enqueue",
                    "a unique key kept changing hands while pushing; try the push again".to_owned(),
                )
            })
        })
        .collect()
}

impl<T, C> Enqueue for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    async fn enqueue(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let chunk = self.inner.config.enqueue_chunk();
        let db = &self.inner.db;
        let ids = if tasks.len() <= chunk && !db.pooled {
            let mut conn = db.pool.acquire().await.map_err(|e| db_error("enqueue", e))?;
            insert(&mut conn, true, self.queue_name(), chunk, &tasks).await?
        } else {
            // Several statements: one transaction keeps the batch all or nothing. Behind a
            // transaction-mode pooler, it also keeps each statement on one server.
            let mut tx = db.pool.begin().await.map_err(|e| db_error("enqueue", e))?;
            let ids = insert(&mut tx, db.persistent(), self.queue_name(), chunk, &tasks).await?;
            tx.commit().await.map_err(|e| db_error("enqueue (commit)", e))?;
            ids
        };
        self.inner.hub.notify_local(self.queue_name());
        self.inner.hub.announce(self.queue_name());
        Ok(ids)
    }
}

impl<T, C> EnqueueInTransaction for PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Transaction = sqlx::Transaction<'static, Postgres>;

    async fn begin(&self) -> Result<Self::Transaction, BackendError> {
        self.inner.db.pool.begin().await.map_err(|e| db_error("begin transaction", e))
    }

    fn push_in<'a>(
        &'a self,
        tx: &'a mut Self::Transaction,
        job: T,
        options: PushOptions,
    ) -> impl std::future::Future<Output = Result<TaskId, BackendError>> + Send + 'a {
        let task = C::encode(&job).map(|payload| NewTask::new(payload, options));
        async move { self.enqueue_in(tx, vec![task?]).await.and_then(first_id) }
    }

    async fn commit(&self, tx: Self::Transaction) -> Result<(), BackendError> {
        tx.commit().await.map_err(|e| db_error("commit", e))?;
        self.inner.hub.notify_local(self.queue_name());
        Ok(())
    }
}

fn first_id(ids: Vec<TaskId>) -> Result<TaskId, BackendError> {
    ids.into_iter()
        .next()
        .ok_or_else(|| BackendError::Corrupt("the backend accepted a push but returned no task id".into()))
}

impl<T, C> PostgresStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// Push `job` inside the caller's own transaction (or on any connection): the task is
    /// visible to workers only when that transaction commits, and gone if it rolls back.
    /// Workers are woken by the `NOTIFY` the commit delivers.
    ///
    /// ```no_run
    /// # use drover_postgres::PostgresStorage;
    /// # async fn run(pool: sqlx::PgPool, storage: PostgresStorage<String>) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("UPDATE users SET welcomed = true WHERE id = $1").bind(42).execute(&mut *tx).await?;
    /// storage.push_in_tx(&mut tx, "welcome user 42".to_owned()).await?;
    /// tx.commit().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn push_in_tx(&self, conn: &mut PgConnection, job: T) -> Result<TaskId, BackendError> {
        self.push_in_tx_with(conn, job, PushOptions::default()).await
    }

    /// [`push_in_tx`](Self::push_in_tx) with options (delay, priority, attempts, unique key).
    pub async fn push_in_tx_with(
        &self,
        conn: &mut PgConnection,
        job: T,
        options: PushOptions,
    ) -> Result<TaskId, BackendError> {
        let task = NewTask::new(C::encode(&job)?, options);
        self.enqueue_in(conn, vec![task]).await.and_then(first_id)
    }

    /// Enqueue already-encoded tasks on the caller's connection or transaction. The
    /// transaction also sends the `NOTIFY` that wakes workers when it commits. With
    /// [`transaction_pooling`](crate::PostgresConfig::set_transaction_pooling), a connection
    /// outside a transaction gets one of its own for the push.
    pub async fn enqueue_in(&self, conn: &mut PgConnection, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        let chunk = self.inner.config.enqueue_chunk();
        let db = &self.inner.db;
        if db.pooled && !sqlx::Connection::is_in_transaction(&*conn) {
            let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(|e| db_error("enqueue (begin)", e))?;
            let ids = notify_on_commit(&mut tx, false, self.queue_name(), chunk, tasks).await?;
            tx.commit().await.map_err(|e| db_error("enqueue (commit)", e))?;
            return Ok(ids);
        }
        notify_on_commit(conn, db.persistent(), self.queue_name(), chunk, tasks).await
    }
}
