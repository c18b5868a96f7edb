//! `RsmqStorage`: the queue's handle, its construction, and the consume side.

use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use drover_core::{
    Backend, BackendError, ClaimRequest, ClaimedTask, Codec, Completion, JsonCodec, Lease, LeaseToken, Outcome, Wakeup,
    WakeupSender, LEASE_EXPIRED_ON_LAST_ATTEMPT,
};
use redis::aio::ConnectionManager;
use redis::{FromRedisValue, Script, Value};

use crate::config::{RsmqConfig, MAX_BATCH};
use crate::connection::{command_error, RsmqConnection};
use crate::keys::Keys;
use crate::message_id::{message_id, parse_task_hex, task_hex, task_id_of};
use crate::scripts;
use crate::wakeup;

pub(crate) struct Shared {
    pub(crate) config: RsmqConfig,
    pub(crate) keys: Keys,
    pub(crate) conn: ConnectionManager,
    client: Option<redis::Client>,
    pub(crate) wakeup: WakeupSender,
    listener: OnceLock<bool>,
}

/// An rsmq queue (npm `rsmq` 0.12's data layout) as a Drover storage, for jobs of type `T`
/// encoded by codec `C` (JSON by default). Clones share the connection and the queue.
///
/// A message body is the encoded job, byte for byte, so rsmq clients in any language can send
/// jobs to Drover workers and receive jobs Drover pushes.
///
/// ```no_run
/// use drover_core::Enqueue;
/// use drover_rsmq::{RsmqConfig, RsmqStorage};
///
/// # async fn run() -> Result<(), drover_core::BackendError> {
/// let conn = drover_rsmq::connect("redis://127.0.0.1:6379").await?;
/// let emails: RsmqStorage<String> = RsmqStorage::new(conn, RsmqConfig::new("emails"))?;
/// emails.push("user@example.com".to_owned()).await?;
/// # Ok(())
/// # }
/// ```
pub struct RsmqStorage<T, C = JsonCodec> {
    pub(crate) shared: Arc<Shared>,
    _job: PhantomData<fn() -> (T, C)>,
}

impl<T, C> Clone for RsmqStorage<T, C> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone(), _job: PhantomData }
    }
}

impl<T, C> std::fmt::Debug for RsmqStorage<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsmqStorage").field("config", &self.shared.config).finish()
    }
}

impl<T> RsmqStorage<T> {
    /// The queue `config` names on `conn`, with JSON payloads. Fails when the configuration
    /// breaks rsmq's rules (see [`RsmqConfig::validate`]). The queue is created on the first
    /// push if it does not exist (or at once with [`RsmqStorage::create_queue`]).
    pub fn new(conn: impl Into<RsmqConnection>, config: RsmqConfig) -> Result<Self, BackendError> {
        Self::with_codec(conn, config)
    }

    /// Connect to `url` and open the queue `config` names, with JSON payloads.
    pub async fn connect(url: &str, config: RsmqConfig) -> Result<Self, BackendError> {
        Self::new(crate::connect(url).await?, config)
    }
}

impl<T, C> RsmqStorage<T, C> {
    /// The queue `config` names on `conn`, with payloads encoded by `C`.
    pub fn with_codec(conn: impl Into<RsmqConnection>, config: RsmqConfig) -> Result<Self, BackendError> {
        config.validate()?;
        let conn = conn.into();
        // rsmq's key layout (kept for interop with the npm package) has no hash tags: a queue's
        // keys fall in different Cluster slots, and its scripts touch several of them.
        let Some(manager) = conn.manager().cloned() else {
            return Err(BackendError::Config(
                "RSMQ cannot run on a Redis Cluster: rsmq's key layout (`<ns>:<queue>`, `<ns>:<queue>:Q`, \
                 `<ns>:QUEUES`) has no hash tag, so one queue's keys fall in different slots and its atomic \
                 scripts would fail with CROSSSLOT. Connect to a single Redis server (drover_rsmq::connect), \
                 or use drover-redis, whose queues work on a cluster"
                    .into(),
            ));
        };
        let keys = Keys::new(&config);
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                keys,
                conn: manager,
                client: conn.client().cloned(),
                wakeup: WakeupSender::new(),
                listener: OnceLock::new(),
            }),
            _job: PhantomData,
        })
    }

    /// The storage's settings.
    pub fn config(&self) -> &RsmqConfig {
        &self.shared.config
    }

    /// Run `script` with the queue's keys, the common arguments and `args`.
    pub(crate) async fn run<R: FromRedisValue>(
        &self,
        operation: &'static str,
        script: &Script,
        args: impl FnOnce(&mut redis::ScriptInvocation<'_>),
    ) -> Result<R, BackendError> {
        let mut invocation = script.prepare_invoke();
        invocation.key(&self.shared.keys.script_keys).arg(&self.shared.keys.common_args);
        args(&mut invocation);
        let mut conn = self.shared.conn.clone();
        invocation.invoke_async(&mut conn).await.map_err(|e| command_error(operation, e))
    }

    /// Run a lease script (extend, release) over `leases` in chunks.
    async fn run_leases(
        &self,
        operation: &'static str,
        script: &Script,
        leases: &[Lease],
        lease_ms: Option<u64>,
    ) -> Result<(), BackendError> {
        for chunk in leases.chunks(MAX_BATCH) {
            let _: i64 = self
                .run(operation, script, |inv| {
                    if let Some(ms) = lease_ms {
                        inv.arg(ms);
                    }
                    for lease in chunk {
                        inv.arg(task_hex(lease.id)).arg(message_id(lease.id)).arg(lease.token.0);
                    }
                })
                .await?;
        }
        Ok(())
    }
}

