//! [`MysqlStorage`]: the storage type, its constructors, and the consume side of the contract.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use drover_core::{
    Backend, BackendError, ClaimRequest, ClaimedTask, Codec, Completion, JsonCodec, Lease, Outcome, Wakeup,
    WakeupSender,
};
use sqlx::MySqlPool;

use crate::claim::{Claimed, Mode};
use crate::config::MysqlConfig;
use crate::{claim, complete, migrate};

pub(crate) struct Shared {
    pub(crate) pool: MySqlPool,
    pub(crate) config: MysqlConfig,
    /// The queue, resolved for the job type.
    pub(crate) queue: String,
    /// Why the configuration cannot be used (a queue name too long for the column), reported
    /// by every claim and push instead of at construction, so constructors never fail.
    pub(crate) invalid: Option<String>,
    /// Wakes this process's idle workers when this process pushes; workers in other processes
    /// find new tasks at their poll interval (MySQL has no LISTEN/NOTIFY).
    pub(crate) wakeup: WakeupSender,
    /// 0 when the queue had no limits at the last claim; otherwise its claims go straight to
    /// the limited form (the plain one would find nothing), and lock at most this many
    /// candidates ([`claim::most_allowed`]). A claim in the limited form that finds no limits
    /// sets it back to 0.
    pub(crate) limited: AtomicUsize,
    /// The queue's per-key limit at the last limited claim (0: none), which the limited
    /// form's candidate query is written for; a claim that finds another one claims again.
    pub(crate) per_key: AtomicU32,
}

/// A queue stored in MySQL 8 or MariaDB 10.6+, in the `drover_tasks` table, for jobs of type
/// `T` encoded by `C` (JSON by default). Clones share the pool and the configuration.
///
/// ```no_run
/// use drover_core::Enqueue;
/// use drover_mysql::MysqlStorage;
/// use sqlx::MySqlPool;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = MySqlPool::connect("mysql://root@127.0.0.1:3306/test").await?;
/// MysqlStorage::setup(&pool).await?;
/// let storage: MysqlStorage<String> = MysqlStorage::new(pool);
/// storage.push("hello".to_owned()).await?;
/// # Ok(())
/// # }
/// ```
pub struct MysqlStorage<T, C = JsonCodec> {
    pub(crate) shared: Arc<Shared>,
    _job: PhantomData<fn() -> (T, C)>,
}

impl<T, C> Clone for MysqlStorage<T, C> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone(), _job: PhantomData }
    }
}

impl<T, C> std::fmt::Debug for MysqlStorage<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlStorage").field("queue", &self.shared.config.queue()).finish()
    }
}

impl MysqlStorage<()> {
    /// Create or update Drover's tables (embedded, versioned migrations). Safe to call from
    /// many processes at once: they take turns through `GET_LOCK`, and each migration runs
    /// once.
    pub async fn setup(pool: &MySqlPool) -> Result<(), BackendError> {
        migrate::run(pool).await
    }
}

impl<T> MysqlStorage<T> {
    /// The queue named after the job type (`Email` → `email`; see
    /// [`default_queue_name`](drover_core::default_queue_name)) on `pool`, with JSON payloads.
    pub fn new(pool: MySqlPool) -> Self {
        Self::from_parts(pool, MysqlConfig::default())
    }

    /// A queue configured by `config` on `pool`, with JSON payloads. A configuration that
    /// cannot work (a queue name that is empty or longer than 191 characters) makes every claim
    /// and push fail with [`BackendError::Config`] naming the setting.
    pub fn new_with_config(pool: MySqlPool, config: MysqlConfig) -> Self {
        Self::with_codec(pool, config)
    }
}

impl<T, C> MysqlStorage<T, C> {
    /// A queue configured by `config` on `pool`, with payloads encoded by the codec `C`.
    pub fn with_codec(pool: MySqlPool, config: MysqlConfig) -> Self {
        Self::from_parts(pool, config)
    }

