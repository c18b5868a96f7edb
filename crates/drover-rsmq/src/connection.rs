//! Connecting to Redis: a reconnecting command connection, and the client for the one
//! dedicated subscription that realtime wake-ups need.

use std::time::Duration;

use drover_core::BackendError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Client;

/// A connection to the Redis server holding the rsmq queues. Clones share it.
///
/// Commands go through a [`ConnectionManager`], which reconnects by itself after a server
/// restart or a network failure. The client it came from opens the extra `SUBSCRIBE`
/// connection realtime wake-ups use (a multiplexed connection cannot subscribe).
#[derive(Clone)]
pub struct RsmqConnection {
    pub(crate) manager: ConnectionManager,
    pub(crate) client: Option<Client>,
}

impl std::fmt::Debug for RsmqConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsmqConnection").field("can_subscribe", &self.client.is_some()).finish()
    }
}

impl RsmqConnection {
    /// A connection from a client and a manager made from it.
    pub fn new(client: Client, manager: ConnectionManager) -> Self {
        Self { manager, client: Some(client) }
    }

    /// The command connection, for your own commands.
    pub fn manager(&self) -> &ConnectionManager {
        &self.manager
    }
}

/// A bare manager works for everything but realtime wake-ups (workers poll instead).
impl From<ConnectionManager> for RsmqConnection {
    fn from(manager: ConnectionManager) -> Self {
        Self { manager, client: None }
    }
}

/// Connect to the Redis server at `url` (`redis://[:password@]host:port[/db]`, or `rediss://`
/// with the `tls-rustls` feature).
///
/// ```no_run
/// # async fn run() -> Result<(), drover_core::BackendError> {
/// let conn = drover_rsmq::connect("redis://127.0.0.1:6379").await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<RsmqConnection, BackendError> {
    let client = Client::open(url).map_err(|e| {
        BackendError::Config(format!(
            "`{}` is not a usable Redis URL: {e} (expected redis://[:password@]host:port[/db]{})",
            without_password(url),
            if cfg!(feature = "tls-rustls") {
                " or rediss://…"
            } else {
                "; rediss:// needs the `tls-rustls` feature"
            }
        ))
    })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(5))
        .set_response_timeout(Duration::from_secs(30))
        .set_number_of_retries(4)
        .set_max_delay(2_000);
    let manager = ConnectionManager::new_with_config(client.clone(), config).await.map_err(|e| {
        BackendError::connection("connecting to Redis", format!("{e} (is the server at {} up?)", without_password(url)))
    })?;
    Ok(RsmqConnection::new(client, manager))
}

/// `url` with any password replaced, for error messages.
fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// A failed command: connection trouble (worth retrying) or an error the server answered.
pub(crate) fn command_error(operation: &'static str, error: redis::RedisError) -> BackendError {
    let transient = error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || matches!(error.kind(), redis::ErrorKind::BusyLoadingError | redis::ErrorKind::TryAgain);
    if transient {
        BackendError::connection(operation, error)
    } else {
        BackendError::server(operation, error)
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(without_password("redis://:pw@h:6379/1"), "redis://***@h:6379/1");
        assert_eq!(without_password("redis://h:6379"), "redis://h:6379");
    }
}
