//! The storage type: constructors, and the consume side (claim, complete, extend, release).

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use drover_core::{
    Backend, BackendError, ClaimRequest, ClaimedTask, Codec, Completion, JsonCodec, Lease, LeaseToken, Outcome, Wakeup,
    WakeupSender, LEASE_EXPIRED_ON_LAST_ATTEMPT,
};
use sqlx::sqlite::{SqliteArguments, SqlitePool};
use sqlx::{Arguments, Row};

use crate::batch::{chunks_of, execute_all, values};
use crate::codec::{after, id_bytes, id_from, now_millis};
use crate::config::SqliteConfig;
use crate::error::sql;
use crate::hub::Hub;

pub(crate) struct Inner {
    pub(crate) pool: SqlitePool,
    pub(crate) config: SqliteConfig,
    pub(crate) hub: Arc<Hub>,
    pub(crate) wakeup: WakeupSender,
}

/// A queue stored in a SQLite database (a file, or memory), implementing every capability of
/// the contract. Clones share the pool and are cheap.
///
/// ```no_run
/// use drover_core::Enqueue;
/// use drover_sqlite::{SqliteConfig, SqliteStorage};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), drover_core::BackendError> {
/// let pool = drover_sqlite::connect_pool("sqlite://drover.db").await?;
/// SqliteStorage::setup(&pool).await?;
/// let storage: SqliteStorage<String> = SqliteStorage::new_with_config(pool, SqliteConfig::new("email"));
/// storage.push("user@example.com".to_owned()).await?;
/// # Ok(())
/// # }
/// ```
pub struct SqliteStorage<T, C = JsonCodec> {
    pub(crate) inner: Arc<Inner>,
    _job: PhantomData<fn() -> (T, C)>,
}

impl<T, C> Clone for SqliteStorage<T, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), _job: PhantomData }
    }
}

impl<T, C> std::fmt::Debug for SqliteStorage<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("queue", &self.inner.config.queue())
            .field("database", &self.inner.pool.connect_options().get_filename())
            .finish()
    }
}

impl SqliteStorage<()> {
    /// Create or upgrade drover's tables in `pool`'s database (embedded, versioned
    /// migrations recorded in `drover_migrations`). Safe to call on every start, from several
    /// processes at once.
    pub async fn setup(pool: &SqlitePool) -> Result<(), BackendError> {
        crate::migrate::run(pool).await
    }
}

impl<T> SqliteStorage<T> {
    /// The queue `default` in `pool`'s database. Run [`SqliteStorage::setup`] once first.
    pub fn new(pool: SqlitePool) -> Self {
        Self::new_with_config(pool, SqliteConfig::default())
    }

    /// The queue and settings of `config` in `pool`'s database.
    pub fn new_with_config(pool: SqlitePool, config: SqliteConfig) -> Self {
        Self::with_codec(pool, config)
    }

    /// Open `url` with [`connect_pool`](crate::connect_pool) (WAL, busy timeout,
    /// `synchronous = NORMAL`, a pool sized for one writer), run [`SqliteStorage::setup`], and
    /// serve the queue `default`.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), drover_core::BackendError> {
    /// let storage = drover_sqlite::SqliteStorage::<String>::connect("sqlite://drover.db?mode=rwc").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, BackendError> {
        Self::connect_with_config(url, SqliteConfig::default()).await
    }

    /// Like [`SqliteStorage::connect`], for the queue and settings of `config`.
    pub async fn connect_with_config(url: &str, config: SqliteConfig) -> Result<Self, BackendError> {
        let pool = crate::connect_pool(url).await?;
        SqliteStorage::setup(&pool).await?;
        Ok(Self::new_with_config(pool, config))
    }
}

impl<T, C> SqliteStorage<T, C> {
    /// The queue of `config` in `pool`'s database, with the codec `C`.
    pub fn with_codec(pool: SqlitePool, config: SqliteConfig) -> Self {
        let hub = Hub::of(&pool.connect_options());
        let wakeup = hub.wakeup(config.queue());
        Self { inner: Arc::new(Inner { pool, config, hub, wakeup }), _job: PhantomData }
    }

