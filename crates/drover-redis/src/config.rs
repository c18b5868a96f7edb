//! The storage's settings: the queue's namespace, retention of finished tasks, batch sizes.

use std::time::Duration;

/// Most tasks one script call handles. Larger pushes are split into chunks of this size, and a
/// claim never asks for more, so no script unpacks or returns an unbounded list.
pub const MAX_BATCH: usize = 1_000;

/// How long a single push may keep its task busy waiting for the reply before it sleeps,
/// unless told otherwise ([`RedisConfig::set_push_spin`]).
pub const DEFAULT_PUSH_SPIN: Duration = Duration::from_micros(100);

/// The production guide's name for [`RedisConfig`] (`Config::default().set_namespace(..)`).
pub type Config = RedisConfig;

/// Settings of a [`RedisStorage`](crate::RedisStorage). Every setter has a default; the
/// namespace is the queue's name (`set_namespace` is the production guide's name for
/// `set_queue`). [`Config`] is another name for this type, as the guide writes it.
///
/// ```
/// use drover_redis::Config; // or RedisConfig
/// use std::time::Duration;
///
/// let config = Config::default()
///     .set_namespace("my-app::dead-letter")
///     .set_done_ttl(Duration::from_secs(3600))
///     .set_done_cap(50_000);
/// assert_eq!(config.namespace(), Some("my-app::dead-letter"));
/// // Without a namespace, the storage names its queue after its job type (`Email` → `email`):
/// assert_eq!(Config::default().namespace(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisConfig {
    namespace: Option<String>,
    done_ttl: Duration,
    done_cap: u64,
    dead_ttl: Duration,
    dead_cap: u64,
    claim_batch: usize,
    push_batch: usize,
    wait_replicas: u32,
    wait_timeout: Duration,
    push_spin: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            done_ttl: Duration::from_secs(24 * 3600),
            done_cap: 10_000,
            dead_ttl: Duration::from_secs(30 * 24 * 3600),
            dead_cap: 10_000,
            claim_batch: MAX_BATCH,
            push_batch: MAX_BATCH,
            wait_replicas: 0,
            wait_timeout: Duration::ZERO,
            push_spin: DEFAULT_PUSH_SPIN,
        }
    }
}

