//! The storage type, its constructors and set-up.

use std::marker::PhantomData;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use drover_core::{BackendError, JsonCodec, TaskId, WakeupSender};
use sqlx::PgPool;

use crate::config::PgmqConfig;
use crate::error::{db_error, INSTALL_HINT};
use crate::name::Tables;

/// The statements of one queue, with its checked name written in once.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) claim: Arc<str>,
    pub(crate) complete: Arc<str>,
    pub(crate) extend: Arc<str>,
    pub(crate) release: Arc<str>,
    pub(crate) tasks: Arc<str>,
    pub(crate) cancel: Arc<str>,
    pub(crate) requeue_dead: Arc<str>,
    pub(crate) requeue_cancelled: Arc<str>,
    pub(crate) prune_archive: Arc<str>,
    pub(crate) prune_dead: Arc<str>,
}

impl Statements {
    fn of(tables: &Tables) -> Self {
        let sql = |template: &str| Arc::from(tables.sql(template));
        Self {
            claim: sql(include_str!("../sql/claim.sql")),
            complete: sql(include_str!("../sql/complete.sql")),
            extend: sql(include_str!("../sql/extend.sql")),
            release: sql(include_str!("../sql/release.sql")),
            tasks: sql(include_str!("../sql/tasks.sql")),
            cancel: sql(include_str!("../sql/cancel.sql")),
            requeue_dead: sql(include_str!("../sql/requeue_dead.sql")),
            requeue_cancelled: sql(include_str!("../sql/requeue_cancelled.sql")),
            prune_archive: sql(include_str!("../sql/prune_archive.sql")),
            prune_dead: sql(include_str!("../sql/prune_dead.sql")),
        }
    }
}

/// The pushes of `pgmq.send_batch`; see `sql/send.sql`.
pub(crate) const SEND_SQL: &str = include_str!("../sql/send.sql");

/// The functions this crate calls, with the argument types it binds: present from pgmq 1.11 on.
const REQUIRED_FUNCTIONS: &str = "SELECT \
     to_regprocedure('pgmq.send_batch(text, jsonb[], jsonb[], timestamp with time zone)') IS NOT NULL \
     AND to_regprocedure('pgmq.create(text)') IS NOT NULL \
     AND to_regprocedure('pgmq.metrics(text)') IS NOT NULL";

pub(crate) struct Inner {
    pub(crate) pool: PgPool,
    pub(crate) config: PgmqConfig,
    /// The checked tables, or why the queue name was refused (reported by every call).
    pub(crate) tables: Result<Tables, String>,
    pub(crate) statements: Option<Statements>,
    /// Wakes this process's idle workers of the queue.
    pub(crate) wakeup: WakeupSender,
    /// Whether the `LISTEN` task runs.
    pub(crate) listening: AtomicBool,
    /// The queue name as resolved (shown even when it was refused).
    pub(crate) queue: String,
}

/// A pgmq queue as a Drover storage: jobs are pgmq messages of `pgmq.q_<queue>`, whose body is
/// the job's JSON; claims are reads under a visibility timeout, fenced by `read_ct`; dead tasks
/// go to the pgmq queue `<queue>_dead`. Any pgmq client can send jobs to the queue and read the
/// dead queue. Clones are cheap and share the pool.
///
/// ```no_run
/// use drover_core::Enqueue;
/// use drover_pgmq::{PgmqConfig, PgmqStorage};
/// use sqlx::PgPool;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
/// let storage: PgmqStorage<String> = PgmqStorage::new_with_config(pool, PgmqConfig::new("emails"));
/// storage.setup().await?; // pgmq.create('emails') and pgmq.create('emails_dead')
/// storage.push("hello@example.com".to_owned()).await?;
/// # Ok(())
/// # }
/// ```
pub struct PgmqStorage<T, C = JsonCodec> {
    pub(crate) inner: Arc<Inner>,
    _job: PhantomData<fn() -> (T, C)>,
}

impl<T, C> Clone for PgmqStorage<T, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), _job: PhantomData }
    }
}

impl<T, C> std::fmt::Debug for PgmqStorage<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgmqStorage").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl<T> PgmqStorage<T> {
    /// A storage for the queue named after the job type (`Email` → `email`; see
    /// [`default_queue_name`](drover_core::default_queue_name)), JSON-encoded.
    pub fn new(pool: PgPool) -> Self {
        Self::new_with_config(pool, PgmqConfig::default())
    }

    /// A storage with `config`, JSON-encoded. A queue name pgmq cannot take makes every call
    /// fail with `BackendError::Config` naming it.
    pub fn new_with_config(pool: PgPool, config: PgmqConfig) -> Self {
        Self::with_codec(pool, config)
    }
}

