//! `Board`: the API and the pages in one router, with one authentication and one broadcaster.

use std::sync::Arc;

use axum::{Extension, Router};
use drover_core::Admin;

use crate::api::ApiBuilder;
use crate::auth::Auth;
use crate::broadcaster::Broadcaster;
use crate::ui::{ServeUI, DEFAULT_API_BASE};

/// The whole board in one call: [`ApiBuilder`] nested at `/api/v1`, [`ServeUI`] as the
/// fallback, the same [`Auth`] for both and a [`Broadcaster`] between them. The production
/// guide's §9 writes the same out in parts.
///
/// ```
/// use drover_board::{Auth, Board, Role};
/// use drover_core::{AdminBackend, BackendError, MemoryStorage};
/// # use futures_util::future::BoxFuture;
/// # struct Memory(MemoryStorage<()>);
/// # impl AdminBackend for Memory {
/// #     type Storage = MemoryStorage<()>;
/// #     fn name(&self) -> &'static str { "memory" }
/// #     fn storage(&self, _queue: &str) -> MemoryStorage<()> { self.0.clone() }
/// #     fn queue_names(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> { Box::pin(async { Ok(vec!["email".into()]) }) }
/// #     fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>> { Box::pin(async { Ok(()) }) }
/// # }
/// # let admin = Memory(MemoryStorage::named("email"));
///
/// let app: axum::Router = Board::new()
///     .register(admin)
///     .auth(Auth::from_env()) // the default; or Auth::new().token(..), .basic(..)
///     .into_router();
/// // axum::serve(listener, app).await
/// ```
#[derive(Debug)]
pub struct Board {
    api: ApiBuilder,
    ui: ServeUI,
    auth: Option<Auth>,
    broadcaster: Broadcaster,
}

impl Default for Board {
    fn default() -> Self {
        Self::new()
    }
}

impl Board {
    /// The path the API is nested at.
    pub const API_BASE: &'static str = DEFAULT_API_BASE;

    /// A board with no store yet, authenticated by [`Auth::from_env`] unless told otherwise.
    pub fn new() -> Self {
        Self { api: ApiBuilder::new(Router::new()), ui: ServeUI::new(), auth: None, broadcaster: Broadcaster::new() }
    }

    /// Show and operate every queue of `admin` (see [`ApiBuilder::register`]).
    pub fn register<A: Admin + 'static>(mut self, admin: A) -> Self {
        self.api = self.api.register(admin);
        self
    }

    /// Register a `Box<dyn Admin>` or `Arc<dyn Admin>`.
    pub fn register_dyn(mut self, admin: impl Into<Arc<dyn Admin>>) -> Self {
        self.api = self.api.register_dyn(admin);
        self
    }

    /// Register under a name of your own.
    pub fn register_as<A: Admin + 'static>(mut self, name: &str, admin: A) -> Self {
        self.api = self.api.register_as(name, admin);
        self
    }

    /// List a recurring job on the schedules page (see [`ApiBuilder::schedule`]).
    #[cfg(feature = "cron")]
    pub fn schedule(mut self, schedule: impl crate::schedules::BoardSchedule) -> Self {
        self.api = self.api.schedule(schedule);
        self
    }

    /// Who may see and act (default: [`Auth::from_env`]).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// No authentication at all. Only behind something that authenticates for you.
    pub fn insecure_no_auth(self) -> Self {
        self.auth(Auth::insecure_no_auth())
    }

    /// The broadcaster pages listen to; send your own [`BoardEvent`](crate::BoardEvent)s to
    /// make them refresh.
    pub fn broadcaster(&self) -> &Broadcaster {
        &self.broadcaster
    }

    /// The router: pages at `/`, the API at [`Board::API_BASE`].
    pub fn into_router(self) -> Router {
        let auth = self.auth.unwrap_or_else(Auth::from_env);
        let api = self.api.auth(auth.clone()).broadcaster(self.broadcaster.clone()).build();
        Router::new().nest(Self::API_BASE, api).fallback_service(self.ui.auth(auth)).layer(Extension(self.broadcaster))
    }
}
