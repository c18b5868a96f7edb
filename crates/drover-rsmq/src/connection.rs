//! Connecting to Redis: the reconnecting connection of `drover-redis`, shared so both
//! Redis-based backends connect, reconnect and report errors the same way.
//!
//! A [`RsmqConnection`] holds a `ConnectionManager` for commands and the client that opens the
//! one dedicated `SUBSCRIBE` connection realtime wake-ups need; one made from a bare
//! `ConnectionManager` has no client, so its workers poll.

pub use drover_redis::{connect, RedisConnection as RsmqConnection};

/// A failed command: connection trouble (worth retrying) or an error the server answered.
pub(crate) use drover_redis::backend_error as command_error;
