//! What a storage holds in memory: the claims handed to workers, with their local lease
//! deadlines and the reply subjects that ack their messages.

use std::collections::HashMap;

use async_nats::Subject;
use drover_core::{ClaimedTask, Lease, LeaseToken, TaskId};
use tokio::time::Instant;

use crate::envelope::Envelope;

/// A delivered message handed to a worker; the server holds it ack-pending meanwhile.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub(crate) envelope: Envelope,
    /// Where acks of this delivery go (`$JS.ACK.…`).
    pub(crate) reply: Subject,
    /// The message's sequence in the work stream.
    pub(crate) seq: u64,
    /// This claim's attempt: attempts before the copy plus its delivery count.
    pub(crate) attempt: u32,
    pub(crate) deadline: Instant,
    pub(crate) payload: Vec<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    claims: HashMap<LeaseToken, Claim>,
    by_id: HashMap<TaskId, LeaseToken>,
    next_token: i64,
}

impl State {
    /// Record a claim and return the task a worker gets.
    pub(crate) fn insert(&mut self, claim: Claim) -> ClaimedTask {
        self.next_token = self.next_token.wrapping_add(1).max(1);
        let token = LeaseToken(self.next_token);
        let e = &claim.envelope;
        let mut task = ClaimedTask::new(e.id, token, claim.attempt, e.max_attempts, claim.payload.clone())
            .with_enqueued_at(e.enqueued_at());
        if let Some(at) = e.run_at_ms.and_then(chrono::DateTime::from_timestamp_millis) {
            task = task.with_run_at(at);
        }
        if let Some(old) = self.by_id.insert(e.id, token) {
            self.claims.remove(&old);
        }
        self.claims.insert(token, claim);
        task
    }

    /// A redelivery of a message this process still holds a claim on (its progress acks were
    /// lost, say during a server restart): the claim adopts the new delivery instead of the
    /// task being handed out twice. Returns whether a claim adopted it.
    pub(crate) fn adopt(&mut self, id: TaskId, seq: u64, reply: &Subject) -> bool {
        let Some(claim) = self.by_id.get(&id).and_then(|t| self.claims.get_mut(t)) else { return false };
        if claim.seq != seq {
            return false;
        }
        claim.reply = reply.clone();
        true
    }

    /// Take the claim `lease` refers to, if it still holds and its lease has not run out.
    pub(crate) fn take(&mut self, lease: &Lease, now: Instant) -> Option<Claim> {
        match self.claims.get(&lease.token) {
            Some(c) if c.envelope.id == lease.id && c.deadline > now => {}
            _ => return None,
        }
        self.by_id.remove(&lease.id);
        self.claims.remove(&lease.token)
    }

    /// Move the deadline of a current claim; returns its reply subject.
    pub(crate) fn extend(&mut self, lease: &Lease, deadline: Instant) -> Option<Subject> {
        let claim = self.claims.get_mut(&lease.token).filter(|c| c.envelope.id == lease.id)?;
        if claim.deadline <= Instant::now() {
            return None;
        }
        claim.deadline = deadline;
        Some(claim.reply.clone())
    }

    /// How many claims are held.
    pub(crate) fn len(&self) -> usize {
        self.claims.len()
    }

    /// Forget the claim on a task (it was cancelled).
    pub(crate) fn forget(&mut self, id: TaskId) {
        if let Some(token) = self.by_id.remove(&id) {
            self.claims.remove(&token);
        }
    }

    /// Remove and return the claims whose lease ran out by `now`.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<Claim> {
        let tokens: Vec<LeaseToken> =
            self.claims.iter().filter(|(_, c)| c.deadline <= now).map(|(token, _)| *token).collect();
        tokens
            .into_iter()
            .filter_map(|token| self.claims.remove(&token))
            .inspect(|c| {
                self.by_id.remove(&c.envelope.id);
            })
            .collect()
    }
}
