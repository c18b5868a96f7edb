//! The storage type, its constructors and set-up.

use std::marker::PhantomData;
use std::sync::Arc;

use drover_core::{BackendError, JsonCodec};
use sqlx::PgPool;

use crate::config::{ClaimCommit, PostgresConfig};
use crate::db::Db;
use crate::listener::{Hub, Source};
use crate::migrate;

/// The claim statement; see `sql/claim.sql`.
const CLAIM_SQL: &str = include_str!("../sql/claim.sql");

/// Appended to the claim's `WHERE` for [`ClaimCommit::Asynchronous`]: an initplan run once per
/// statement that turns `synchronous_commit` off for this transaction only.
const ASYNC_CLAIM_COMMIT: &str = "AND (SELECT set_config('synchronous_commit', 'off', true)) = 'off'";

pub(crate) struct Inner {
    /// The pool, and whether it is behind a transaction-mode pooler.
    pub(crate) db: Db,
    pub(crate) config: PostgresConfig,
    /// The queue, resolved for the job type.
    pub(crate) queue: String,
    pub(crate) hub: Arc<Hub>,
    /// Shared, so each claim hands sqlx a reference count instead of a copy of the text.
    pub(crate) claim_sql: Arc<str>,
    /// The claim of a capped queue, run under the settings row's lock.
    pub(crate) capped_claim_sql: Arc<str>,
    /// Whether the queue was capped at the last look: its claims take the locked path.
    pub(crate) capped: std::sync::atomic::AtomicBool,
    /// The claim of a queue with only a per-key limit ($6: the limit as last seen).
    pub(crate) keyed_claim_sql: Arc<str>,
    /// Whether the queue had only a per-key limit at the last look (its K; 0: no).
    pub(crate) keyed: std::sync::atomic::AtomicU32,
    /// The plain and the keyed claim in their HINTED form (see `hint.rs`): the due scan starts
    /// at the hint ($6-$8 after the statement's own parameters), no expired-lease scan.
    pub(crate) hinted_claim_sql: Arc<str>,
    pub(crate) hinted_keyed_claim_sql: Arc<str>,
    pub(crate) hints: crate::hint::ClaimHints,
}

/// A PostgreSQL queue: tasks live in `drover.tasks`, claimed with `FOR UPDATE SKIP LOCKED`,
/// woken by `LISTEN/NOTIFY`. Implements every capability of the contract. Clones are cheap and
/// share the pool and the listener.
///
/// ```no_run
/// use drover_core::Enqueue;
/// use drover_postgres::PostgresStorage;
/// use sqlx::PgPool;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let database_url = std::env::var("DATABASE_URL")?;
/// let pool = PgPool::connect(&database_url).await?;
/// PostgresStorage::setup(&pool).await?;
/// let storage = PostgresStorage::new(pool);
/// storage.push("hello@example.com".to_owned()).await?;
/// # Ok(())
/// # }
/// ```
pub struct PostgresStorage<T, C = JsonCodec> {
    pub(crate) inner: Arc<Inner>,
    _job: PhantomData<fn() -> (T, C)>,
}

impl<T, C> Clone for PostgresStorage<T, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), _job: PhantomData }
    }
}

impl<T, C> std::fmt::Debug for PostgresStorage<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl PostgresStorage<()> {
    /// Create or upgrade the `drover` schema: embedded, versioned migrations, each applied once
    /// in a transaction under an advisory lock. Safe to run at every start-up, from several
    /// processes at once.
    pub async fn setup(pool: &PgPool) -> Result<(), BackendError> {
        migrate::setup(pool).await
    }

    /// The schema version this crate's migrations bring the database to.
    pub fn schema_version() -> i32 {
        migrate::latest_version()
    }
}

impl<T> PostgresStorage<T> {
    /// A storage for the queue named after the job type (`Email` → `email`; see
    /// [`default_queue_name`](drover_core::default_queue_name)), JSON-encoded.
    pub fn new(pool: PgPool) -> Self {
        Self::new_with_config(pool, PostgresConfig::default())
    }

    /// A storage with `config` (queue name, batch sizes, wake-ups, retention), JSON-encoded.
    pub fn new_with_config(pool: PgPool, config: PostgresConfig) -> Self {
        Self::with_codec(pool, config)
    }
}

