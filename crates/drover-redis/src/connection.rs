//! Connecting: the command connection (a `ConnectionManager` to one server, or with the
//! `cluster` feature a Redis Cluster connection) and the clients the wake-up subscription opens
//! its dedicated connection with.

use std::sync::Arc;
use std::time::Duration;

use drover_core::BackendError;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value};

/// A connection to Redis: commands go through a [`ConnectionManager`] (multiplexed, reconnects
/// by itself after a server restart or a network failure) or, from
/// `connect_cluster` (the `cluster` feature), a Redis Cluster connection (routes each command
/// to the master of its slot, follows `MOVED`/`ASK`, refreshes the slot map after a failover).
/// Clones share the connection. It is a [`ConnectionLike`], so your own commands run on it with
/// `query_async(&mut conn)` whichever kind it is.
///
/// It also keeps the clients a storage opens its one extra connection with: a multiplexed
/// connection cannot block, so wake-ups use a dedicated `SUBSCRIBE` connection (on a cluster,
/// to one node, moving on to the next one given when it fails). A `RedisConnection` made from
/// a bare `ConnectionManager` has no client, so its storages poll at the worker's poll
/// interval instead.
#[derive(Clone)]
pub struct RedisConnection {
    pub(crate) commands: Commands,
    /// Where the wake-up subscription may connect: the server, or the cluster's nodes.
    pub(crate) subscribe: Arc<[Client]>,
}

/// The command connection of either kind.
#[derive(Clone)]
pub(crate) enum Commands {
    Single(ConnectionManager),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("cluster", &self.is_cluster())
            .field("wakeups", &!self.subscribe.is_empty())
            .finish()
    }
}

impl RedisConnection {
    /// A connection from a client and a manager made from it.
    pub fn new(client: Client, manager: ConnectionManager) -> Self {
        Self { commands: Commands::Single(manager), subscribe: Arc::new([client]) }
    }

    /// The command connection to a single server, for your own commands; `None` on a cluster
    /// (run commands on the `RedisConnection` itself: it is a [`ConnectionLike`]).
    pub fn manager(&self) -> Option<&ConnectionManager> {
        match &self.commands {
            Commands::Single(manager) => Some(manager),
            #[cfg(feature = "cluster")]
            Commands::Cluster(_) => None,
        }
    }

    /// The client of the server (on a cluster, of the first node given), when known.
    pub fn client(&self) -> Option<&Client> {
        self.subscribe.first()
    }

    /// Whether this is a Redis Cluster connection.
    pub fn is_cluster(&self) -> bool {
        !matches!(self.commands, Commands::Single(_))
    }

    /// Run `cmd` on the master that holds `key`'s slot (on a single server, on the server): for
    /// commands without keys that must reach the node a queue lives on (`SCAN`, `WAIT`).
    pub(crate) async fn query_on_node_of<T: redis::FromRedisValue>(
        &self,
        key: &str,
        cmd: &Cmd,
    ) -> redis::RedisResult<T> {
        match &self.commands {
            Commands::Single(manager) => {
                let _ = key;
                cmd.query_async(&mut manager.clone()).await
            }
            #[cfg(feature = "cluster")]
            Commands::Cluster(cluster) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let route = Route::with_key(key.as_bytes(), SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                let value = cluster.clone().route_command(cmd.clone(), routing).await?;
                redis::from_redis_value(value).map_err(redis::RedisError::from)
            }
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.commands {
            Commands::Single(manager) => manager.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Commands::Cluster(cluster) => cluster.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.commands {
            Commands::Single(manager) => manager.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "cluster")]
            Commands::Cluster(cluster) => cluster.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.commands {
            Commands::Single(manager) => manager.get_db(),
            #[cfg(feature = "cluster")]
            Commands::Cluster(cluster) => cluster.get_db(),
        }
    }
}

impl From<ConnectionManager> for RedisConnection {
    fn from(manager: ConnectionManager) -> Self {
        Self { commands: Commands::Single(manager), subscribe: Arc::new([]) }
    }
}

/// Connect to the Redis server at `url` (`redis://[:password@]host:port[/db]`, or `rediss://`
/// with the `tls-rustls` feature). The connection reconnects by itself; a command that fails
/// while the server is away returns an error and the worker retries it with backoff.
///
/// ```no_run
/// # async fn run() -> Result<(), drover_core::BackendError> {
/// let conn = drover_redis::connect("redis://127.0.0.1:6379").await?;
/// let storage: drover_redis::RedisStorage<String> = drover_redis::RedisStorage::new(conn);
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<RedisConnection, BackendError> {
    let client = Client::open(with_nodelay(url)?).map_err(|e| bad_url(url, e))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(30)))
        .set_number_of_retries(4)
        .set_max_delay(Duration::from_secs(2));
    let manager = ConnectionManager::new_with_config(client.clone(), config)
        .await
        .map_err(|e| BackendError::connection("connecting to Redis", e))?;
    Ok(RedisConnection::new(client, manager))
}

