//! Schedules and their ticks.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::CronParser;
use croner::Cron;

/// A schedule that could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The cron expression does not parse.
    #[error(
        "`{expression}` is not a cron expression Drover understands: {reason} (5 fields `m h dom mon dow`, \
         or 6 with seconds first, or 7 with a year last; e.g. `*/5 * * * *`)"
    )]
    Expression {
        /// What was given.
        expression: String,
        /// What the parser said.
        reason: String,
    },
    /// A recurring job's name that storages cannot keep.
    #[error(
        "`{0}` cannot name a recurring job: a name is 1 to 191 bytes of text without control characters, \
         unique within its queue (e.g. `nightly-report`)"
    )]
    Name(String),
    /// An interval of zero, or one too long to count in milliseconds.
    #[error("an interval schedule needs a period from 1 ms to 100 years, not {0:?}")]
    Interval(Duration),
}

#[derive(Clone)]
enum Kind {
    Cron { cron: Box<Cron>, expression: String, zone: Tz },
    Every { period_ms: i64 },
}

/// When a recurring job is due: a cron expression in a time zone, or a fixed interval.
#[derive(Clone)]
pub struct Schedule {
    kind: Kind,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Cron { expression, zone, .. } => write!(f, "Schedule::cron({expression:?}) in {zone}"),
            Kind::Every { period_ms } => write!(f, "Schedule::every({period_ms} ms)"),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Cron { expression, zone, .. } => write!(f, "{expression} ({zone})"),
            Kind::Every { period_ms } => write!(f, "every {period_ms} ms"),
        }
    }
}

impl Schedule {
    /// A cron expression, in UTC until [`Schedule::in_time_zone`]: 5 fields (`m h dom mon
    /// dow`), 6 (seconds first) or 7 (a year last), with the usual lists, ranges, steps, names
    /// (`MON`, `JAN`) and nicknames (`@daily`).
    pub fn cron(expression: &str) -> Result<Self, ScheduleError> {
        let cron = CronParser::new()
            .parse(expression.trim())
            .map_err(|e| ScheduleError::Expression { expression: expression.to_owned(), reason: e.to_string() })?;
        Ok(Self { kind: Kind::Cron { cron: Box::new(cron), expression: expression.trim().to_owned(), zone: Tz::UTC } })
    }

    /// A tick every `period`, at the multiples of `period` since the Unix epoch (so every node,
    /// and every restart, agrees on them).
    pub fn every(period: Duration) -> Result<Self, ScheduleError> {
        let too_long = period > drover_core::span::MAX_SPAN;
        let period_ms = drover_core::span::millis(period);
        if period_ms <= 0 || too_long {
            return Err(ScheduleError::Interval(period));
        }
        Ok(Self { kind: Kind::Every { period_ms } })
    }

    /// Read the cron expression in `zone` (an IANA zone from [`chrono_tz`]). An interval does
    /// not depend on a zone and stays as it is.
    pub fn in_time_zone(mut self, zone: Tz) -> Self {
        if let Kind::Cron { zone: z, .. } = &mut self.kind {
            *z = zone;
        }
        self
    }

    /// The first tick strictly after `after`, or `None` when there is none (a cron
    /// expression whose last year has passed).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Cron { cron, zone, .. } => {
                let local = zone.from_utc_datetime(&after.naive_utc());
                cron.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
            }
            Kind::Every { period_ms } => {
                let ms = after.timestamp_millis();
                let next = ms.div_euclid(*period_ms).checked_add(1)?.checked_mul(*period_ms)?;
                DateTime::from_timestamp_millis(next)
            }
        }
    }

    /// The ticks in `(since, at]`, oldest first, at most the newest `limit`.
    fn ticks_in(&self, since: DateTime<Utc>, at: DateTime<Utc>, limit: usize) -> Vec<DateTime<Utc>> {
        let mut ticks = std::collections::VecDeque::new();
        let mut cursor = since;
        while let Some(tick) = self.next_after(cursor) {
            if tick > at {
                break;
            }
            ticks.push_back(tick);
            if ticks.len() > limit {
                ticks.pop_front();
            }
            cursor = tick;
        }
        ticks.into()
    }

    /// The ticks to run at `now`, oldest first, given the last tick that ran (`None`: the
    /// schedule never ran here, which counts as nothing missed) and the [`CatchUp`] policy for
    /// ticks missed while no node ran the schedule.
    ///
    /// A tick is on time when nothing was missed before it, or when it is less than
    /// [`ON_TIME`] old; any other tick is a missed one, and the policy decides.
    pub fn due(&self, last_run: Option<DateTime<Utc>>, now: DateTime<Utc>, catch_up: CatchUp) -> Vec<DateTime<Utc>> {
        let on_time = |tick: DateTime<Utc>| now.signed_duration_since(tick) < ON_TIME;
        let Some(last_run) = last_run else {
            return self.latest(now).filter(|t| on_time(*t)).into_iter().collect();
        };
        let limit = match catch_up {
            CatchUp::All { max } => max.max(1),
            _ => 1,
        };
        // One more than kept, to tell "nothing missed" from "missed and cut".
        let mut ticks = self.ticks_in(last_run, now, limit.saturating_add(1));
        let Some(&newest) = ticks.last() else { return Vec::new() };
        let nothing_missed = ticks.len() == 1;
        match catch_up {
            CatchUp::Skip if nothing_missed || on_time(newest) => vec![newest],
            CatchUp::Skip => Vec::new(),
            CatchUp::Last => vec![newest],
            CatchUp::All { .. } => {
                let start = ticks.len().saturating_sub(limit);
                ticks.drain(..start);
                ticks
            }
        }
    }

    /// The latest tick at or before `now`.
    fn latest(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every { period_ms } => {
                DateTime::from_timestamp_millis(now.timestamp_millis().div_euclid(*period_ms) * period_ms)
            }
            Kind::Cron { cron, zone, .. } => {
                let local = zone.from_utc_datetime(&now.naive_utc());
                cron.find_previous_occurrence(&local, true).ok().map(|t| t.with_timezone(&Utc))
            }
        }
    }
}

/// How late a tick may be looked at and still count as on time rather than missed (a node
/// waking a little after its tick, a slow loop).
pub const ON_TIME: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// What to do with ticks missed while no node ran the schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CatchUp {
    /// Drop them and go on with the next tick (the default).
    #[default]
    Skip,
    /// Run the newest missed tick, once.
    Last,
    /// Run every missed tick, oldest first, but at most the newest `max`.
    All {
        /// The most ticks run after a downtime.
        max: usize,
    },
}