/// Whole milliseconds of `d`, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<T, C> Backend for RsmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Job = T;
    type Codec = C;

    fn queue(&self) -> &str {
        self.shared.config.queue()
    }

    fn claim_limit(&self) -> usize {
        self.shared.config.batch()
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        let max = request.max.min(self.claim_limit());
        if max == 0 {
            return Ok(Vec::new());
        }
        let value: Value = self
            .run("claim", &scripts::CLAIM, |inv| {
                inv.arg(max).arg(millis(request.lease).max(1)).arg(LEASE_EXPIRED_ON_LAST_ATTEMPT);
            })
            .await?;
        claimed_tasks(value).map_err(|e| BackendError::server("claim", e))
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        for chunk in batch.chunks(MAX_BATCH) {
            let _: i64 = self
                .run("complete", &scripts::COMPLETE, |inv| {
                    inv.arg(chunk.len());
                    for c in chunk {
                        inv.arg(task_hex(c.lease.id)).arg(message_id(c.lease.id)).arg(c.lease.token.0);
                        match &c.outcome {
                            Outcome::Done => inv.arg("done").arg(0).arg(""),
                            Outcome::Retry { delay, error } => inv.arg("retry").arg(millis(*delay)).arg(error.as_str()),
                            Outcome::Dead { error } => inv.arg("dead").arg(0).arg(error.as_str()),
                        };
                    }
                })
                .await?;
        }
        Ok(())
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        self.run_leases("extend leases", &scripts::EXTEND, &leases, Some(millis(lease).max(1))).await
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        self.run_leases("release", &scripts::RELEASE, &leases, None).await?;
        if !leases.is_empty() {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    /// Always a wake-up: pushes, releases and requeues through this storage wake its idle
    /// workers in-process, and with [`RsmqConfig::set_realtime`] a subscription to the queue's
    /// realtime channel wakes them for messages sent by anyone.
    fn wakeup(&self) -> Option<Wakeup> {
        let shared = &self.shared;
        if shared.config.realtime() {
            shared.listener.get_or_init(|| match &shared.client {
                Some(client) => wakeup::spawn_listener(
                    client.clone(),
                    shared.keys.channel.clone(),
                    shared.wakeup.clone(),
                    Arc::downgrade(&self.shared),
                ),
                None => false,
            });
        }
        Some(shared.wakeup.subscribe())
    }
}

/// The claim script's answer: six values per message (message id, task id of a message Drover
/// did not make or '', body, receive count, max attempts, token).
fn claimed_tasks(value: Value) -> Result<Vec<ClaimedTask>, String> {
    let Value::Array(items) = value else {
        return Err(format!("the claim script returned {value:?}, not a list"));
    };
    if items.len() % 6 != 0 {
        return Err(format!("the claim script returned {} values, not six per message", items.len()));
    }
    let mut tasks = Vec::with_capacity(items.len() / 6);
    let mut items = items.into_iter();
    while let (Some(message), Some(foreign), Some(body), Some(rc), Some(max), Some(token)) =
        (items.next(), items.next(), items.next(), items.next(), items.next(), items.next())
    {
        let (Value::BulkString(message), Value::BulkString(foreign), Value::BulkString(payload)) =
            (message, foreign, body)
        else {
            return Err("the claim script returned a message id, task id or body that is not a string".into());
        };
        let id = if foreign.is_empty() { task_id_of(&message) } else { parse_task_hex(&foreign) }.ok_or_else(|| {
            format!(
                "message `{}` has no task id: its id looked like one Drover makes but is not",
                String::from_utf8_lossy(&message)
            )
        })?;
        let number = |v: Value, what: &str| match v {
            Value::Int(n) => Ok(n),
            other => Err(format!("the claim script returned {other:?} as the {what}")),
        };
        let rc = number(rc, "receive count")?;
        let max = number(max, "attempt limit")?;
        let token = number(token, "token")?;
        tasks.push(ClaimedTask::new(
            id,
            LeaseToken(token),
            u32::try_from(rc).unwrap_or(u32::MAX),
            u32::try_from(max).unwrap_or(u32::MAX).max(1),
            payload,
        ));
    }
    Ok(tasks)
}
