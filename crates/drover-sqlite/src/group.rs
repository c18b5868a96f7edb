//! Group commit: the writes that the storages of one database file in this process want to
//! make at the same moment go to SQLite in one round trip.
//!
//! SQLite runs one writer at a time, and every sqlx call is a hop to the connection's worker
//! thread and back, which costs more than a small write itself. So a write is queued, and
//! whoever gets the write turn first (the leader) sends every queued statement, its own and
//! the others', as one multi-statement query in one transaction: one round trip and one
//! commit. When one caller's statement fails, the transaction is rolled back, that caller
//! gets the error and the others are sent again, so each caller's write is all or nothing. A worker's claim and the
//! completions of its last jobs, pushes from producers and lease extensions thus share round
//! trips under load, and cost what they did before when alone.
//!
//! All of it goes through one connection per file (the writer), opened with the options of
//! the first pool that writes: SQLite drops a connection's page cache whenever another
//! connection has written, so one writer keeps its cache warm, and the pool's connections
//! serve reads.
//!
//! This relies on sqlx's SQLite driver running every statement of a query text with its
//! arguments bound in order (`Executor::fetch_many`), which sqlx supports (0.8 and 0.9).

use std::sync::Mutex;

use drover_core::BackendError;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteConnection, SqlitePool, SqliteQueryResult, SqliteRow};
use sqlx::{Arguments, Connection, Either, Executor};
use tokio::sync::{oneshot, Mutex as AsyncMutex, MutexGuard as AsyncMutexGuard};

use crate::batch::{built, execute_on, BoxFuture};
use crate::error::sql;

/// A bound value. Statements keep their values until the leader builds the combined
/// arguments.
#[derive(Clone, Debug)]
pub(crate) enum Param {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Blob(Vec<u8>),
}

impl Param {
    fn add_to(self, args: &mut SqliteArguments) -> Result<(), sqlx::error::BoxDynError> {
        match self {
            Param::Int(v) => args.add(v),
            Param::OptInt(v) => args.add(v),
            Param::Text(v) => args.add(v),
            Param::OptText(v) => args.add(v),
            Param::Blob(v) => args.add(v),
        }
    }
}

/// One SQL statement with anonymous (`?`) parameters and their values in order. Numbered
/// parameters would index the combined arguments, so they are not allowed here.
#[derive(Debug)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) params: Vec<Param>,
}

impl Statement {
    pub(crate) fn new(sql: impl Into<String>, params: Vec<Param>) -> Self {
        Self { sql: sql.into(), params }
    }
}

/// What one statement did.
#[derive(Default)]
pub(crate) struct Done {
    pub(crate) rows: Vec<SqliteRow>,
    pub(crate) changed: u64,
}

type Reply = oneshot::Sender<Result<Vec<Done>, BackendError>>;

struct Pending {
    operation: &'static str,
    statements: Vec<Statement>,
    reply: Reply,
}

/// The write queue and the writer connection of one database file.
#[derive(Default)]
pub(crate) struct Group {
    writer: AsyncMutex<Option<SqliteConnection>>,
    queue: Mutex<Vec<Pending>>,
}

/// The write turn: the writer connection, opened on first use.
pub(crate) struct Turn<'a> {
    guard: AsyncMutexGuard<'a, Option<SqliteConnection>>,
    /// Set while a group query runs: if the leader is cancelled then, the connection may be
    /// left inside a transaction, so it is closed (SQLite rolls back) and reopened next time.
    running: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.running {
            *self.guard = None;
        }
    }
}

impl Turn<'_> {
    /// The writer connection (opened if needed, with `pool`'s options).
    pub(crate) async fn connection(
        &mut self,
        pool: &SqlitePool,
        operation: &'static str,
    ) -> Result<&mut SqliteConnection, BackendError> {
        let slot = &mut *self.guard;
        if slot.is_none() {
            let options = pool.connect_options();
            *slot = Some(connect(&options).await.map_err(|e| sql(operation, e))?);
        }
        slot.as_mut().ok_or_else(|| BackendError::Config("the writer connection vanished".into()))
    }

    /// Close the writer after an error that may have broken it; the next turn reopens it.
    pub(crate) fn reset_after(&mut self, error: &BackendError) {
        if matches!(error, BackendError::Connection { .. }) {
            *self.guard = None;
        }
    }
}

fn connect(options: &SqliteConnectOptions) -> BoxFuture<'_, Result<SqliteConnection, sqlx::Error>> {
    Box::pin(SqliteConnection::connect_with(options))
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}

impl Group {
    /// Wait for the write turn, for writes that need a transaction of their own.
    pub(crate) async fn turn(&self) -> Turn<'_> {
        Turn { guard: self.writer.lock().await, running: false }
    }

    /// Run `statements` in order, all or nothing, possibly in one round trip and transaction
    /// with other callers' statements. Returns what each did.
    pub(crate) async fn write(
        &self,
        pool: &SqlitePool,
        operation: &'static str,
        statements: Vec<Statement>,
    ) -> Result<Vec<Done>, BackendError> {
        let (reply, mut answer) = oneshot::channel();
        self.lock_queue().push(Pending { operation, statements, reply });
        let mut turn = tokio::select! {
            biased;
            // A leader before us took our statements along.
            result = &mut answer => return result.unwrap_or_else(|_| Err(abandoned(operation))),
            guard = self.writer.lock() => Turn { guard, running: false },
        };
        // Writes issued in the same instant (a worker flushing completions and claiming again
        // in one pass of its loop) are still on their way to the queue: let them arrive.
        tokio::task::yield_now().await;
        let batch = std::mem::take(&mut *self.lock_queue());
        turn.running = true;
        let last = match turn.connection(pool, operation).await {
            Ok(conn) => lead(conn, batch).await,
            Err(error) => {
                for pending in batch {
                    let _ = pending.reply.send(Err(copy(&error)));
                }
                Some(error)
            }
        };
        turn.running = false;
        if let Some(error) = last {
            turn.reset_after(&error);
        }
        drop(turn);
        answer.await.unwrap_or_else(|_| Err(abandoned(operation)))
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        // The queue is only pushed to and taken whole, so a poisoned lock holds a valid list.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn abandoned(operation: &'static str) -> BackendError {
    BackendError::connection(
        operation,
        "the write was abandoned before SQLite answered (the task sending it was cancelled); it may or may not \
         have been applied",
    )
}

