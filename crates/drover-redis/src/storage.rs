//! `RedisStorage`: the queue's handle, its construction, and the produce and consume sides.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use drover_core::{
    Backend, BackendError, ClaimRequest, ClaimedTask, Codec, Completion, Enqueue, JsonCodec, Lease, NewTask, Outcome,
    TaskId, Wakeup, WakeupSender, LEASE_EXPIRED_ON_LAST_ATTEMPT,
};
use futures_util::{StreamExt, TryStreamExt};
use redis::{FromRedisValue, Script, Value};

use crate::config::{RedisConfig, MAX_BATCH};
use crate::connection::{backend_error, RedisConnection};
use crate::keys::{clamp_ms, duration_ms, Keys, QUEUES_KEY};
use crate::scripts;
use crate::spin::ReplySpin;
use crate::values::{claimed_tasks, rate_wait, unique_hits};
use crate::wakeup;

/// Chunks of one push sent at once: the server runs one while the next is encoded and sent.
const PUSH_CHUNKS_IN_FLIGHT: usize = 4;

pub(crate) struct Shared {
    pub(crate) config: RedisConfig,
    /// The queue (namespace), resolved for the job type.
    pub(crate) queue: String,
    pub(crate) keys: Keys,
    pub(crate) conn: RedisConnection,
    pub(crate) wakeup: WakeupSender,
    listener: OnceLock<bool>,
    registered: AtomicBool,
    /// How single pushes wait for their reply.
    push_spin: ReplySpin,
}

/// A queue stored in Redis, for jobs of type `T` encoded by codec `C` (JSON by default).
/// Clones share the connection and the queue.
///
/// Every state change is one atomic Lua script: push (up to 1,000 tasks a call), claim (up
/// to 1,000, after moving expired leases and due scheduled tasks to the ready set), complete
/// (a whole batch), extend, release, cancel, requeue. Idle workers wait on a subscription
/// that pushes wake them from, instead of polling.
///
/// ```no_run
/// use drover_core::Enqueue;
/// use drover_redis::{Config, RedisStorage};
///
/// # async fn run() -> Result<(), drover_core::BackendError> {
/// let conn = drover_redis::connect("redis://127.0.0.1:6379").await?;
/// let emails: RedisStorage<String> = RedisStorage::new(conn.clone());
/// emails.push("user@example.com".to_owned()).await?;
///
/// let dlq_config = Config::default().set_namespace("my-app::dead-letter");
/// let dlq_storage: RedisStorage<String> = RedisStorage::new_with_config(conn.clone(), dlq_config);
/// # Ok(())
/// # }
/// ```
pub struct RedisStorage<T, C = JsonCodec> {
    pub(crate) shared: Arc<Shared>,
    _job: PhantomData<fn() -> (T, C)>,
}

impl<T, C> Clone for RedisStorage<T, C> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone(), _job: PhantomData }
    }
}

impl<T, C> std::fmt::Debug for RedisStorage<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStorage").field("namespace", &self.shared.queue).finish()
    }
}

impl<T> RedisStorage<T> {
    /// The queue named after the job type (`Email` → `email`; see
    /// [`default_queue_name`](drover_core::default_queue_name)) on `conn`, with JSON payloads.
    pub fn new(conn: impl Into<RedisConnection>) -> Self {
        Self::new_with_config(conn, RedisConfig::default())
    }

    /// The queue `config.namespace()` (or the job type's) on `conn`, with JSON payloads.
    pub fn new_with_config(conn: impl Into<RedisConnection>, config: RedisConfig) -> Self {
        Self::with_codec(conn, config)
    }
}

