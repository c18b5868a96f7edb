//! Connecting: a `ConnectionManager` for commands (it reconnects by itself) and the client it
//! came from, for the dedicated subscription that wakes idle workers.

use std::time::Duration;

use drover_core::BackendError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo};

/// A connection to Redis: a [`ConnectionManager`] (multiplexed, reconnects by itself after a
/// server restart or a network failure) and, when made by [`connect`], the client it came from.
/// Clones share the connection.
///
/// The client lets a storage open the one extra connection that blocking waits need: a
/// multiplexed connection cannot block, so wake-ups use a dedicated `SUBSCRIBE` connection. A
/// `RedisConnection` made from a bare `ConnectionManager` has no client, so its storages poll
/// at the worker's poll interval instead.
#[derive(Clone)]
pub struct RedisConnection {
    pub(crate) manager: ConnectionManager,
    pub(crate) client: Option<Client>,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection").field("wakeups", &self.client.is_some()).finish()
    }
}

impl RedisConnection {
    /// A connection from a client and a manager made from it.
    pub fn new(client: Client, manager: ConnectionManager) -> Self {
        Self { manager, client: Some(client) }
    }

    /// The command connection, for your own commands.
    pub fn manager(&self) -> &ConnectionManager {
        &self.manager
    }

    /// The client, when known.
    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }
}

impl From<ConnectionManager> for RedisConnection {
    fn from(manager: ConnectionManager) -> Self {
        Self { manager, client: None }
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
    let info = url.into_connection_info().map_err(|e| bad_url(url, e))?;
    // Small commands (claims, acks) must not wait for Nagle's algorithm.
    let nodelay = info.tcp_settings().clone().set_nodelay(true);
    let client = Client::open(info.set_tcp_settings(nodelay)).map_err(|e| bad_url(url, e))?;
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
/// error the server answered.
pub fn backend_error(operation: &'static str, error: redis::RedisError) -> BackendError {
    if error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || matches!(
            error.kind(),
            redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading | redis::ServerErrorKind::TryAgain)
        )
    {
        BackendError::connection(operation, error)
    } else {
        BackendError::server(operation, error)
    }
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