impl RedisConfig {
    /// Settings for the queue `namespace`, every other setting at its default.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self::default().set_namespace(namespace)
    }

    /// The queue's name; its keys are `drover:{<namespace>}:…`. The braces are a Redis Cluster
    /// hash tag: all of one queue's keys live in one slot. By default the queue is named after
    /// the storage's job type ([`default_queue_name`](drover_core::default_queue_name):
    /// `Email` → `email`).
    pub fn set_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Use queue `queue`: the same as [`set_namespace`](RedisConfig::set_namespace), under the
    /// name every other backend's config uses.
    pub fn set_queue(self, queue: impl Into<String>) -> Self {
        self.set_namespace(queue)
    }

    /// The queue set explicitly (the namespace); `None` means the job type's default.
    pub fn queue(&self) -> Option<&str> {
        self.namespace()
    }

    /// How long a done task is kept for inspection, counted from its creation (default one
    /// day). Ages are enforced by claims that find the queue short of work.
    pub fn set_done_ttl(mut self, ttl: Duration) -> Self {
        self.done_ttl = ttl;
        self
    }

    /// Most done tasks kept; beyond it the oldest are deleted (default 10,000; 0 keeps none).
    pub fn set_done_cap(mut self, cap: u64) -> Self {
        self.done_cap = cap;
        self
    }

    /// How long a dead or cancelled task is kept for inspection and requeue, counted from its
    /// creation (default 30 days).
    pub fn set_dead_ttl(mut self, ttl: Duration) -> Self {
        self.dead_ttl = ttl;
        self
    }

    /// Most dead tasks, and most cancelled tasks, kept; beyond it the oldest are deleted
    /// (default 10,000 each).
    pub fn set_dead_cap(mut self, cap: u64) -> Self {
        self.dead_cap = cap;
        self
    }

    /// Most tasks one claim takes (default and most 1,000).
    pub fn set_claim_batch(mut self, n: usize) -> Self {
        self.claim_batch = n.clamp(1, MAX_BATCH);
        self
    }

    /// Most tasks stored by one script call; a larger push is split (default and most 1,000).
    pub fn set_push_batch(mut self, n: usize) -> Self {
        self.push_batch = n.clamp(1, MAX_BATCH);
        self
    }

    /// After every push (and batch commit, and schedule tick), wait until `replicas` replicas
    /// of the master that took it have acknowledged it (Redis `WAIT`), at most `timeout`; a
    /// push fewer replicas confirmed in time fails with a connection error that says so
    /// (the tasks are stored on the master, so retrying it may store them twice). 0 replicas
    /// (the default) waits for none.
    ///
    /// Redis replicates asynchronously: without this, a push the master acknowledged and then
    /// lost in a crash before its replica copied it (typically within a millisecond, longer
    /// under load) is gone after the replica takes over. With it, the window closes for pushes
    /// (a lost claim or completion only makes the task run again once its lease expires).
    /// Each push then costs a second round trip and the replica's acknowledgement; a master
    /// whose replicas are all down (just after a failover, say) fails every push until one is
    /// back. `timeout` is raised to at least 1 ms (`WAIT` with 0 would block forever).
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = drover_redis::Config::new("emails").set_wait_for_replicas(1, Duration::from_millis(500));
    /// assert_eq!(config.wait_for_replicas(), Some((1, Duration::from_millis(500))));
    /// ```
    pub fn set_wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.wait_replicas = replicas;
        self.wait_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a single push (a `push` or `push_with` of one job, not `push_bulk`) may keep its
    /// task runnable while it waits for Redis's reply, before it sleeps like any other await
    /// (default [`DEFAULT_PUSH_SPIN`], 100 µs; `Duration::ZERO` turns it off).
    ///
    /// A thread that sleeps through a round trip of tens of microseconds is woken by the reply,
    /// and on a virtual machine waking an idle vCPU costs about as much as the round trip: on
    /// the 2-core machine of `docs/benchmarks.md`, awaited single pushes run at about 15,000/s
    /// with the spin and about 9,000/s without it. The task yields to the runtime between polls,
    /// so other tasks run meanwhile; what it costs is CPU time the thread would otherwise have
    /// slept through, at most this budget per push. It is bounded further: only a push with no
    /// other single push of the storage in flight spins, and after three pushes in a row
    /// whose reply took longer than the budget (a Redis across a network), only one push in 64
    /// spins, until replies come quickly again.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = drover_redis::Config::new("emails").set_push_spin(Duration::ZERO);
    /// assert_eq!(config.push_spin(), Duration::ZERO);
    /// assert_eq!(drover_redis::Config::default().push_spin(), drover_redis::DEFAULT_PUSH_SPIN);
    /// ```
    pub fn set_push_spin(mut self, budget: Duration) -> Self {
        self.push_spin = budget;
        self
    }

    /// How long a single push may wait for its reply without sleeping.
    pub fn push_spin(&self) -> Duration {
        self.push_spin
    }

    /// How many replicas each push waits for, and for how long at most; `None` when it waits
    /// for none.
    pub fn wait_for_replicas(&self) -> Option<(u32, Duration)> {
        (self.wait_replicas > 0).then_some((self.wait_replicas, self.wait_timeout))
    }

    /// The namespace (queue name) set explicitly; `None` (the default) means the storage uses
    /// its job type's [`default_queue_name`](drover_core::default_queue_name).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// How long done tasks are kept.
    pub fn done_ttl(&self) -> Duration {
        self.done_ttl
    }

    /// Most done tasks kept.
    pub fn done_cap(&self) -> u64 {
        self.done_cap
    }

    /// How long dead and cancelled tasks are kept.
    pub fn dead_ttl(&self) -> Duration {
        self.dead_ttl
    }

    /// Most dead (and most cancelled) tasks kept.
    pub fn dead_cap(&self) -> u64 {
        self.dead_cap
    }

    /// Most tasks one claim takes.
    pub fn claim_batch(&self) -> usize {
        self.claim_batch
    }

    /// Most tasks stored by one script call.
    pub fn push_batch(&self) -> usize {
        self.push_batch
    }
}