impl<T, C> RedisStorage<T, C> {
    /// The queue `config.namespace()` (or the job type's) on `conn`, with payloads encoded by `C`.
    pub fn with_codec(conn: impl Into<RedisConnection>, config: RedisConfig) -> Self {
        let queue = drover_core::resolve_queue_name::<T>(config.namespace());
        // `config()` reports the queue in use, not only one set explicitly.
        let config = config.set_namespace(queue.clone());
        let conn = conn.into();
        let keys = Keys::new(&config, &queue);
        let push_spin = ReplySpin::new(config.push_spin());
        Self {
            shared: Arc::new(Shared {
                config,
                queue,
                keys,
                conn,
                wakeup: WakeupSender::new(),
                listener: OnceLock::new(),
                registered: AtomicBool::new(false),
                push_spin,
            }),
            _job: PhantomData,
        }
    }

    /// The storage's settings.
    pub fn config(&self) -> &RedisConfig {
        &self.shared.config
    }

    /// Run `script` with the queue's keys, its common arguments and `args`.
    pub(crate) async fn run<R: FromRedisValue>(
        &self,
        operation: &'static str,
        script: &Script,
        args: impl FnOnce(&mut redis::ScriptInvocation<'_>),
    ) -> Result<R, BackendError> {
        self.check_namespace()?;
        let mut invocation = script.prepare_invoke();
        invocation.key(&self.shared.keys.script_keys).arg(&self.shared.keys.common_args);
        args(&mut invocation);
        let mut conn = self.shared.conn.clone();
        invocation.invoke_async(&mut conn).await.map_err(|e| backend_error(operation, e))
    }

    pub(crate) fn check_namespace(&self) -> Result<(), BackendError> {
        if self.shared.queue.is_empty() {
            return Err(BackendError::Config(
                "the Redis namespace is empty: set one with Config::default().set_namespace(\"my-queue\")".into(),
            ));
        }
        Ok(())
    }

    /// Store one chunk of at most [`MAX_BATCH`] tasks; returns their ids (a task whose unique
    /// key is already held gets the holder's id).
    async fn enqueue_chunk(&self, chunk: &[NewTask]) -> Result<Vec<TaskId>, BackendError> {
        if let [task] = chunk {
            if is_plain(task) {
                self.push_one("push", task).await?;
                return Ok(vec![task.id]);
            }
        }
        let value: Value = self.run("push", &scripts::ENQUEUE, |inv| push_args(inv, chunk)).await?;
        let mut stored: Vec<TaskId> = chunk.iter().map(|task| task.id).collect();
        for (position, holder) in unique_hits(value).map_err(|e| BackendError::server("push", e))? {
            match position.checked_sub(1).and_then(|i| stored.get_mut(i)) {
                Some(id) => *id = holder,
                None => {
                    return Err(BackendError::server(
                        "push",
                        format!("the push script named task {position} of a chunk of {}", chunk.len()),
                    ))
                }
            }
        }
        Ok(stored)
    }

    /// Store one plain task ([`is_plain`]) with `scripts/push_one.lua`: one round trip with
    /// three keys and four arguments, nothing else.
    pub(crate) async fn push_one(&self, operation: &'static str, task: &NewTask) -> Result<(), BackendError> {
        self.check_namespace()?;
        let id = task.id.to_string();
        let keys = &self.shared.keys;
        let mut invocation = scripts::PUSH_ONE.key(keys.task(&id));
        invocation
            .key(&keys.script_keys[0])
            .key(&keys.script_keys[3])
            .arg(&keys.channel)
            .arg(task.max_attempts)
            .arg(id)
            .arg(task.payload.as_slice());
        let mut conn = self.shared.conn.clone();
        let _: Value = invocation.invoke_async(&mut conn).await.map_err(|e| backend_error(operation, e))?;
        Ok(())
    }

    /// With [`RedisConfig::set_wait_for_replicas`], wait until that many replicas have the
    /// writes made so far (the push just stored); otherwise nothing.
    pub(crate) async fn confirm_replicated(&self, operation: &'static str) -> Result<(), BackendError> {
        let Some((replicas, timeout)) = self.shared.config.wait_for_replicas() else {
            return Ok(());
        };
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(ms);
        // The master of the queue's slot: the node the push went to.
        let acked: i64 = self
            .shared
            .conn
            .query_on_node_of(&self.shared.keys.prefix, &wait)
            .await
            .map_err(|e| backend_error(operation, e))?;
        if acked < i64::from(replicas) {
            return Err(BackendError::connection(
                operation,
                format!(
                    "stored on the master, but only {acked} of the {replicas} replicas asked for acknowledged it \
                     within {ms} ms (are the replicas up? see RedisConfig::set_wait_for_replicas); it may be lost \
                     if the master fails now, and pushing it again may store it twice"
                ),
            ));
        }
        Ok(())
    }

    /// Add the namespace to the set of queues, once per storage. It is a key outside the
    /// queue's slot, so it cannot be written by the push script.
    pub(crate) async fn register(&self) {
        if self.shared.registered.swap(true, Ordering::Relaxed) {
            return;
        }
        let mut conn = self.shared.conn.clone();
        let result: Result<(), _> =
            redis::cmd("SADD").arg(QUEUES_KEY).arg(self.shared.queue.as_str()).query_async(&mut conn).await;
        if result.is_err() {
            self.shared.registered.store(false, Ordering::Relaxed);
        }
    }
}

/// Something script arguments are appended to: a script invocation or a raw `EVALSHA`.
pub(crate) trait ArgSink {
    fn push_arg<A: redis::ToRedisArgs>(&mut self, arg: A) -> &mut Self;
}

impl ArgSink for redis::ScriptInvocation<'_> {
    fn push_arg<A: redis::ToRedisArgs>(&mut self, arg: A) -> &mut Self {
        self.arg(arg)
    }
}