    /// The same database with another queue (and job type): storages share the pool.
    pub fn for_queue<U, D>(&self, queue: impl Into<String>) -> SqliteStorage<U, D> {
        let config = SqliteConfig::new(queue).prune_batch(self.inner.config.get_prune_batch());
        SqliteStorage::with_codec(self.inner.pool.clone(), config)
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    /// The settings.
    pub fn config(&self) -> &SqliteConfig {
        &self.inner.config
    }

    /// Wake the workers of this queue in this process.
    pub(crate) fn notify(&self) {
        self.inner.wakeup.notify();
    }
}

/// Whether anything is due, and whether any lease expired. A read: in WAL mode it never
/// waits for a writer, so an idle poll, or a claim while another connection holds a write
/// transaction open, costs no write lock.
const CLAIMABLE: &str = "\
SELECT EXISTS (SELECT 1 FROM drover_tasks
               WHERE queue = ?1 AND status = 'pending' AND run_at <= ?2),
       EXISTS (SELECT 1 FROM drover_tasks
               WHERE queue = ?1 AND status = 'running' AND lease_expires_at <= ?2)";

/// A task whose lease expired on its last attempt is dead, not claimed again: a job that
/// kills its worker must not run forever.
const EXPIRE_LAST_ATTEMPTS: &str = "\
UPDATE drover_tasks
SET status = 'dead', last_error = ?3, lease_token = NULL, lease_expires_at = NULL, updated_at = ?2
WHERE queue = ?1 AND status = 'running' AND lease_expires_at <= ?2 AND attempt >= max_attempts";

/// The claim: one statement picks the best `?5` due tasks (pending and due, or running with
/// an expired lease), highest priority then oldest run time, and leases them, each with its
/// own random token. Each branch reads its partial index in order and stops at the limit.
const CLAIM: &str = "\
UPDATE drover_tasks
SET status = 'running', attempt = attempt + 1, lease_token = random(), lease_expires_at = ?3,
    claimed_by = ?4, updated_at = ?2
WHERE id IN (
    SELECT id FROM (
        SELECT * FROM (SELECT id, priority, run_at FROM drover_tasks
                       WHERE queue = ?1 AND status = 'pending' AND run_at <= ?2
                       ORDER BY priority DESC, run_at, id LIMIT ?5)
        UNION ALL
        SELECT * FROM (SELECT id, priority, run_at FROM drover_tasks
                       WHERE queue = ?1 AND status = 'running' AND lease_expires_at <= ?2
                             AND attempt < max_attempts
                       ORDER BY priority DESC, run_at, id LIMIT ?5)
    )
    ORDER BY priority DESC, run_at, id LIMIT ?5
)
RETURNING id, lease_token, attempt, max_attempts, payload, priority, run_at";

/// Completions joined against a `VALUES` list of (id, token, status, run_at, error): one
/// statement for a whole batch, applied only where the token still holds.
const COMPLETE_HEAD: &str = "\
UPDATE drover_tasks
SET status = c.column3,
    run_at = COALESCE(c.column4, drover_tasks.run_at),
    last_error = COALESCE(c.column5, drover_tasks.last_error),
    lease_token = NULL, lease_expires_at = NULL, updated_at = ?1