/// Send every statement of `batch` in one query and one transaction; answer each caller once
/// it has committed. When a caller's statement fails, the transaction is rolled back, that
/// caller gets the error, and the others are sent again. Returns a copy of the last error.
async fn lead(conn: &mut SqliteConnection, mut batch: Vec<Pending>) -> Option<BackendError> {
    let mut last = None;
    while !batch.is_empty() {
        match run(conn, &batch).await {
            Ok(results) => {
                for (pending, done) in batch.into_iter().zip(results) {
                    let _ = pending.reply.send(Ok(done));
                }
                return last;
            }
            Err((at, error)) => {
                // Nothing of this round trip is kept (rolling back is a no-op where the
                // transaction never began).
                let _ = execute_on(conn, "ROLLBACK", SqliteArguments::default()).await;
                let shared = copy(&error);
                last = Some(copy(&error));
                match at {
                    Some(index) if index < batch.len() => {
                        let failed = batch.remove(index);
                        let _ = failed.reply.send(Err(error));
                    }
                    // BEGIN or COMMIT failed: every caller gets the error.
                    _ => {
                        for pending in batch.drain(..) {
                            let _ = pending.reply.send(Err(copy(&shared)));
                        }
                    }
                }
            }
        }
    }
    last
}

/// A copy of a backend error for another caller (the source becomes its text).
fn copy(error: &BackendError) -> BackendError {
    match error {
        BackendError::Connection { operation, source } => BackendError::connection(operation, source.to_string()),
        BackendError::Server { operation, source } => BackendError::server(operation, source.to_string()),
        BackendError::Schema(m) => BackendError::Schema(m.clone()),
        BackendError::Corrupt(m) => BackendError::Corrupt(m.clone()),
        BackendError::Unsupported(m) => BackendError::Unsupported(m.clone()),
        BackendError::LockTimeout(m) => BackendError::LockTimeout(m.clone()),
        other => BackendError::Config(other.to_string()),
    }
}

type Steps<'c> = BoxStream<'c, Result<Either<SqliteQueryResult, SqliteRow>, sqlx::Error>>;

/// Every statement's rows and result, in order (boxed for the reason given at
/// [`BoxFuture`]).
fn fetch_many<'c>(conn: &'c mut SqliteConnection, text: String, args: SqliteArguments) -> Steps<'c> {
    conn.fetch_many(sqlx::query_with(built(text), args))
}

/// Run `BEGIN IMMEDIATE; <every statement of batch>; COMMIT` as one query. On failure, says
/// which caller's statement failed (`None` for BEGIN or COMMIT).
async fn run(conn: &mut SqliteConnection, batch: &[Pending]) -> Result<Vec<Vec<Done>>, (Option<usize>, BackendError)> {
    let mut text = String::from("BEGIN IMMEDIATE");
    let mut args = SqliteArguments::default();
    // The caller of each statement, in order.
    let mut owners = Vec::new();
    for (index, pending) in batch.iter().enumerate() {
        // Cloned, not moved: after a failure the other callers are sent again.
        for statement in &pending.statements {
            text.push_str(";\n");
            text.push_str(&statement.sql);
            owners.push(index);
            for param in statement.params.iter().cloned() {
                param.add_to(&mut args).map_err(|e| (Some(index), BackendError::server(pending.operation, e)))?;
            }
        }
    }
    text.push_str(";\nCOMMIT");
    let mut results: Vec<Vec<Done>> = batch.iter().map(|p| Vec::with_capacity(p.statements.len())).collect();
    let mut done = Done::default();
    // Statements finished so far, BEGIN included.
    let mut finished = 0usize;
    let mut stream = fetch_many(conn, text, args);
    while let Some(step) = stream.next().await {
        match step {
            Ok(Either::Right(row)) => done.rows.push(row),
            Ok(Either::Left(result)) => {
                done.changed = result.rows_affected();
                let done = std::mem::take(&mut done);
                if let Some(&owner) = finished.checked_sub(1).and_then(|i| owners.get(i)) {
                    if let Some(slot) = results.get_mut(owner) {
                        slot.push(done);
                    }
                }
                finished += 1;
            }
            Err(e) => {
                let owner = finished.checked_sub(1).and_then(|i| owners.get(i)).copied();
                let operation = owner.and_then(|i| batch.get(i)).map_or("writing to SQLite", |p| p.operation);
                return Err((owner, sql(operation, e)));
            }
        }
    }
    if finished != owners.len() + 2 {
        return Err((None, BackendError::server("writing to SQLite", "SQLite ran fewer statements than were sent")));
    }
    Ok(results)
}
