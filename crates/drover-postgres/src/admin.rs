//! `PostgresAdmin`: every queue of a database, for the `drover` tool and the board.

use std::time::Duration;

use drover_core::{AdminBackend, BackendError, BulkAction, Prune, Status, TaskFilter, TaskId, WorkerSummary};
use futures_util::future::BoxFuture;
use sqlx::PgPool;
use uuid::Uuid;

use crate::backend::{task_id, uuid_of};
use crate::db::{run, Db};
use crate::error::db_error;
use crate::{PostgresConfig, PostgresStorage};

/// A search's ids of one status, newest first, read backwards off the status's index (the
/// error condition is skipped when `$3` is NULL, the cursor when `$4` is; the error text is
/// compared lower-cased).
const FIND_STATUS_SQL: &str = "SELECT id FROM drover.tasks \
     WHERE queue = $1 AND status = $2 \
       AND ($3::text IS NULL OR strpos(lower(last_error), lower($3)) > 0) AND ($4::uuid IS NULL OR id < $4) \
     ORDER BY id DESC LIMIT $5";

/// The same over every status: one bounded scan per status, merged (as `sql/list_all.sql`).
const FIND_ALL_SQL: &str = "SELECT id FROM ( \
     (SELECT id FROM drover.tasks WHERE queue = $1 AND status = 'pending' \
        AND ($2::text IS NULL OR strpos(lower(last_error), lower($2)) > 0) AND ($3::uuid IS NULL OR id < $3) \
        ORDER BY id DESC LIMIT $4) \
     UNION ALL (SELECT id FROM drover.tasks WHERE queue = $1 AND status = 'running' \
        AND ($2::text IS NULL OR strpos(lower(last_error), lower($2)) > 0) AND ($3::uuid IS NULL OR id < $3) \
        ORDER BY id DESC LIMIT $4) \
     UNION ALL (SELECT id FROM drover.tasks WHERE queue = $1 AND status = 'done' \
        AND ($2::text IS NULL OR strpos(lower(last_error), lower($2)) > 0) AND ($3::uuid IS NULL OR id < $3) \
        ORDER BY id DESC LIMIT $4) \
     UNION ALL (SELECT id FROM drover.tasks WHERE queue = $1 AND status = 'dead' \
        AND ($2::text IS NULL OR strpos(lower(last_error), lower($2)) > 0) AND ($3::uuid IS NULL OR id < $3) \
        ORDER BY id DESC LIMIT $4) \
     UNION ALL (SELECT id FROM drover.tasks WHERE queue = $1 AND status = 'cancelled' \
        AND ($2::text IS NULL OR strpos(lower(last_error), lower($2)) > 0) AND ($3::uuid IS NULL OR id < $3) \
        ORDER BY id DESC LIMIT $4) \
     ) AS found ORDER BY id DESC LIMIT $4";

/// A bulk action's page in one statement each (`$2`: the page's ids); retries go task by
/// task, for their unique-key check.
const BULK_CANCEL_SQL: &str = "UPDATE drover.tasks \
     SET status = 'cancelled', lease_token = NULL, lease_expires_at = NULL, updated_at = now() \
     WHERE queue = $1 AND id = ANY($2) AND status IN ('pending', 'running')";
const BULK_DELETE_SQL: &str = "DELETE FROM drover.tasks WHERE queue = $1 AND id = ANY($2) AND status <> 'running'";
const BULK_RUN_NOW_SQL: &str = "WITH due AS ( \
         UPDATE drover.tasks SET run_at = LEAST(run_at, now()), updated_at = now() \
         WHERE queue = $1 AND id = ANY($2) AND status = 'pending' RETURNING id) \
     SELECT count(*)::int8, (SELECT pg_notify('drover_tasks', $1) FROM due LIMIT 1)::text FROM due";

/// Delete a task unless it is running (a running task's worker still holds its lease).
const DELETE_SQL: &str = "DELETE FROM drover.tasks WHERE id = $1 AND queue = $2 AND status <> 'running'";

/// Make a pending task due now, and wake the queue's workers on every node.
const RUN_NOW_SQL: &str = "WITH due AS ( \
         UPDATE drover.tasks SET run_at = LEAST(run_at, now()), updated_at = now() \
         WHERE id = $1 AND queue = $2 AND status = 'pending' RETURNING id) \
     SELECT count(*)::int8, (SELECT pg_notify('drover_tasks', $2) FROM due LIMIT 1)::text FROM due";

/// Every queue of a PostgreSQL database, as [`drover_core::Admin`] operates them: counts,
/// listing, searches by status, id and error text with stable pages, requeue, cancel, delete,
/// run now, bulk actions by filter, purge, push, limits, workers.
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
    db: Db,
}