impl ArgSink for redis::Pipeline {
    fn push_arg<A: redis::ToRedisArgs>(&mut self, arg: A) -> &mut Self {
        self.arg(arg)
    }
}

/// Whether `task` is due now at priority 0 without a unique key or concurrency key: what
/// `scripts/push_one.lua` stores.
pub(crate) fn is_plain(task: &NewTask) -> bool {
    task.run_at.is_none() && task.priority == 0 && task.unique_key.is_none() && task.concurrency_key.is_none()
}

/// The arguments of `scripts/enqueue.lua`. When every task runs now at priority 0 without a
/// unique key or concurrency key and with the same max attempts (a plain bulk push), that max
/// attempts and then two per task (id, payload); otherwise `""` and seven per task. The script stores the run
/// time and priority as given, so both must stay plain decimal integers (no sign but `-`, no
/// padding).
pub(crate) fn push_args(sink: &mut impl ArgSink, tasks: &[NewTask]) {
    let shared_max =
        tasks.first().map(|t| t.max_attempts).filter(|max| tasks.iter().all(|t| is_plain(t) && t.max_attempts == *max));
    if let Some(max) = shared_max {
        sink.push_arg(max);
        for task in tasks {
            sink.push_arg(task.id.to_string()).push_arg(task.payload.as_slice());
        }
        return;
    }
    sink.push_arg("");
    for task in tasks {
        sink.push_arg(task.id.to_string())
            .push_arg(task.payload.as_slice())
            .push_arg(task.run_at.map(|at| clamp_ms(at.timestamp_millis()).to_string()).unwrap_or_default())
            .push_arg(task.priority)
            .push_arg(task.max_attempts)
            .push_arg(task.unique_key.as_deref().unwrap_or(""))
            .push_arg(task.concurrency_key.as_deref().unwrap_or(""));
    }
}