/// `url`'s connection info, with `TCP_NODELAY`: small commands (claims, acks, single pushes)
/// must not wait for Nagle's algorithm.
fn with_nodelay(url: &str) -> Result<redis::ConnectionInfo, BackendError> {
    let info = url.into_connection_info().map_err(|e| bad_url(url, e))?;
    let nodelay = info.tcp_settings().clone().set_nodelay(true);
    Ok(info.set_tcp_settings(nodelay))
}

/// Connect to the Redis Cluster that `nodes` belong to (each `redis://[:password@]host:port`;
/// one reachable node is enough to find the others, but list several: the wake-up subscription
/// connects to the first one that answers and moves on to the next one when it fails). Needs
/// the `cluster` feature.
///
/// Commands go to the master of their slot; `MOVED` and `ASK` redirections, and the new slot
/// map after a failover, are handled by redis-rs's cluster client. Every key of a queue shares
/// the hash tag `{<namespace>}`, so each script touches one slot, and queues spread over the
/// masters by their names. See [`RedisConfig::set_wait_for_replicas`](crate::RedisConfig::set_wait_for_replicas)
/// for pushes that survive the loss of a master.
///
/// ```no_run
/// # async fn run() -> Result<(), drover_core::BackendError> {
/// let conn = drover_redis::connect_cluster(&["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]).await?;
/// let storage: drover_redis::RedisStorage<String> = drover_redis::RedisStorage::new(conn);
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "cluster")]
pub async fn connect_cluster<S: AsRef<str>>(nodes: &[S]) -> Result<RedisConnection, BackendError> {
    if nodes.is_empty() {
        return Err(BackendError::Config("connect_cluster needs at least one node URL (redis://host:port)".into()));
    }
    let mut infos = Vec::with_capacity(nodes.len());
    let mut clients = Vec::with_capacity(nodes.len());
    for url in nodes {
        let url = url.as_ref();
        let info = with_nodelay(url)?;
        clients.push(Client::open(info.clone()).map_err(|e| bad_url(url, e))?);
        infos.push(info);
    }
    let nodelay = redis::io::tcp::TcpSettings::default().set_nodelay(true);
    let client = redis::cluster::ClusterClient::builder(infos)
        .tcp_settings(nodelay)
        .connection_timeout(Duration::from_secs(5))
        .response_timeout(Duration::from_secs(10))
        .overall_response_timeout(Some(Duration::from_secs(30)))
        .retries(8)
        .min_retry_wait(50)
        .max_retry_wait(2_000)
        .build()
        .map_err(|e| BackendError::Config(format!("cannot make a Redis Cluster client: {e}")))?;
    let cluster = client
        .get_async_connection()
        .await
        .map_err(|e| BackendError::connection("connecting to the Redis Cluster", e))?;
    Ok(RedisConnection { commands: Commands::Cluster(cluster), subscribe: clients.into() })
}

/// The error for a URL that redis-rs refused.
fn bad_url(url: &str, e: redis::RedisError) -> BackendError {
    BackendError::Config(format!(
        "`{}` is not a usable Redis URL: {e} (expected redis://[:password@]host:port[/db]{})",
        redact(url),
        if cfg!(feature = "tls-rustls") { " or rediss://…" } else { "; rediss:// needs the `tls-rustls` feature" }
    ))
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// A failed command as a [`BackendError`]: connection trouble (worth retrying later) or an
/// error the server answered. On a cluster, redirections and a cluster in the middle of a
/// failover (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`, `MASTERDOWN`, `READONLY` from a master
/// just demoted) are connection trouble too: redis-rs follows them itself, and one that still
/// surfaces goes away once the new slot map is known.
pub fn backend_error(operation: &'static str, error: redis::RedisError) -> BackendError {
    use redis::ServerErrorKind as S;
    if error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_cluster_error()
        || matches!(
            error.kind(),
            redis::ErrorKind::Server(
                S::BusyLoading | S::TryAgain | S::Moved | S::Ask | S::ClusterDown | S::MasterDown | S::ReadOnly
            )
        )
        || moved_mid_script(&error)
    {
        BackendError::connection(operation, error)
    } else {
        BackendError::server(operation, error)
    }
}

/// A script that met a key its node no longer serves (a slot moving or failing over while it
/// ran): the server refuses before writing anything, and the retry finds the new owner.
fn moved_mid_script(error: &redis::RedisError) -> bool {
    let text = error.to_string();
    text.contains("non local key") || text.contains("CLUSTERDOWN")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("redis://:secret@host:6379"), "redis://***@host:6379");
        assert_eq!(redact("redis://host:6379"), "redis://host:6379");
    }
}