impl<T, C> PostgresStorage<T, C> {
    /// A storage with `config` and the codec `C`.
    pub fn with_codec(pool: PgPool, config: PostgresConfig) -> Self {
        let queue = drover_core::resolve_queue_name::<T>(config.queue());
        // `config()` reports the queue in use, not only one set explicitly.
        let config = config.set_queue(queue.clone());
        let db = Db::new(pool, config.transaction_pooling());
        let source = match (config.listen_url(), db.pooled) {
            (Some(url), _) => Source::Url(url.to_owned()),
            (None, false) => Source::Pool,
            (None, true) => Source::Off,
        };
        let hub = Hub::for_pool(&db, source);
        let claim = match config.claim_commit() {
            ClaimCommit::Synchronous => CLAIM_SQL.to_owned(),
            ClaimCommit::Asynchronous => CLAIM_SQL.replace("/*COMMIT_MODE*/", ASYNC_CLAIM_COMMIT),
        };
        let plain = claim
            .replace("/*CAPPED*/", "OR max_running IS NOT NULL OR rate_starts IS NOT NULL OR max_per_key IS NOT NULL")
            .replace("/*KEYED*/", "");
        let keyed = claim
            .replace("/*CAPPED*/", "OR max_running IS NOT NULL OR rate_starts IS NOT NULL")
            .replace("/*KEYED*/", KEYED_FILTER);
        let inner = Inner {
            db,
            config,
            queue,
            hub,
            hinted_claim_sql: Arc::from(hinted(&plain, 6)),
            hinted_keyed_claim_sql: Arc::from(hinted(&keyed, 7)),
            claim_sql: Arc::from(plain),
            keyed_claim_sql: Arc::from(keyed),
            capped_claim_sql: Arc::from(claim.replace("/*KEYED*/", "")),
            capped: std::sync::atomic::AtomicBool::new(false),
            keyed: std::sync::atomic::AtomicU32::new(0),
            hints: crate::hint::ClaimHints::default(),
        };
        Self { inner: Arc::new(inner), _job: PhantomData }
    }

    /// A storage of another job type or queue on the same pool and listener.
    pub fn with_config<U, D>(&self, config: PostgresConfig) -> PostgresStorage<U, D> {
        PostgresStorage::with_codec(self.inner.db.pool.clone(), config)
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.inner.db.pool
    }

    /// The configuration, with the queue in use set (the job type's default when none was).
    pub fn config(&self) -> &PostgresConfig {
        &self.inner.config
    }

    pub(crate) fn queue_name(&self) -> &str {
        &self.inner.queue
    }
}

/// `claim` in its HINTED form, the hint's priority, run_at and id as parameters `$first`
/// onwards: the due scan starts at the hint (an index range on tasks_pending_claim_idx), and
/// the expired-lease scan is left out.
fn hinted(claim: &str, first: usize) -> String {
    let filter =
        format!("AND priority = ${first} AND (run_at, id) >= (${}::timestamptz, ${}::uuid)", first + 1, first + 2);
    claim.replace("/*HINT*/", &filter).replace("/*EXPIRED*/", "AND false")
}

/// The per-key limit ($6) in the claim of a queue that has only that limit, as this process
/// saw it last: a claim takes nothing unless the queue's limit is still $6 (so a changed
/// limit holds from the next claim on; the storage then looks again and claims with the new
/// one). A keyed task is claimable while fewer than $6 tasks of its key pushed before it are
/// unfinished (tasks_concurrency_key_idx) and fewer than $6 of its key hold live leases
/// (tasks_key_lease_idx: written with the unfinished statuses so that it cannot be served from
/// the lease index), each count stopping at $6. Claims run concurrently, as plain ones: the tasks of one claim are
/// each key's first $6, and a task's claim only ever makes a later one wait.
const KEYED_FILTER: &str = "AND $6 = (SELECT max_per_key FROM drover.queue_settings WHERE queue = $1) \
    AND (concurrency_key IS NULL OR ( \
    (SELECT count(*) FROM (SELECT 1 FROM drover.tasks AS u WHERE u.queue = $1 \
        AND u.concurrency_key = drover.tasks.concurrency_key AND u.status IN ('pending', 'running') \
        AND u.id < drover.tasks.id LIMIT $6) AS earlier) < $6 \
    AND (SELECT count(*) FROM (SELECT 1 FROM drover.tasks AS u WHERE u.queue = $1 \
        AND u.concurrency_key = drover.tasks.concurrency_key AND u.status IN ('pending', 'running') \
        AND u.lease_expires_at > now() LIMIT $6) AS live) < $6))";
