//! What a storage holds in memory: deliveries buffered from the consumer, the claims handed to
//! workers (with their local lease deadlines), and the delivery tags not yet settled.

use std::collections::{BTreeSet, HashMap, VecDeque};

use drover_core::{ClaimedTask, Lease, LeaseToken};
use tokio::time::Instant;

use crate::envelope::Envelope;

/// A delivery received from the consumer and not yet claimed.
#[derive(Debug)]
pub(crate) struct Buffered {
    pub(crate) tag: u64,
    pub(crate) envelope: Envelope,
    pub(crate) payload: Vec<u8>,
}

/// A delivery handed to a worker: the broker holds it unacknowledged while the claim lasts.
#[derive(Debug)]
pub(crate) struct Claim {
    /// The connection it came on: its tag means nothing on another one.
    pub(crate) generation: u64,
    pub(crate) tag: u64,
    pub(crate) envelope: Envelope,
    /// This claim's attempt (`envelope.attempts + 1`).
    pub(crate) attempt: u32,
    pub(crate) deadline: Instant,
    pub(crate) payload: Vec<u8>,
}

/// How to settle a batch of delivery tags in as few frames as is safe.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct AckPlan {
    /// One `multiple = true` ack up to this tag.
    pub(crate) up_to: Option<u64>,
    /// Tags acked one by one.
    pub(crate) singles: Vec<u64>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// The connection whose deliveries the buffer and `outstanding` hold.
    pub(crate) generation: u64,
    pub(crate) buffer: VecDeque<Buffered>,
    pub(crate) claims: HashMap<LeaseToken, Claim>,
    /// Every unsettled delivery tag of the current connection's consumer channel.
    pub(crate) outstanding: BTreeSet<u64>,
    /// Every delivery tag up to this one reached the storage. The broker numbers a channel's
    /// deliveries 1, 2, 3, ...; a tag missing below one that arrived was delivered on the
    /// channel but never handed over by the client library.
    received_through: u64,
    /// Tags that arrived above a missing one.
    received_ahead: BTreeSet<u64>,
    /// Since when the tag after `received_through` has been missing.
    gap_since: Option<Instant>,
    next_token: i64,
}

impl State {
    /// A new connection: what the old one had in flight goes back to the queue on the broker
    /// side, so the buffer and the unsettled tags are forgotten. Claims stay until completed
    /// or expired, and then are ignored as stale.
    pub(crate) fn reset(&mut self, generation: u64) {
        self.generation = generation;
        self.buffer.clear();
        self.outstanding.clear();
        self.received_through = 0;
        self.received_ahead.clear();
        self.gap_since = None;
    }

    /// Delivery `tag` of the current connection reached the storage.
    pub(crate) fn received(&mut self, tag: u64) {
        if tag <= self.received_through {
            return;
        }
        if tag != self.received_through + 1 {
            self.received_ahead.insert(tag);
            self.gap_since.get_or_insert_with(Instant::now);
            return;
        }
        self.received_through = tag;
        while self.received_ahead.first() == Some(&(self.received_through + 1)) {
            self.received_ahead.pop_first();
            self.received_through += 1;
        }
        self.gap_since = (!self.received_ahead.is_empty()).then(Instant::now);
    }

    /// The delivery tag that has been missing since before `since` while later ones arrived:
    /// the broker holds it unacknowledged for this connection, and only closing the connection
    /// gives it back.
    pub(crate) fn missing_since(&self, since: Instant) -> Option<u64> {
        self.gap_since.filter(|at| *at <= since).map(|_| self.received_through + 1)
    }

    /// A message of a lost connection came back as delivery `tag` of the current one. If a
    /// worker still holds its claim from the lost connection (running it, or waiting to), the
    /// claim adopts the new delivery: its completion then acks `tag`, and the task is not
    /// handed out a second time. Returns whether a claim adopted it.
    pub(crate) fn adopt(&mut self, id: drover_core::TaskId, tag: u64) -> bool {
        let generation = self.generation;
        let Some(claim) = self.claims.values_mut().find(|c| c.envelope.id == id && c.generation != generation) else {
            return false;
        };
        claim.generation = generation;
        claim.tag = tag;
        self.outstanding.insert(tag);
        true
    }

    /// Move up to `max` buffered deliveries into claims leased until `deadline`.
    pub(crate) fn take(&mut self, max: usize, deadline: Instant, out: &mut Vec<ClaimedTask>) {
        while out.len() < max {
            let Some(b) = self.buffer.pop_front() else { break };
            self.next_token = self.next_token.wrapping_add(1).max(1);
            let token = LeaseToken(self.next_token);
            let attempt = b.envelope.attempts.saturating_add(1);
            let mut task = ClaimedTask::new(b.envelope.id, token, attempt, b.envelope.max_attempts, b.payload.clone());
            if let Some(at) = chrono::DateTime::from_timestamp_millis(b.envelope.enqueued_at_ms) {
                task = task.with_enqueued_at(at);
            }
            if let Some(at) = b.envelope.run_at_ms.and_then(chrono::DateTime::from_timestamp_millis) {
                task = task.with_run_at(at);
            }
            out.push(task);
            self.claims.insert(
                token,
                Claim {
                    generation: self.generation,
                    tag: b.tag,
                    envelope: b.envelope,
                    attempt,
                    deadline,
                    payload: b.payload,
                },
            );
        }
    }

    /// Take the claim `lease` refers to, if it still holds on the current connection.
    /// A claim of an old connection is dropped: the broker has already requeued its message.
    pub(crate) fn take_claim(&mut self, lease: &Lease) -> Option<Claim> {
        match self.claims.get(&lease.token) {
            Some(c) if c.envelope.id == lease.id => {}
            _ => return None,
        }
        let claim = self.claims.remove(&lease.token)?;
        (claim.generation == self.generation).then_some(claim)
    }