    fn from_parts(pool: MySqlPool, config: MysqlConfig) -> Self {
        let queue = drover_core::resolve_queue_name::<T>(config.queue());
        // `config()` reports the queue in use, not only one set explicitly.
        let config = config.set_queue(queue.clone());
        let invalid = MysqlConfig::validate(&queue).err().map(|e| e.to_string());
        let shared = Shared {
            pool,
            config,
            queue,
            invalid,
            wakeup: WakeupSender::new(),
            limited: AtomicUsize::new(0),
            per_key: AtomicU32::new(0),
        };
        Self { shared: Arc::new(shared), _job: PhantomData }
    }

    /// The configuration's problem, if it has one.
    pub(crate) fn check(&self) -> Result<(), BackendError> {
        match &self.shared.invalid {
            Some(problem) => Err(BackendError::Config(problem.clone())),
            None => Ok(()),
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.shared.pool
    }

    /// The configuration.
    pub fn config(&self) -> &MysqlConfig {
        &self.shared.config
    }

    pub(crate) fn queue_name(&self) -> &str {
        &self.shared.queue
    }
}

impl<T, C> Backend for MysqlStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Job = T;
    type Codec = C;

    fn queue(&self) -> &str {
        self.queue_name()
    }

    fn claim_limit(&self) -> usize {
        self.shared.config.claim_limit()
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        self.check()?;
        let max = request.max.min(self.claim_limit());
        if max == 0 {
            return Ok(Vec::new());
        }
        let (pool, queue, worker, lease) = (&self.shared.pool, self.queue_name(), &*request.worker, request.lease);
        let mut bound = self.shared.limited.load(Ordering::Relaxed);
        if bound == 0 {
            // A limited queue's plain claim takes nothing: an empty one asks whether the queue
            // has limits, and if so claims again in the limited form.
            let claimed = match claim::claim(pool, queue, worker, max, lease, Mode::Plain, None).await? {
                Claimed::Tasks(tasks, _) => tasks,
                Claimed::Wait(..) | Claimed::KeyLimitChanged(_) => Vec::new(),
            };
            if !claimed.is_empty() || !claim::is_limited(pool, queue).await? {
                return Ok(claimed);
            }
            bound = max;
        }
        let mut waited = false;
        // A per-key limit that changes under every claim is no reason to spin: a few tries.
        let mut key_limit_tries = 0;
        loop {
            let per_key = Some(self.shared.per_key.load(Ordering::Relaxed)).filter(|k| *k > 0);
            match claim::claim(pool, queue, worker, max.min(bound), lease, Mode::Limited, per_key).await? {
                Claimed::Tasks(mut tasks, most) => {
                    self.shared.limited.store(most.unwrap_or(0), Ordering::Relaxed);
                    // The queue lost its limits, and the claim took no more than they allowed:
                    // the rest as the plain form.
                    if most.is_none() && tasks.len() == bound && bound < max {
                        if let Claimed::Tasks(more, _) =
                            claim::claim(pool, queue, worker, max - bound, lease, Mode::Plain, None).await?
                        {
                            tasks.extend(more);
                        }
                    }
                    return Ok(tasks);
                }
                // The rate allows no start now: wait for the next one (up to a second), once.
                Claimed::Wait(wait, most) if !waited => {
                    self.shared.limited.store(most, Ordering::Relaxed);
                    bound = most;
                    waited = true;
                    tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
                }
                Claimed::Wait(_, most) => {
                    self.shared.limited.store(most, Ordering::Relaxed);
                    return Ok(Vec::new());
                }
                Claimed::KeyLimitChanged(k) => {
                    self.shared.per_key.store(k.unwrap_or(0), Ordering::Relaxed);
                    key_limit_tries += 1;
                    if key_limit_tries > 3 {
                        return Ok(Vec::new());
                    }
                }
            }
        }
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        let retry_now = batch.iter().any(|c| matches!(&c.outcome, Outcome::Retry { delay, .. } if delay.is_zero()));
        complete::complete(&self.shared.pool, &batch).await?;
        if retry_now {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        complete::extend(&self.shared.pool, &leases, lease).await
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        if complete::release(&self.shared.pool, &leases).await? {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    fn wakeup(&self) -> Option<Wakeup> {
        Some(self.shared.wakeup.subscribe())
    }

    fn worker_registry(&self) -> Option<std::sync::Arc<dyn drover_core::WorkerRegistry>> {
        Some(std::sync::Arc::new(crate::registry::MysqlRegistry::new(self.shared.pool.clone())))
    }
}
