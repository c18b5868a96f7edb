//! A node down for 5 ticks comes back: what each catch-up policy runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use drover_cron::{tick_id, CatchUp, Schedule, Tick};

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + s, 0).unwrap()
}

fn minutely() -> Schedule {
    Schedule::every(Duration::from_secs(60)).unwrap()
}

#[test]
fn on_time_ticks_run_under_every_policy() {
    let s = minutely();
    let last = s.next_after(t(0)).unwrap();
    let next = s.next_after(last).unwrap();
    for policy in [CatchUp::Skip, CatchUp::Last, CatchUp::All { max: 10 }] {
        assert_eq!(s.due(Some(last), next + TimeDelta::milliseconds(5), policy), vec![next], "{policy:?}");
        assert!(
            s.due(Some(next), next + TimeDelta::milliseconds(5), policy).is_empty(),
            "a tick runs once: {policy:?}"
        );
    }
}

#[test]
fn five_missed_ticks_per_policy() {
    let s = minutely();
    let last = s.next_after(t(0)).unwrap();
    let missed: Vec<_> = std::iter::successors(s.next_after(last), |x| s.next_after(*x)).take(5).collect();
    // Back 30 s after the fifth missed tick: all five are missed, none is on time.
    let now = missed[4] + TimeDelta::seconds(30);
    assert!(s.due(Some(last), now, CatchUp::Skip).is_empty(), "skip: nothing now, the next tick runs as usual");
    assert_eq!(s.due(Some(last), now, CatchUp::Last), vec![missed[4]], "last: the newest missed tick");
    assert_eq!(s.due(Some(last), now, CatchUp::All { max: 10 }), missed, "all: every missed tick, oldest first");
    assert_eq!(s.due(Some(last), now, CatchUp::All { max: 3 }), missed[2..].to_vec(), "all up to 3: the newest 3");
    // Back right on the fifth tick: it is on time, the four before it are missed.
    let on_time = missed[4] + TimeDelta::milliseconds(200);
    assert_eq!(s.due(Some(last), on_time, CatchUp::Skip), vec![missed[4]]);
}

#[test]
fn a_new_schedule_runs_only_an_on_time_tick() {
    let s = minutely();
    let tick = s.next_after(t(0)).unwrap();
    assert_eq!(s.due(None, tick + TimeDelta::milliseconds(10), CatchUp::All { max: 5 }), vec![tick]);
    assert!(s.due(None, tick + TimeDelta::seconds(30), CatchUp::Last).is_empty(), "nothing was missed yet");
}

#[test]
fn ticks_are_the_same_on_every_node_and_get_the_same_task_id() {
    let a = Schedule::cron("*/5 * * * * *").unwrap();
    let b = Schedule::cron("*/5 * * * * *").unwrap();
    let now = t(7);
    assert_eq!(a.next_after(now), b.next_after(now));
    let tick = a.next_after(now).unwrap();
    let id = tick_id("reports", "report", tick).unwrap();
    assert_eq!(tick_id("reports", "report", b.next_after(now).unwrap()), Some(id));
    assert_eq!(Tick::of(id).map(|t| t.at()), Some(tick));
}

#[test]
fn bad_schedules_say_what_is_accepted() {
    let error = Schedule::cron("every tuesday").unwrap_err().to_string();
    assert!(error.contains("every tuesday") && error.contains("5 fields"), "{error}");
    assert!(Schedule::every(Duration::ZERO).is_err());
    assert!(Schedule::cron("0 2 * * *").is_ok(), "5 fields");
    assert!(Schedule::cron("0 0 2 * * *").is_ok(), "6 fields, seconds first");
    assert!(Schedule::cron("0 0 2 * * * 2030").is_ok(), "7 fields, a year last");
    assert!(Schedule::cron("@daily").is_ok());
}
