//! Ticks on the two DST days of 2025 in America/New_York, on a controlled clock (the ticks are
//! computed, nothing waits): spring forward on 9 March (02:00 → 03:00 EDT), fall back on
//! 2 November (02:00 EDT → 01:00 EST).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::America::New_York;
use drover_cron::Schedule;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Every tick in `[from, to)`.
fn ticks(schedule: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut cursor = from - chrono::TimeDelta::milliseconds(1);
    while let Some(t) = schedule.next_after(cursor) {
        if t >= to {
            break;
        }
        out.push(t);
        cursor = t;
    }
    out
}

#[test]
fn a_time_skipped_by_spring_forward_fires_once_at_three() {
    let schedule = Schedule::cron("30 2 * * *").unwrap().in_time_zone(New_York);
    // 8 March 00:00 EST (05:00 UTC) to 11 March.
    let got = ticks(&schedule, utc(2025, 3, 8, 5, 0), utc(2025, 3, 11, 5, 0));
    assert_eq!(
        got,
        vec![
            utc(2025, 3, 8, 7, 30),  // 02:30 EST
            utc(2025, 3, 9, 7, 0),   // 02:30 does not exist: 03:00 EDT, once
            utc(2025, 3, 10, 6, 30), // 02:30 EDT
        ]
    );
}

#[test]
fn a_time_repeated_by_fall_back_fires_once() {
    let schedule = Schedule::cron("30 1 * * *").unwrap().in_time_zone(New_York);
    let got = ticks(&schedule, utc(2025, 11, 1, 4, 0), utc(2025, 11, 4, 5, 0));
    assert_eq!(
        got,
        vec![
            utc(2025, 11, 1, 5, 30), // 01:30 EDT
            utc(2025, 11, 2, 5, 30), // the first 01:30 (EDT) only, not the second (EST)
            utc(2025, 11, 3, 6, 30), // 01:30 EST
        ]
    );
}

#[test]
fn every_thirty_minutes_stays_monotonic_across_the_repeated_hour() {
    let schedule = Schedule::cron("*/30 * * * *").unwrap().in_time_zone(New_York);
    // 2 November 00:00 EDT (04:00 UTC) to 04:00 EST (09:00 UTC).
    let got = ticks(&schedule, utc(2025, 11, 2, 4, 0), utc(2025, 11, 2, 9, 0));
    assert!(got.windows(2).all(|w| w[0] < w[1]), "ticks must only move forward: {got:?}");
    let gaps: Vec<i64> = got.windows(2).map(|w| (w[1] - w[0]).num_minutes()).collect();
    assert!(gaps.iter().all(|g| *g == 30 || *g == 90), "each step is 30 minutes, or the repeated hour once: {gaps:?}");
    assert!(got.contains(&utc(2025, 11, 2, 5, 30)), "01:30 EDT");
    assert_eq!(got.first(), Some(&utc(2025, 11, 2, 4, 0)));
    assert_eq!(got.last(), Some(&utc(2025, 11, 2, 8, 30)), "03:30 EST");
}

#[test]
fn utc_and_intervals_see_no_dst() {
    let hourly = Schedule::cron("0 * * * *").unwrap();
    let got = ticks(&hourly, utc(2025, 3, 9, 5, 0), utc(2025, 3, 9, 9, 0));
    assert_eq!(got.len(), 4);
    let every = Schedule::every(std::time::Duration::from_secs(3600)).unwrap();
    assert_eq!(ticks(&every, utc(2025, 11, 2, 4, 0), utc(2025, 11, 2, 9, 0)).len(), 5);
}