FROM (";
const COMPLETE_TAIL: &str = ") AS c
WHERE drover_tasks.id = c.column1 AND drover_tasks.lease_token = c.column2
  AND drover_tasks.status = 'running'";

const EXTEND_HEAD: &str = "UPDATE drover_tasks SET lease_expires_at = ?1 FROM (";
const RELEASE_HEAD: &str = "\
UPDATE drover_tasks
SET status = 'pending', attempt = MAX(attempt - 1, 0), lease_token = NULL, lease_expires_at = NULL,
    updated_at = ?1
FROM (";
const LEASES_TAIL: &str = ") AS c
WHERE drover_tasks.id = c.column1 AND drover_tasks.lease_token = c.column2
  AND drover_tasks.status = 'running'";

impl<T, C> SqliteStorage<T, C> {
    /// Run `head VALUES (id, token), … tail` over `leases` with `?1` bound to `first`.
    async fn update_leases(
        &self,
        operation: &'static str,
        head: &str,
        leases: &[Lease],
        first: i64,
    ) -> Result<(), BackendError> {
        let mut statements = Vec::new();
        for chunk in leases.chunks(chunks_of(2)) {
            let statement = format!("{head}{}{LEASES_TAIL}", values(chunk.len(), 2, 2));
            let mut args = SqliteArguments::default();
            add(&mut args, first, operation)?;
            for lease in chunk {
                add(&mut args, id_bytes(lease.id).to_vec(), operation)?;
                add(&mut args, lease.token.0, operation)?;
            }
            statements.push((statement, args));
        }
        let _turn = self.inner.hub.write_turn().await;
        execute_all(&self.inner.pool, operation, statements).await.map(|_| ())
    }
}

/// Add one bind argument, turning an encode failure into a backend error.
pub(crate) fn add<'q, V>(args: &mut SqliteArguments<'q>, value: V, operation: &'static str) -> Result<(), BackendError>
where
    V: 'q + Send + sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    args.add(value).map_err(|e| BackendError::server(operation, e))
}

impl<T, C> Backend for SqliteStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Job = T;
    type Codec = C;

    fn queue(&self) -> &str {
        self.inner.config.queue()
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        const OP: &str = "claiming tasks";
        if request.max == 0 {
            return Ok(Vec::new());
        }
        let queue = self.queue();
        let now = now_millis();
        let (due, expired): (bool, bool) = sqlx::query_as(CLAIMABLE)
            .bind(queue)
            .bind(now)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(|e| sql(OP, e))?;
        if !due && !expired {
            return Ok(Vec::new());
        }
        let _turn = self.inner.hub.write_turn().await;
        // The clock is read again inside the turn, so the lease starts when the claim does.
        let now = now_millis();
        if expired {
            sqlx::query(EXPIRE_LAST_ATTEMPTS)
                .bind(queue)
                .bind(now)
                .bind(LEASE_EXPIRED_ON_LAST_ATTEMPT)
                .execute(&self.inner.pool)
                .await
                .map_err(|e| sql(OP, e))?;
        }
        let rows = sqlx::query(CLAIM)
            .bind(queue)
            .bind(now)
            .bind(after(now, request.lease))
            .bind(&*request.worker)
            .bind(i64::try_from(request.max).unwrap_or(i64::MAX))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| sql(OP, e))?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let id = id_from(&row.try_get::<Vec<u8>, _>(0).map_err(|e| sql(OP, e))?)?;
            let token: i64 = row.try_get(1).map_err(|e| sql(OP, e))?;
            let attempt: i64 = row.try_get(2).map_err(|e| sql(OP, e))?;
            let max_attempts: i64 = row.try_get(3).map_err(|e| sql(OP, e))?;
            let payload: Vec<u8> = row.try_get(4).map_err(|e| sql(OP, e))?;
            let priority: i64 = row.try_get(5).map_err(|e| sql(OP, e))?;
            let run_at: i64 = row.try_get(6).map_err(|e| sql(OP, e))?;
            let task = ClaimedTask::new(
                id,
                LeaseToken(token),
                u32::try_from(attempt).unwrap_or(u32::MAX),
                u32::try_from(max_attempts).unwrap_or(u32::MAX),
                payload,
            );
            claimed.push(((std::cmp::Reverse(priority), run_at, id), task));
        }
        // RETURNING gives rows in no particular order; the worker starts them in claim order.
        claimed.sort_unstable_by_key(|(key, _)| *key);
        Ok(claimed.into_iter().map(|(_, task)| task).collect())
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        const OP: &str = "recording completions";
        if batch.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        let mut wake = false;
        let mut statements = Vec::new();
        for chunk in batch.chunks(chunks_of(5)) {
            let statement = format!("{COMPLETE_HEAD}{}{COMPLETE_TAIL}", values(chunk.len(), 5, 2));
            let mut args = SqliteArguments::default();
            add(&mut args, now, OP)?;
            for Completion { lease, outcome } in chunk {
                add(&mut args, id_bytes(lease.id).to_vec(), OP)?;
                add(&mut args, lease.token.0, OP)?;
                let (status, run_at, error) = match outcome {
                    Outcome::Done => ("done", None, None),
                    Outcome::Dead { error } => ("dead", None, Some(error.clone())),
                    Outcome::Retry { delay, error } => {
                        wake |= delay.is_zero();
                        ("pending", Some(after(now, *delay)), Some(error.clone()))
                    }
                };
                add(&mut args, status, OP)?;
                add(&mut args, run_at, OP)?;
                add(&mut args, error, OP)?;
            }
            statements.push((statement, args));
        }
        {
            let _turn = self.inner.hub.write_turn().await;
            execute_all(&self.inner.pool, OP, statements).await?;
        }
        if wake {
            self.notify();
        }
        Ok(())
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        if leases.is_empty() {
            return Ok(());
        }
        self.update_leases("extending leases", EXTEND_HEAD, &leases, after(now_millis(), lease)).await
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        if leases.is_empty() {
            return Ok(());
        }
        self.update_leases("handing back unstarted tasks", RELEASE_HEAD, &leases, now_millis()).await?;
        self.notify();
        Ok(())
    }

    fn wakeup(&self) -> Option<Wakeup> {
        Some(self.inner.wakeup.subscribe())
    }
}
