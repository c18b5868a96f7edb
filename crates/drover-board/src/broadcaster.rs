//! Live updates: what the board did, sent to every open page.

use serde::Serialize;
use tokio::sync::broadcast;

/// How many events a slow page may fall behind before it is told to reload.
const CAPACITY: usize = 256;

/// Sends each action taken through the board (retry, cancel, pause, ...) to every open page,
/// which refreshes at once instead of at its next periodic refresh. Share one through an
/// `axum::Extension` layer (as the production guide's §9 does) or
/// [`ApiBuilder::broadcaster`](crate::ApiBuilder::broadcaster); pages stream it from
/// `GET /api/v1/events` (server-sent events). Clones share the channel.
///
/// ```
/// let broadcaster = drover_board::Broadcaster::new();
/// let mut events = broadcaster.subscribe();
/// broadcaster.send(drover_board::BoardEvent::new("deployed", "postgres", "email"));
/// assert_eq!(events.try_recv().map(|e| e.action).ok().as_deref(), Some("deployed"));
/// ```
#[derive(Clone, Debug)]
pub struct Broadcaster {
    sender: broadcast::Sender<BoardEvent>,
}

/// One thing that changed a queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BoardEvent {
    /// What happened: `retried`, `cancelled`, `paused`, `resumed`, `purged`, `pushed`, or your own.
    pub action: String,
    /// The store (a registered admin's name).
    pub store: String,
    /// The queue.
    pub queue: String,
    /// The task, for task actions.
    pub task: Option<String>,
}

impl BoardEvent {
    /// An event about a queue.
    pub fn new(action: impl Into<String>, store: impl Into<String>, queue: impl Into<String>) -> Self {
        Self { action: action.into(), store: store.into(), queue: queue.into(), task: None }
    }

    /// The event is about one task.
    pub fn task(mut self, id: impl Into<String>) -> Self {
        self.task = Some(id.into());
        self
    }
}

impl Default for Broadcaster {
    fn default() -> Self {
        Self::new()
    }
}

impl Broadcaster {
    /// A channel with no listeners yet.
    pub fn new() -> Self {
        Self { sender: broadcast::channel(CAPACITY).0 }
    }

    /// Send an event to every open page (dropped when none is open).
    pub fn send(&self, event: BoardEvent) {
        let _ = self.sender.send(event);
    }

    /// Listen to the events sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BoardEvent> {
        self.sender.subscribe()
    }
}