impl PostgresAdmin {
    /// Operate the queues of `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Self { db: Db::new(pool, false) }
    }

    /// Whether `pool` reaches PostgreSQL through a pooler in transaction mode (PgBouncer's
    /// `pool_mode = transaction`): see
    /// [`PostgresConfig::set_transaction_pooling`]. The storages it hands out get the same
    /// setting.
    pub fn set_transaction_pooling(mut self, on: bool) -> Self {
        self.db.pooled = on;
        self
    }

    /// The configuration of the storage of `queue`.
    fn config(&self, queue: &str) -> PostgresConfig {
        PostgresConfig::new(queue).set_transaction_pooling(self.db.pooled)
    }
}

impl AdminBackend for PostgresAdmin {
    type Storage = PostgresStorage<()>;

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn storage(&self, queue: &str) -> Self::Storage {
        PostgresStorage::new_with_config(self.db.pool.clone(), self.config(queue))
    }

    fn queue_names(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        let storage = PostgresStorage::<()>::new_with_config(
            self.db.pool.clone(),
            PostgresConfig::default().set_transaction_pooling(self.db.pooled),
        );
        Box::pin(async move { storage.queues().await })
    }

    fn migrate(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(PostgresStorage::setup(&self.db.pool))
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

    fn registry(&self) -> Option<std::sync::Arc<dyn drover_core::WorkerRegistry>> {
        Some(std::sync::Arc::new(crate::registry::PostgresRegistry::new(self.db.clone())))
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

    fn find_ids<'a>(
        &'a self,
        queue: &'a str,
        filter: &'a TaskFilter,
        before: Option<TaskId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<TaskId>, BackendError>> {
        Box::pin(async move {
            let error = filter.error_contains.as_deref();
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let query = match filter.status {
                Some(status) => sqlx::query_scalar(FIND_STATUS_SQL).bind(queue).bind(status.as_str()),
                None => sqlx::query_scalar(FIND_ALL_SQL).bind(queue),
            };
            let ids: Vec<Uuid> = run!(&self.db, fetch_all, query.bind(error).bind(before.map(uuid_of)).bind(limit))
                .map_err(|e| db_error("search tasks", e))?;
            Ok(ids.into_iter().map(task_id).collect())
        })
    }

    fn act_on<'a>(
        &'a self,
        queue: &'a str,
        action: BulkAction,
        ids: &'a [TaskId],
    ) -> BoxFuture<'a, Result<u64, BackendError>> {
        Box::pin(async move {
            let uuids: Vec<Uuid> = ids.iter().copied().map(uuid_of).collect();
            let done = match action {
                BulkAction::Cancel | BulkAction::Delete => {
                    let statement = if action == BulkAction::Cancel { BULK_CANCEL_SQL } else { BULK_DELETE_SQL };
                    let done = run!(&self.db, execute, sqlx::query(statement).bind(queue).bind(&uuids))
                        .map_err(|e| db_error("act on a page of tasks", e))?;
                    done.rows_affected()
                }
                BulkAction::RunNow => {
                    let (n, _): (i64, Option<String>) =
                        run!(&self.db, fetch_one, sqlx::query_as(BULK_RUN_NOW_SQL).bind(queue).bind(&uuids))
                            .map_err(|e| db_error("make a page of tasks due now", e))?;
                    u64::try_from(n).unwrap_or(0)
                }
                BulkAction::Retry => {
                    let storage = self.storage(queue);
                    let mut changed = 0;
                    for &id in ids {
                        changed += u64::from(drover_core::Requeue::requeue(&storage, id).await?);
                    }
                    changed
                }
                other => {
                    return Err(BackendError::Unsupported(format!("the postgres backend has no bulk action {other}")))
                }
            };
            Ok(done)
        })
    }

    fn delete_task(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let queue = queue.to_owned();
        Box::pin(async move {
            let done = run!(&self.db, execute, sqlx::query(DELETE_SQL).bind(uuid_of(id)).bind(queue))
                .map_err(|e| db_error("delete a task", e))?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn run_now(&self, queue: &str, id: TaskId) -> BoxFuture<'_, Result<bool, BackendError>> {
        let queue = queue.to_owned();
        Box::pin(async move {
            let (n, _): (i64, Option<String>) =
                run!(&self.db, fetch_one, sqlx::query_as(RUN_NOW_SQL).bind(uuid_of(id)).bind(queue))
                    .map_err(|e| db_error("make a task due now", e))?;
            Ok(n == 1)
        })
    }

    drover_core::admin_limits_from_storage!();
    drover_core::admin_key_limits_from_storage!();
}
