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
    /// Before this the server still counts this delivery as the current one: the server's
    /// ack timer (`ack_wait`) started no earlier than the pull request was sent, or than the
    /// last progress ack the server confirmed was published. Past it the server may have
    /// redelivered the message to another process, so an ack of this delivery could ack that
    /// one: the claim is treated as expired.
    pub(crate) server_deadline: Instant,
    pub(crate) payload: Vec<u8>,
}

impl Claim {
    /// Whether the server may have redelivered this claim's message by `now` (plus a margin
    /// for the ack to reach it).
    pub(crate) fn fenced(&self, now: Instant) -> bool {
        now + FENCE_MARGIN >= self.server_deadline
    }
}

/// How long before the server's ack timer runs out a claim stops acking: the ack must reach
/// the server before its timer fires.
pub(crate) const FENCE_MARGIN: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Debug, Default)]
pub(crate) struct State {
    claims: HashMap<LeaseToken, Claim>,
    by_id: HashMap<TaskId, LeaseToken>,
    retrying: HashMap<TaskId, Retrying>,
    next_token: i64,
}

/// A short retry this process sent as a delayed Nak.
#[derive(Debug, Clone)]
pub(crate) struct Retrying {
    pub(crate) until: Instant,
    pub(crate) run_at: chrono::DateTime<chrono::Utc>,
    pub(crate) attempt: u32,
    pub(crate) error: String,
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
        self.retrying.remove(&e.id);
        self.claims.insert(token, claim);
        task
    }

    /// A redelivery of a message this process still holds a claim on (its progress acks were
    /// lost, say during a server restart): the claim adopts the new delivery instead of the
    /// task being handed out twice. Returns whether a claim adopted it.
    pub(crate) fn adopt(&mut self, id: TaskId, seq: u64, reply: &Subject, server_deadline: Instant) -> bool {
        let Some(claim) = self.by_id.get(&id).and_then(|t| self.claims.get_mut(t)) else { return false };
        if claim.seq != seq {
            return false;
        }
        claim.reply = reply.clone();
        claim.server_deadline = server_deadline;
        true
    }

    /// The server confirmed progress acks of these claims, published no earlier than
    /// `server_deadline - ack_wait`.
    pub(crate) fn touched(&mut self, tokens: &[LeaseToken], server_deadline: Instant) {
        for token in tokens {
            if let Some(claim) = self.claims.get_mut(token) {
                claim.server_deadline = claim.server_deadline.max(server_deadline);
            }
        }
    }

    /// The claim on `id` held here, if any (for inspection).
    pub(crate) fn claim_of(&self, id: TaskId) -> Option<&Claim> {
        self.by_id.get(&id).and_then(|t| self.claims.get(t))
    }

    /// Remember a task waiting on a delayed Nak (a short retry), for inspection: the server
    /// holds it ack-pending, like a running one. Entries past their time are dropped.
    pub(crate) fn retrying(&mut self, id: TaskId, retry: Retrying) {
        let now = Instant::now();
        if self.retrying.len() >= 1_024 {
            self.retrying.retain(|_, r| r.until > now);
        }
        self.retrying.insert(id, retry);
    }

    /// How many short retries sent here are not due yet.
    pub(crate) fn retrying_now(&self) -> u64 {
        let now = Instant::now();
        self.retrying.values().filter(|r| r.until > now).count() as u64
    }

    /// The short retry `id` waits on, if this process Nak'd it and it is not due yet.
    pub(crate) fn retry_of(&self, id: TaskId) -> Option<&Retrying> {
        self.retrying.get(&id).filter(|r| r.until > Instant::now())
    }

    /// Take the claim `lease` refers to, if it still holds: its lease has not run out, and the
    /// server still counts its delivery as the current one ([`Claim::fenced`]). A fenced claim
    /// stays until its lease runs out: a redelivery to this process can still adopt it.
    pub(crate) fn take(&mut self, lease: &Lease, now: Instant) -> Option<Claim> {
        match self.claims.get(&lease.token) {
            Some(c) if c.envelope.id == lease.id && c.deadline > now && !c.fenced(now) => {}
            _ => return None,
        }
        self.by_id.remove(&lease.id);
        self.claims.remove(&lease.token)
    }

    /// Move the deadline of a current claim; returns its reply subject.
    pub(crate) fn extend(&mut self, lease: &Lease, deadline: Instant) -> Option<Subject> {
        let claim = self.claims.get_mut(&lease.token).filter(|c| c.envelope.id == lease.id)?;
        let now = Instant::now();
        if claim.deadline <= now || claim.fenced(now) {
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
