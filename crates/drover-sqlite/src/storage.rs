//! The storage type and its constructors.

use std::marker::PhantomData;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use drover_core::{BackendError, JsonCodec, WakeupSender};
use sqlx::sqlite::{SqliteArguments, SqlitePool};
use sqlx::Arguments;

use crate::config::SqliteConfig;
use crate::hub::Hub;

pub(crate) struct Inner {
    pub(crate) pool: SqlitePool,
    pub(crate) config: SqliteConfig,
    /// The queue, resolved for the job type.
    pub(crate) queue: String,
    pub(crate) hub: Arc<Hub>,
    pub(crate) wakeup: WakeupSender,
    /// When the last claim that checked first ran (ms), or 0 after a short claim: while
    /// claims come back full, the read-only check is skipped for up to a second.
    pub(crate) checked_at: AtomicI64,
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
            .field("queue", &self.inner.queue)
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
    /// The queue named after the job type (`Email` → `email`; see
    /// [`default_queue_name`](drover_core::default_queue_name)) in `pool`'s database. Run
    /// [`SqliteStorage::setup`] once first.
    pub fn new(pool: SqlitePool) -> Self {
        Self::new_with_config(pool, SqliteConfig::default())
    }

    /// The queue and settings of `config` in `pool`'s database.
    pub fn new_with_config(pool: SqlitePool, config: SqliteConfig) -> Self {
        Self::with_codec(pool, config)
    }

    /// Open `url` with [`connect_pool`](crate::connect_pool) (WAL, busy timeout,
    /// `synchronous = NORMAL`, a pool sized for one writer), run [`SqliteStorage::setup`], and
    /// serve the queue named after the job type.
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
        let queue = drover_core::resolve_queue_name::<T>(config.queue());
        // `config()` reports the queue in use, not only one set explicitly.
        let config = config.set_queue(queue.clone());
        let hub = Hub::of(&pool.connect_options());
        let wakeup = hub.wakeup(&queue);
        let inner = Inner { pool, config, queue, hub, wakeup, checked_at: AtomicI64::new(0) };
        Self { inner: Arc::new(inner), _job: PhantomData }
    }

    /// The same database with another queue (and job type): storages share the pool.
    pub fn with_config<U, D>(&self, config: SqliteConfig) -> SqliteStorage<U, D> {
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

/// Add one bind argument, turning an encode failure into a backend error.
pub(crate) fn add<'q, V>(args: &mut SqliteArguments, value: V, operation: &'static str) -> Result<(), BackendError>
where
    V: sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    args.add(value).map_err(|e| BackendError::server(operation, e))
}
