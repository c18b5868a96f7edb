use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::backend::{ListQuery, QueueStats};
use crate::task::{ClaimedTask, Completion, Lease, LeaseToken, NewTask, Outcome, Status, TaskId, TaskInfo};

use crate::task::{AttemptRecord, LEASE_EXPIRED, LEASE_EXPIRED_ON_LAST_ATTEMPT};
use crate::ticks::{Overlap, TickPush, TickPushed, TickRecord};

type ReadyKey = (Reverse<i32>, DateTime<Utc>, u64, TaskId);

struct Record {
    info: TaskInfo,
    token: Option<LeaseToken>,
    ready: Option<ReadyKey>,
    scheduled: Option<(DateTime<Utc>, TaskId)>,
    lease: Option<(DateTime<Utc>, TaskId)>,
}

/// One queue's tasks, with indexes shaped like a SQL backend's: due tasks by priority then age,
/// future tasks by time, claims by lease deadline.
#[derive(Default)]
pub(super) struct QueueState {
    tasks: HashMap<TaskId, Record>,
    ready: BTreeSet<ReadyKey>,
    scheduled: BTreeSet<(DateTime<Utc>, TaskId)>,
    leases: BTreeSet<(DateTime<Utc>, TaskId)>,
    unique: HashMap<String, TaskId>,
    /// Each schedule's last tick and the task of the last pushed one.
    ticks: BTreeMap<String, (DateTime<Utc>, Option<TaskId>)>,
    /// While set, claims return nothing.
    pub(super) paused: bool,
    /// The cap on running tasks (live leases), if any.
    pub(super) max_running: Option<u32>,
    /// The rate of starts, and its theoretical arrival time (ms).
    pub(super) rate: Option<(crate::backend::Rate, f64)>,
    /// When the last claim refused for the rate, how long until the next start (ms).
    pub(super) rate_wait: Option<f64>,
    /// The limit per concurrency key, if any.
    pub(super) max_per_key: Option<u32>,
    /// Each concurrency key's tasks in push (id) order; finished ones are dropped lazily.
    keyed: HashMap<String, BTreeSet<TaskId>>,
    seq: u64,
    next_token: i64,
}

impl Record {
    /// Add the current attempt, failed with `error` and ended at `now`, to the task's history.
    fn failed(&mut self, error: &str, now: DateTime<Utc>) {
        let record = AttemptRecord::new(self.info.attempt, self.info.started_at, now, error);
        AttemptRecord::push_bounded(&mut self.info.attempts, record);
    }
}

