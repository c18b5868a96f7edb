//! `PostgresAdmin`: every queue of a database, for the `drover` tool and the board.

use std::time::Duration;

use drover_core::{AdminBackend, BackendError, Prune, Status, WorkerSummary};
use futures_util::future::BoxFuture;
use sqlx::PgPool;

use crate::{PostgresConfig, PostgresStorage};

/// Every queue of a PostgreSQL database, as [`drover_core::Admin`] operates them: counts,
/// listing, requeue, cancel, purge, push, workers.
///
/// ```no_run
/// use drover_core::Admin;
///
/// # async fn run(pool: sqlx::PgPool) -> Result<(), drover_core::BackendError> {
/// let admin = drover_postgres::PostgresAdmin::new(pool);
/// for queue in admin.queues().await? {
///     println!("{}: {} dead", queue.queue, queue.stats.dead);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PostgresAdmin {
    pool: PgPool,
}

impl PostgresAdmin {
    /// Operate the queues of `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl AdminBackend for PostgresAdmin {
    type Storage = PostgresStorage<()>;

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn storage(&self, queue: &str) -> Self::Storage {
        PostgresStorage::new_with_config(self.pool.clone(), PostgresConfig::new(queue))
    }

    fn queue_names(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async move { PostgresStorage::<()>::new(self.pool.clone()).queues().await })
    }

    fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(PostgresStorage::setup(&self.pool))
    }

    fn prune(
        &self,
        queue: &str,
        status: Status,
        older_than: Duration,
        limit: usize,
    ) -> BoxFuture<'_, Result<u64, BackendError>> {
        let storage = self.storage(queue);
        Box::pin(async move { storage.prune_batch(status, older_than, limit).await })
    }

    fn queue_workers(&self, queue: &str) -> BoxFuture<'_, Result<Vec<WorkerSummary>, BackendError>> {
        let storage = self.storage(queue);
        let queue = queue.to_owned();
        Box::pin(async move {
            Ok(storage
                .workers()
                .await?
                .into_iter()
                .map(|w| WorkerSummary::new(w.name, queue.as_str(), Some(w.running), w.last_claim))
                .collect())
        })
    }

    drover_core::admin_limits_from_storage!();
}