    /// Put back claims whose settlement failed, if their connection is still current.
    pub(crate) fn restore(&mut self, claims: Vec<(LeaseToken, Claim)>) {
        for (token, claim) in claims {
            if claim.generation == self.generation {
                self.claims.insert(token, claim);
            }
        }
    }

    /// Remove the claims whose lease ran out by `now`; those of old connections are dropped.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<(LeaseToken, Claim)> {
        let tokens: Vec<LeaseToken> =
            self.claims.iter().filter(|(_, c)| c.deadline <= now).map(|(token, _)| *token).collect();
        let generation = self.generation;
        tokens
            .into_iter()
            .filter_map(|token| self.claims.remove(&token).map(|claim| (token, claim)))
            .filter(|(_, claim)| claim.generation == generation)
            .collect()
    }

    /// Plan the acknowledgement of `tags`, and mark them settled. Tags no longer outstanding
    /// are skipped (acking a tag twice is a channel error that would requeue everything).
    /// `multiple = true` acks every unsettled tag up to its own, so it covers only a run of
    /// `tags` that are the oldest outstanding ones, and no tag that never reached the storage
    /// (the broker would count it as done).
    pub(crate) fn plan_acks(&mut self, mut tags: Vec<u64>) -> AckPlan {
        tags.sort_unstable();
        tags.dedup();
        tags.retain(|t| self.outstanding.contains(t));
        let through = self.received_through;
        let prefix = self.outstanding.iter().zip(&tags).take_while(|(o, t)| o == t && **t <= through).count();
        for t in &tags {
            self.outstanding.remove(t);
        }
        if prefix >= 2 {
            AckPlan { up_to: Some(tags[prefix - 1]), singles: tags.split_off(prefix) }
        } else {
            AckPlan { up_to: None, singles: tags }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn state_with(tags: &[u64]) -> State {
        let mut s = State { outstanding: tags.iter().copied().collect(), ..State::default() };
        for t in tags {
            s.received(*t);
        }
        s
    }

    #[test]
    fn a_claim_of_a_lost_connection_adopts_its_redelivery() {
        let mut s = State { generation: 1, ..State::default() };
        let envelope = Envelope::foreign(0);
        let id = envelope.id;
        s.buffer.push_back(Buffered { tag: 7, envelope, payload: Vec::new() });
        let mut out = Vec::new();
        s.take(1, Instant::now(), &mut out);
        s.reset(2);
        assert!(!s.adopt(Envelope::foreign(0).id, 3), "no claim holds that task");
        assert!(s.adopt(id, 3), "the old claim adopts the redelivery");
        assert!(!s.adopt(id, 4), "a claim adopts once");
        let claim = s.take_claim(&out[0].lease()).expect("the adopted claim is current again");
        assert_eq!((claim.generation, claim.tag), (2, 3));
        assert!(s.outstanding.contains(&3));
    }

    #[test]
    fn a_run_of_oldest_tags_is_one_multiple_ack() {
        let mut s = state_with(&[1, 2, 3, 4, 5]);
        assert_eq!(s.plan_acks(vec![3, 1, 2]), AckPlan { up_to: Some(3), singles: vec![] });
        assert_eq!(s.outstanding.iter().copied().collect::<Vec<_>>(), vec![4, 5]);
    }

    #[test]
    fn gaps_are_acked_one_by_one() {
        let mut s = state_with(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(s.plan_acks(vec![1, 2, 4, 6]), AckPlan { up_to: Some(2), singles: vec![4, 6] });
        let mut s = state_with(&[1, 2, 3]);
        assert_eq!(s.plan_acks(vec![2, 3]), AckPlan { up_to: None, singles: vec![2, 3] });
    }

    #[test]
    fn a_tag_that_never_arrived_is_not_covered_by_a_multiple_ack() {
        // Tag 2 was delivered on the channel but never reached the storage.
        let mut s = state_with(&[1, 3, 4, 5]);
        assert_eq!(s.plan_acks(vec![1, 3, 4]), AckPlan { up_to: None, singles: vec![1, 3, 4] });
        let mut s = state_with(&[1, 2, 3, 5, 6]);
        assert_eq!(s.plan_acks(vec![1, 2, 3, 5, 6]), AckPlan { up_to: Some(3), singles: vec![5, 6] });
    }

    #[test]
    fn a_missing_tag_is_reported_once_it_has_been_missing_long_enough() {
        let mut s = State::default();
        s.received(1);
        s.received(3);
        s.received(4);
        let a_minute_ago = Instant::now().checked_sub(Duration::from_secs(60)).expect("an uptime of a minute");
        assert_eq!(s.missing_since(a_minute_ago), None, "not missing for long yet");
        assert_eq!(s.missing_since(Instant::now()), Some(2));
        s.received(2);
        assert_eq!(
            s.missing_since(Instant::now()),
            None,
            "late, but arrived: tags arrive out of order across consumers"
        );
        s.received(6);
        assert_eq!(s.missing_since(Instant::now()), Some(5));
        s.reset(2);
        assert_eq!(s.missing_since(Instant::now()), None, "a new connection numbers its deliveries from 1");
    }

    #[test]
    fn settled_tags_are_never_acked_again() {
        let mut s = state_with(&[1, 2]);
        assert_eq!(s.plan_acks(vec![1]), AckPlan { up_to: None, singles: vec![1] });
        assert_eq!(s.plan_acks(vec![1, 1]), AckPlan::default());
    }
}