fn after(now: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl QueueState {
    /// Put a pending task in the due or the scheduled index.
    fn index_pending(&mut self, id: TaskId, now: DateTime<Utc>) {
        let Some(record) = self.tasks.get_mut(&id) else { return };
        if record.info.run_at <= now {
            self.seq += 1;
            let key = (Reverse(record.info.priority), record.info.run_at, self.seq, id);
            self.ready.insert(key);
            record.ready = Some(key);
        } else {
            let key = (record.info.run_at, id);
            self.scheduled.insert(key);
            record.scheduled = Some(key);
        }
    }

    /// Take a task out of every index.
    fn unindex(&mut self, id: TaskId) {
        let Some(record) = self.tasks.get_mut(&id) else { return };
        if let Some(key) = record.ready.take() {
            self.ready.remove(&key);
        }
        if let Some(key) = record.scheduled.take() {
            self.scheduled.remove(&key);
        }
        if let Some(key) = record.lease.take() {
            self.leases.remove(&key);
        }
    }

    fn release_unique(&mut self, id: TaskId) {
        if let Some(key) = self.tasks.get(&id).and_then(|r| r.info.unique_key.clone()) {
            if self.unique.get(&key) == Some(&id) {
                self.unique.remove(&key);
            }
        }
    }

    pub(super) fn enqueue(&mut self, queue: &str, tasks: Vec<NewTask>, now: DateTime<Utc>) -> Vec<TaskId> {
        let mut ids = Vec::with_capacity(tasks.len());
        for task in tasks {
            if let Some(key) = &task.unique_key {
                if let Some(existing) = self.unique.get(key) {
                    ids.push(*existing);
                    continue;
                }
                self.unique.insert(key.clone(), task.id);
            }
            if let Some(key) = &task.concurrency_key {
                self.keyed.entry(key.clone()).or_default().insert(task.id);
            }
            let info = TaskInfo::from_new(queue, &task, now);
            self.tasks.insert(task.id, Record { info, token: None, ready: None, scheduled: None, lease: None });
            self.index_pending(task.id, now);
            ids.push(task.id);
        }
        ids
    }

    /// Push a tick's task unless the schedule is at this tick or later (see `PushTicks`).
    pub(super) fn push_tick(&mut self, queue: &str, push: TickPush, now: DateTime<Utc>) -> TickPushed {
        let last = self.ticks.get(&push.schedule).copied();
        if last.is_some_and(|(tick, _)| tick >= push.tick) {
            return TickPushed::Taken;
        }
        let previous = last.and_then(|(_, task)| task);
        if push.overlap == Overlap::Skip {
            if let Some(running) = previous.filter(|id| self.tasks.get(id).is_some_and(|r| !r.info.status.is_final())) {
                self.ticks.insert(push.schedule, (push.tick, previous));
                return TickPushed::Overlapped(running);
            }
        }
        let ids = self.enqueue(queue, vec![push.task], now);
        let id = ids.first().copied();
        self.ticks.insert(push.schedule, (push.tick, id));
        id.map_or(TickPushed::Taken, TickPushed::Pushed)
    }

    /// One schedule's record.
    pub(super) fn tick_record(&self, schedule: &str) -> Option<TickRecord> {
        self.ticks.get(schedule).map(|(tick, task)| TickRecord::new(schedule, *tick, *task))
    }

    /// Every schedule's record, by name.
    pub(super) fn tick_records(&self) -> Vec<TickRecord> {
        self.ticks.iter().map(|(name, (tick, task))| TickRecord::new(name.as_str(), *tick, *task)).collect()
    }

    pub(super) fn claim(&mut self, max: usize, lease: std::time::Duration, now: DateTime<Utc>) -> Vec<ClaimedTask> {
        if self.paused {
            return Vec::new();
        }
        // Expired leases: the task is claimable again, ahead of newer work of its priority.
        while let Some(&(deadline, id)) = self.leases.first() {
            if deadline > now {
                break;
            }
            self.leases.remove(&(deadline, id));
            let Some(record) = self.tasks.get_mut(&id) else { continue };
            // The lost attempt ended when its lease ran out.
            let ended = deadline;
            record.lease = None;
            record.token = None;
            record.info.lease_expires_at = None;
            record.info.updated_at = now;
            if record.info.attempt >= record.info.max_attempts {
                // A task that keeps killing its worker must not be re-run forever.
                record.info.status = Status::Dead;
                record.info.last_error = Some(LEASE_EXPIRED_ON_LAST_ATTEMPT.to_owned());
                record.failed(LEASE_EXPIRED_ON_LAST_ATTEMPT, ended);
                self.release_unique(id);
                continue;
            }
            record.failed(LEASE_EXPIRED, ended);
            record.info.status = Status::Pending;
            self.index_pending(id, now);
        }
        let mut max = match self.max_running {
            Some(cap) => max.min((cap as usize).saturating_sub(self.leases.len())),
            None => max,
        };
        self.rate_wait = None;
        let now_ms = now.timestamp_millis() as f64;
        if let Some((rate, tat)) = self.rate {
            match rate.grant(tat, now_ms, max) {
                Ok(granted) => max = granted,
                Err(wait) => {
                    self.rate_wait = Some(wait);
                    return Vec::new();
                }
            }
        }
        // Scheduled tasks that are due now.
        while let Some(&(at, id)) = self.scheduled.first() {
            if at > now {
                break;
            }
            self.scheduled.remove(&(at, id));
            if let Some(record) = self.tasks.get_mut(&id) {
                record.scheduled = None;
            }
            self.index_pending(id, now);
        }
        let deadline = after(now, lease);
        let mut claimed = Vec::with_capacity(max.min(self.ready.len()));
        let mut held_back = Vec::new();
        while claimed.len() < max {
            let Some(key) = self.ready.pop_first() else { break };
            let id = key.3;
            if !self.key_allows(id) {
                held_back.push(key);
                continue;
            }
            let Some(record) = self.tasks.get_mut(&id) else { continue };
            self.next_token += 1;
            let token = LeaseToken(self.next_token);
            record.ready = None;
            record.token = Some(token);
            record.lease = Some((deadline, id));
            record.info.status = Status::Running;
            record.info.attempt += 1;
            record.info.lease_expires_at = Some(deadline);
            record.info.updated_at = now;
            record.info.started_at = Some(now);
            self.leases.insert((deadline, id));
            claimed.push(
                ClaimedTask::new(id, token, record.info.attempt, record.info.max_attempts, record.info.payload.clone())
                    .with_run_at(record.info.run_at),
            );
        }
        self.ready.extend(held_back);
        if let Some((rate, tat)) = &mut self.rate {
            *tat = rate.advance(*tat, now_ms, claimed.len());
        }
        claimed
    }

    /// Whether the per-key limit lets task `id` start now (see `KeyConcurrency`): fewer than
    /// K of its key's tasks pushed before it unfinished, and fewer than K of them running.
    fn key_allows(&mut self, id: TaskId) -> bool {
        let Some(k) = self.max_per_key else { return true };
        let Some(key) = self.tasks.get(&id).and_then(|r| r.info.concurrency_key.as_deref()) else { return true };
        let Some(set) = self.keyed.get_mut(key) else { return true };
        let tasks = &self.tasks;
        set.retain(|t| tasks.get(t).is_some_and(|r| matches!(r.info.status, Status::Pending | Status::Running)));
        let earlier = set.range(..id).count();
        let running = set.iter().filter(|t| tasks.get(t).is_some_and(|r| r.info.status == Status::Running)).count();
        earlier < k as usize && running < k as usize
    }

    /// The record of a claim that still holds, if `lease` is it.
    fn held(&mut self, lease: &Lease) -> bool {
        self.tasks.get(&lease.id).is_some_and(|r| r.info.status == Status::Running && r.token == Some(lease.token))
    }

    pub(super) fn complete(&mut self, batch: Vec<Completion>, now: DateTime<Utc>) -> bool {
        let mut woke = false;
        for Completion { lease, outcome } in batch {
            if !self.held(&lease) {
                continue;
            }
            self.unindex(lease.id);
            let Some(record) = self.tasks.get_mut(&lease.id) else { continue };
            record.token = None;
            record.info.lease_expires_at = None;
            record.info.updated_at = now;
            match outcome {
                Outcome::Done => {
                    record.info.status = Status::Done;
                    self.release_unique(lease.id);
                }
                Outcome::Dead { error } => {
                    record.info.status = Status::Dead;
                    record.failed(&error, now);
                    record.info.last_error = Some(error);
                    self.release_unique(lease.id);
                }
                Outcome::Retry { delay, error } => {
                    record.info.status = Status::Pending;
                    record.failed(&error, now);
                    record.info.last_error = Some(error);
                    record.info.run_at = after(now, delay);
                    woke |= delay.is_zero();
                    self.index_pending(lease.id, now);
                }
            }
        }
        woke
    }

    pub(super) fn extend(&mut self, leases: Vec<Lease>, lease: std::time::Duration, now: DateTime<Utc>) {
        let deadline = after(now, lease);
        for l in leases {
            if !self.held(&l) {
                continue;
            }
            if let Some(record) = self.tasks.get_mut(&l.id) {
                if let Some(old) = record.lease.replace((deadline, l.id)) {
                    self.leases.remove(&old);
                }
                record.info.lease_expires_at = Some(deadline);
                self.leases.insert((deadline, l.id));
            }
        }
    }

    pub(super) fn release(&mut self, leases: Vec<Lease>, now: DateTime<Utc>) -> bool {
        let mut any = false;
        for l in leases {
            if !self.held(&l) {
                continue;
            }
            self.unindex(l.id);
            if let Some(record) = self.tasks.get_mut(&l.id) {
                record.token = None;
                record.info.status = Status::Pending;
                record.info.attempt = record.info.attempt.saturating_sub(1);
                record.info.lease_expires_at = None;
                record.info.updated_at = now;
            }
            self.index_pending(l.id, now);
            any = true;
        }
        any
    }

    pub(super) fn cancel(&mut self, id: TaskId, now: DateTime<Utc>) -> bool {
        match self.tasks.get(&id) {
            Some(r) if !r.info.status.is_final() => {}
            _ => return false,
        }
        self.unindex(id);
        self.release_unique(id);
        if let Some(record) = self.tasks.get_mut(&id) {
            record.token = None;
            record.info.status = Status::Cancelled;
            record.info.lease_expires_at = None;
            record.info.updated_at = now;
        }
        true
    }

    /// Delete a task that is not running (the admin's delete): out of every index, its unique
    /// key and its concurrency key freed.
    pub(super) fn delete(&mut self, id: TaskId) -> bool {
        match self.tasks.get(&id) {
            Some(r) if r.info.status != Status::Running => {}
            _ => return false,
        }
        self.unindex(id);
        self.release_unique(id);
        let key = self.tasks.remove(&id).and_then(|r| r.info.concurrency_key);
        if let Some(key) = key {
            if let Some(set) = self.keyed.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    self.keyed.remove(&key);
                }
            }
        }
        true
    }

    /// Make a pending task due now (the admin's run now); whether it is pending.
    pub(super) fn run_now(&mut self, id: TaskId, now: DateTime<Utc>) -> bool {
        match self.tasks.get(&id) {
            Some(r) if r.info.status == Status::Pending => {}
            _ => return false,
        }
        self.unindex(id);
        if let Some(record) = self.tasks.get_mut(&id) {
            record.info.run_at = record.info.run_at.min(now);
            record.info.updated_at = now;
        }
        self.index_pending(id, now);
        true
    }

    pub(super) fn requeue(&mut self, id: TaskId, now: DateTime<Utc>) -> bool {
        match self.tasks.get(&id) {
            Some(r) if matches!(r.info.status, Status::Dead | Status::Cancelled) => {}
            _ => return false,
        }
        let key = self.tasks.get(&id).and_then(|r| r.info.unique_key.clone());
        if let Some(key) = key {
            // Another live task holds the key now: requeueing would make two.
            if self.unique.get(&key).is_some_and(|holder| *holder != id) {
                return false;
            }
            self.unique.insert(key, id);
        }
        if let Some(key) = self.tasks.get(&id).and_then(|r| r.info.concurrency_key.clone()) {
            self.keyed.entry(key).or_default().insert(id);
        }
        if let Some(record) = self.tasks.get_mut(&id) {
            record.info.status = Status::Pending;
            record.info.attempt = 0;
            record.info.run_at = now;
            record.info.updated_at = now;
        }
        self.index_pending(id, now);
        true
    }

    pub(super) fn stats(&self, now: DateTime<Utc>) -> QueueStats {
        let mut stats = QueueStats::default();
        let mut head: Option<(Reverse<i32>, DateTime<Utc>)> = None;
        for record in self.tasks.values() {
            match record.info.status {
                Status::Pending => {
                    stats.pending += 1;
                    if record.info.run_at > now {
                        stats.scheduled += 1;
                    } else {
                        let key = (Reverse(record.info.priority), record.info.run_at);
                        if head.is_none_or(|h| key < h) {
                            head = Some(key);
                        }
                    }
                }
                Status::Running => stats.running += 1,
                Status::Done => stats.done += 1,
                Status::Dead => stats.dead += 1,
                Status::Cancelled => stats.cancelled += 1,
            }
        }
        stats.oldest_due_at = head.map(|(_, at)| at);
        stats
    }

    pub(super) fn list(&self, query: &ListQuery) -> Vec<TaskInfo> {
        let mut infos: Vec<&TaskInfo> =
            self.tasks.values().map(|r| &r.info).filter(|info| query.status.is_none_or(|s| info.status == s)).collect();
        infos.sort_unstable_by_key(|info| std::cmp::Reverse(info.id));
        infos
            .into_iter()
            .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// Delete at most `limit` tasks with the final `status` last changed before `before`.
    pub(super) fn prune(&mut self, status: Status, before: DateTime<Utc>, limit: usize) -> u64 {
        let doomed: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, r)| r.info.status == status && r.info.updated_at < before)
            .map(|(id, _)| *id)
            .take(limit)
            .collect();
        for id in &doomed {
            self.unindex(*id);
            self.tasks.remove(id);
        }
        doomed.len() as u64
    }

    pub(super) fn get(&self, id: TaskId) -> Option<TaskInfo> {
        self.tasks.get(&id).map(|r| r.info.clone())
    }
}