impl<T, C> PgmqStorage<T, C> {
    /// A storage with `config` and the codec `C`.
    pub fn with_codec(pool: PgPool, config: PgmqConfig) -> Self {
        let queue = drover_core::resolve_queue_name::<T>(config.queue());
        let config = config.set_queue(queue.clone());
        let tables = Tables::of(&queue).map_err(|e| e.to_string());
        let statements = tables.as_ref().ok().map(Statements::of);
        let inner = Inner {
            pool,
            config,
            tables,
            statements,
            wakeup: WakeupSender::new(),
            listening: AtomicBool::new(false),
            queue,
        };
        Self { inner: Arc::new(inner), _job: PhantomData }
    }

    /// A storage of another job type or queue on the same pool.
    pub fn with_config<U, D>(&self, config: PgmqConfig) -> PgmqStorage<U, D> {
        PgmqStorage::with_codec(self.inner.pool.clone(), config)
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The configuration, with the queue in use set (the job type's default when none was).
    pub fn config(&self) -> &PgmqConfig {
        &self.inner.config
    }

    /// The pgmq queue this storage reads and writes.
    pub fn queue_name(&self) -> &str {
        &self.inner.queue
    }

    /// The pgmq queue dead tasks go to, `<queue>_dead`.
    pub fn dead_queue_name(&self) -> String {
        format!("{}{}", self.inner.queue, crate::name::DEAD_SUFFIX)
    }

    /// The checked tables, or the refusal of the queue name.
    pub(crate) fn tables(&self) -> Result<&Tables, BackendError> {
        self.inner.tables.as_ref().map_err(|e| BackendError::Config(e.clone()))
    }

    /// The statements of this queue, or the refusal of its name.
    pub(crate) fn statements(&self) -> Result<&Statements, BackendError> {
        self.tables()?;
        self.inner.statements.as_ref().ok_or_else(|| BackendError::Config("the queue name was refused".into()))
    }

    /// Check that pgmq is installed, then create the queue and its dead queue (`pgmq.create`,
    /// which does nothing for a queue that exists) and, when the config asks for it, enable
    /// pgmq's insert notification. Safe to run at every start-up, from several processes.
    ///
    /// Fails with `BackendError::Schema` saying how to install pgmq when it is missing, and
    /// with `BackendError::Config` for a queue name pgmq cannot take.
    pub async fn setup(&self) -> Result<(), BackendError> {
        let tables = self.tables()?;
        let pool = &self.inner.pool;
        let present: (Option<bool>,) = sqlx::query_as(REQUIRED_FUNCTIONS)
            .fetch_one(pool)
            .await
            .map_err(|e| db_error("setup (looking for pgmq)", &tables.queue, e))?;
        if present.0 != Some(true) {
            return Err(BackendError::Schema(format!(
                "setup failed: pgmq 1.11 or newer is not installed in this database (no pgmq.send_batch with \
                 headers and a timestamp delay); {INSTALL_HINT}"
            )));
        }
        for queue in [&tables.queue, &tables.dead] {
            sqlx::query("SELECT pgmq.create($1)")
                .bind(queue)
                .execute(pool)
                .await
                .map_err(|e| db_error("setup (pgmq.create)", queue, e))?;
        }
        if let Some(throttle) = self.inner.config.notify_insert() {
            let millis = i32::try_from(throttle.as_millis()).unwrap_or(i32::MAX);
            sqlx::query("SELECT pgmq.enable_notify_insert($1, $2)")
                .bind(&tables.queue)
                .bind(millis)
                .execute(pool)
                .await
                .map_err(|e| db_error("setup (pgmq.enable_notify_insert)", &tables.queue, e))?;
        }
        Ok(())
    }

    /// Drop the queue and its dead queue with `pgmq.drop_queue`: every message, archived or
    /// not, is gone.
    pub async fn drop_queues(&self) -> Result<(), BackendError> {
        let tables = self.tables()?;
        for queue in [&tables.queue, &tables.dead] {
            sqlx::query("SELECT pgmq.drop_queue($1)")
                .bind(queue)
                .execute(&self.inner.pool)
                .await
                .map_err(|e| db_error("drop queue (pgmq.drop_queue)", queue, e))?;
        }
        Ok(())
    }
}

/// The task id of the pgmq message `msg_id` of the queue: its number, as the id's 128 bits.
/// A task keeps it in the dead queue and when requeued.
///
/// ```
/// let id = drover_pgmq::task_id(42);
/// assert_eq!(drover_pgmq::msg_id(id), Some(42));
/// ```
pub fn task_id(msg_id: i64) -> TaskId {
    TaskId::from_u128(u128::from(msg_id.unsigned_abs()))
}

/// The pgmq `msg_id` of a task id made by [`task_id`]; `None` for an id that names no pgmq
/// message (a ULID made elsewhere).
pub fn msg_id(id: TaskId) -> Option<i64> {
    i64::try_from(id.to_u128()).ok()
}