impl<T, C> Backend for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Job = T;
    type Codec = C;

    fn queue(&self) -> &str {
        self.shared.queue.as_str()
    }

    fn claim_limit(&self) -> usize {
        self.shared.config.claim_batch()
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        let max = request.max.min(self.claim_limit());
        if max == 0 {
            return Ok(Vec::new());
        }
        let claim = || {
            self.run::<Value>("claim", &scripts::CLAIM, |inv| {
                inv.arg(max)
                    .arg(duration_ms(request.lease).max(1))
                    .arg(&*request.worker)
                    .arg(LEASE_EXPIRED_ON_LAST_ATTEMPT);
            })
        };
        let mut value = claim().await?;
        // The queue's rate allows no start now: wait for the next one (up to a second), once.
        if let Some(ms) = rate_wait(&value) {
            tokio::time::sleep(Duration::from_millis(ms.min(1_000))).await;
            value = claim().await?;
            if rate_wait(&value).is_some() {
                return Ok(Vec::new());
            }
        }
        claimed_tasks(value).map_err(|e| BackendError::server("claim", e))
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        for chunk in batch.chunks(MAX_BATCH) {
            let _: i64 = self
                .run("complete", &scripts::COMPLETE, |inv| {
                    for c in chunk {
                        inv.arg(c.lease.id.to_string()).arg(c.lease.token.0);
                        match &c.outcome {
                            Outcome::Done => inv.arg("done").arg(0).arg(""),
                            Outcome::Retry { delay, error } => {
                                inv.arg("retry").arg(duration_ms(*delay)).arg(error.as_str())
                            }
                            Outcome::Dead { error } => inv.arg("dead").arg(0).arg(error.as_str()),
                        };
                    }
                })
                .await?;
        }
        Ok(())
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        for chunk in leases.chunks(MAX_BATCH) {
            let _: i64 = self
                .run("extend leases", &scripts::EXTEND, |inv| {
                    inv.arg(duration_ms(lease).max(1));
                    lease_args(inv, chunk);
                })
                .await?;
        }
        Ok(())
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        for chunk in leases.chunks(MAX_BATCH) {
            let _: i64 = self.run("release", &scripts::RELEASE, |inv| lease_args(inv, chunk)).await?;
        }
        self.shared.wakeup.notify();
        Ok(())
    }

    fn wakeup(&self) -> Option<Wakeup> {
        if self.shared.conn.subscribe.is_empty() {
            return None;
        }
        let started = self.shared.listener.get_or_init(|| {
            wakeup::spawn_listener(
                self.shared.conn.subscribe.clone(),
                self.shared.keys.channel.clone(),
                self.shared.wakeup.clone(),
                Arc::downgrade(&self.shared),
            )
        });
        started.then(|| self.shared.wakeup.subscribe())
    }

    fn worker_registry(&self) -> Option<Arc<dyn drover_core::WorkerRegistry>> {
        Some(Arc::new(crate::registry::RedisRegistry::new(self.shared.conn.clone())))
    }
}

fn lease_args(inv: &mut redis::ScriptInvocation<'_>, leases: &[Lease]) {
    for lease in leases {
        inv.arg(lease.id.to_string()).arg(lease.token.0);
    }
}

impl<T, C> Enqueue for RedisStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// Stores the tasks in chunks of [`RedisConfig::push_batch`](crate::RedisConfig::push_batch) (each chunk one atomic script
    /// call), a few chunks in flight at once.
    async fn enqueue(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>, BackendError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        self.register().await;
        let batch = self.shared.config.push_batch();
        let ids = if tasks.len() == 1 {
            // A single push: awaited by its caller, often one after another (see spin.rs).
            self.shared.push_spin.wait(self.enqueue_chunk(&tasks)).await?
        } else if tasks.len() <= batch {
            self.enqueue_chunk(&tasks).await?
        } else {
            let mut tasks = tasks.into_iter();
            let chunks: Vec<Vec<NewTask>> = std::iter::from_fn(|| {
                let chunk: Vec<NewTask> = tasks.by_ref().take(batch).collect();
                (!chunk.is_empty()).then_some(chunk)
            })
            .collect();
            let chunks: Vec<Vec<TaskId>> = futures_util::stream::iter(chunks)
                .map(|chunk| async move { self.enqueue_chunk(&chunk).await })
                .buffered(PUSH_CHUNKS_IN_FLIGHT)
                .try_collect()
                .await?;
            chunks.into_iter().flatten().collect()
        };
        self.confirm_replicated("push").await?;
        // Workers of this process need not wait for the server's message.
        self.shared.wakeup.notify();
        Ok(ids)
    }
}
