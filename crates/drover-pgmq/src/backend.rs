//! The consume side: claim, complete, extend, release, wake-ups.

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_core::span::micros;
use drover_core::{
    Backend, BackendError, ClaimRequest, ClaimedTask, Codec, Completion, Lease, LeaseToken, Outcome, Wakeup,
    LEASE_EXPIRED_ON_LAST_ATTEMPT,
};
use sqlx::AssertSqlSafe;

use crate::envelope::Headers;
use crate::error::db_error;
use crate::storage::{msg_id, task_id, PgmqStorage};

/// msg_id, read_ct, enqueued_at, vt before the claim, body text, headers text.
type ClaimRow = (i64, i32, DateTime<Utc>, DateTime<Utc>, String, Option<String>);

/// Most completions one statement carries, so a statement stays small (about 12 KiB).
const COMPLETE_CHUNK: usize = 200;

/// Most leases one extend or release statement carries.
const LEASE_CHUNK: usize = 400;

/// A lease's message and token; `None` for a lease no claim of this storage made.
fn fence(lease: &Lease) -> Option<(i64, i32)> {
    Some((msg_id(lease.id)?, i32::try_from(lease.token.0).ok()?))
}

fn lease_arrays(leases: &[Lease]) -> (Vec<i64>, Vec<i32>) {
    leases.iter().filter_map(fence).unzip()
}

/// One completion as the statement's arrays take it.
struct Row {
    id: i64,
    token: i32,
    kind: i16,
    delay: i64,
    error: Option<String>,
    unrun: i32,
}

impl Row {
    fn of(completion: Completion, unrun: i32) -> Option<Self> {
        let (id, token) = fence(&completion.lease)?;
        let (kind, delay, error) = match completion.outcome {
            Outcome::Done => (0, 0, None),
            Outcome::Retry { delay, error } => (1, micros(delay), Some(error)),
            Outcome::Dead { error } => (2, 0, Some(error)),
        };
        Some(Self { id, token, kind, delay, error, unrun })
    }
}

impl<T, C> PgmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    /// Read up to `max` messages under `lease`, in msg_id order.
    async fn read(&self, max: usize, lease: Duration) -> Result<Vec<ClaimedTask>, BackendError> {
        let statements = self.statements()?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut rows: Vec<ClaimRow> = sqlx::query_as(AssertSqlSafe(statements.claim.clone()))
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .bind(micros(lease))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(|e| db_error("claim (read)", self.queue_name(), e))?;
        rows.sort_unstable_by_key(|row| row.0);
        let mut claimed = Vec::with_capacity(rows.len());
        let mut spent = Vec::new();
        for (id, read_ct, enqueued_at, due_at, body, headers) in rows {
            let headers = Headers::parse(headers.as_deref());
            let (attempt, max_attempts) = (headers.attempt(read_ct), headers.max_attempts());
            let task = ClaimedTask::new(task_id(id), LeaseToken(i64::from(read_ct)), attempt, max_attempts, Vec::new());
            if attempt > max_attempts {
                // Visible again after its last attempt: that attempt's lease expired.
                spent.push(Completion {
                    lease: task.lease(),
                    outcome: Outcome::Dead { error: LEASE_EXPIRED_ON_LAST_ATTEMPT.to_owned() },
                });
                continue;
            }
            let enqueued_at = headers.enqueued_at().unwrap_or(enqueued_at);
            let mut task = task.with_run_at(due_at).with_enqueued_at(enqueued_at);
            task.payload = headers.payload(body);
            claimed.push(task);
        }
        if !spent.is_empty() {
            // The claim's read is not a run: the dead record counts the attempts made.
            if let Err(error) = self.complete_rows(spent.into_iter().filter_map(|c| Row::of(c, 1)).collect()).await {
                tracing::warn!(%error, queue = self.queue_name(), "drover-pgmq: could not move spent messages to the dead queue; a later claim will");
            }
        }
        Ok(claimed)
    }

    /// One completion statement.
    async fn complete_rows(&self, rows: Vec<Row>) -> Result<(), BackendError> {
        if rows.is_empty() {
            return Ok(());
        }
        let statements = self.statements()?;
        let n = rows.len();
        let (mut ids, mut tokens, mut kinds) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut delays, mut errors, mut unrun) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let mut wake = false;
        for row in rows {
            wake |= row.kind == 1 && row.delay == 0;
            ids.push(row.id);
            tokens.push(row.token);
            kinds.push(row.kind);
            delays.push(row.delay);
            errors.push(row.error);
            unrun.push(row.unrun);
        }
        sqlx::query(AssertSqlSafe(statements.complete.clone()))
            .bind(ids)
            .bind(tokens)
            .bind(kinds)
            .bind(delays)
            .bind(errors)
            .bind(self.inner.config.on_done() == crate::OnDone::Archive)
            .bind(unrun)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("complete", self.queue_name(), e))?;
        if wake {
            self.inner.wakeup.notify();
        }
        Ok(())
    }

    /// Run `statement` over chunks of `leases`, with `lease` as the third argument if given.
    async fn per_lease(
        &self,
        operation: &'static str,
        statement: &std::sync::Arc<str>,
        leases: &[Lease],
        lease: Option<Duration>,
    ) -> Result<(), BackendError> {
        for chunk in leases.chunks(LEASE_CHUNK) {
            let (ids, tokens) = lease_arrays(chunk);
            if ids.is_empty() {
                continue;
            }
            let mut query = sqlx::query(AssertSqlSafe(statement.clone())).bind(ids).bind(tokens);
            if let Some(lease) = lease {
                query = query.bind(micros(lease));
            }
            query.execute(&self.inner.pool).await.map_err(|e| db_error(operation, self.queue_name(), e))?;
        }
        Ok(())
    }
}

impl<T, C> Backend for PgmqStorage<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    type Job = T;
    type Codec = C;

    fn queue(&self) -> &str {
        self.queue_name()
    }

    fn claim_limit(&self) -> usize {
        self.inner.config.claim_limit()
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Vec<ClaimedTask>, BackendError> {
        self.read(request.max.min(self.claim_limit()), request.lease).await
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<(), BackendError> {
        let mut rows: Vec<Row> = batch.into_iter().filter_map(|c| Row::of(c, 0)).collect();
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(COMPLETE_CHUNK));
            self.complete_rows(rows).await?;
            rows = rest;
        }
        Ok(())
    }

    async fn extend_leases(&self, leases: Vec<Lease>, lease: Duration) -> Result<(), BackendError> {
        let statements = self.statements()?;
        self.per_lease("extend leases (set_vt)", &statements.extend, &leases, Some(lease)).await
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        if leases.is_empty() {
            return Ok(());
        }
        let statements = self.statements()?;
        self.per_lease("release", &statements.release, &leases, None).await?;
        self.inner.wakeup.notify();
        Ok(())
    }

    fn wakeup(&self) -> Option<Wakeup> {
        Some(crate::wakeup::subscribe(&self.inner))
    }
}
