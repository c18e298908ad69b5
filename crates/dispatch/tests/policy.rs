//! Route policy compilation and schedule evaluation.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use proptest::prelude::*;
use switchboard_dispatch::policy::*;
use switchboard_dispatch::{ConfigError, Day, PolicyAction, RoutePolicy};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// An instant from an RFC 3339 UTC string, e.g. `ts("2026-03-08T13:30:00Z")`.
fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The instant of a local wall-clock time in `zone` (must not be ambiguous or in a gap).
fn local(zone: &str, s: &str) -> Timestamp {
    let dt: DateTime = s.parse().unwrap();
    TimeZone::get(zone)
        .unwrap()
        .to_ambiguous_zoned(dt)
        .unambiguous()
        .unwrap()
        .timestamp()
}

fn t(s: &str) -> Time {
    s.parse().unwrap()
}

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

/// A policy for rule `r1` in `zone` with no restrictions.
fn policy(zone: &str) -> RoutePolicy {
    RoutePolicy {
        rule_id: "r1".into(),
        timezone: zone.into(),
        ..RoutePolicy::default()
    }
}

fn with_window(mut p: RoutePolicy, start: &str, end: &str) -> RoutePolicy {
    p.window_start = Some(t(start));
    p.window_end = Some(t(end));
    p
}

fn compile(p: &RoutePolicy) -> CompiledPolicy {
    p.compile().unwrap()
}

/// The reason code at `at`, or `"open"`.
fn code_at(c: &CompiledPolicy, at: Timestamp) -> &'static str {
    match c.schedule_at(at) {
        ScheduleStatus::Open => "open",
        ScheduleStatus::Closed(reason) => reason.code(),
    }
}

/// Asserts each `(instant, expected code)` pair, reporting every mismatch at once.
fn assert_codes(c: &CompiledPolicy, cases: &[(Timestamp, &str)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|&(at, want)| {
            let got = code_at(c, at);
            (got != want).then(|| {
                let local = c.time_zone().to_datetime(at);
                format!("at {at} (local {local}): want {want}, got {got}")
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn invalid(p: &RoutePolicy) -> (String, String) {
    match p.compile() {
        Err(ConfigError::Invalid { field, message }) => (field, message),
        Err(other) => panic!("expected Invalid, got {other:?}"),
        Ok(_) => panic!("expected {p:?} to be refused"),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

#[test]
fn validation_failures_name_the_field_and_the_fix() {
    let reject = |status| PolicyAction::Reject {
        sip_status: Some(status),
    };
    let route = |id: &str| PolicyAction::RouteToRule { rule_id: id.into() };

    // (policy, field, substrings the message must contain)
    let cases: Vec<(RoutePolicy, &str, &[&str])> = vec![
        (
            policy("America/New_Yrok"),
            "timezone",
            &[
                "\"America/New_Yrok\" is not an IANA time zone name",
                "use a name such as \"America/New_York\"",
            ],
        ),
        (policy("EST-5"), "timezone", &["use a name such as"]),
        (policy("Etc/Unknown"), "timezone", &["use a name such as"]),
        (policy(" "), "timezone", &["use a name such as"]),
        (
            RoutePolicy {
                start_date: Some(d("2026-04-02")),
                end_date: Some(d("2026-04-01")),
                ..policy("UTC")
            },
            "start_date",
            &[
                "2026-04-02",
                "2026-04-01",
                "set start_date on or before end_date",
            ],
        ),
        (
            RoutePolicy {
                window_start: Some(t("09:00")),
                ..policy("UTC")
            },
            "window_end",
            &["set window_end too", "leave both unset"],
        ),
        (
            RoutePolicy {
                window_end: Some(t("17:00")),
                ..policy("UTC")
            },
            "window_start",
            &["set window_start too", "leave both unset"],
        ),
        (
            with_window(policy("UTC"), "09:00", "09:00"),
            "window_start",
            &["both 09:00", "leave both unset for a route open all day"],
        ),
        (
            RoutePolicy {
                max_concurrent_calls: Some(0),
                ..policy("UTC")
            },
            "max_concurrent_calls",
            &["set it to 1 or more", "leave it unset"],
        ),
        (
            RoutePolicy {
                after_hours: reject(399),
                ..policy("UTC")
            },
            "after_hours.sip_status",
            &["399", "use a status from 400 to 699"],
        ),
        (
            RoutePolicy {
                over_capacity: reject(700),
                ..policy("UTC")
            },
            "over_capacity.sip_status",
            &["700", "use a status from 400 to 699"],
        ),
        (
            RoutePolicy {
                over_capacity: reject(200),
                ..policy("UTC")
            },
            "over_capacity.sip_status",
            &["use a status from 400 to 699"],
        ),
        (
            RoutePolicy {
                after_hours: route(""),
                ..policy("UTC")
            },
            "after_hours.rule_id",
            &[
                "rule_id is empty",
                "set rule_id to the id of another dispatch rule",
            ],
        ),
        (
            RoutePolicy {
                over_capacity: route("  "),
                ..policy("UTC")
            },
            "over_capacity.rule_id",
            &["rule_id is empty", "set rule_id"],
        ),
        (
            RoutePolicy {
                after_hours: route("r1"),
                ..policy("UTC")
            },
            "after_hours.rule_id",
            &["\"r1\"", "loop", "set rule_id to a different dispatch rule"],
        ),
    ];

    for (p, want_field, want_msgs) in cases {
        let (field, message) = invalid(&p);
        assert_eq!(field, want_field, "field for {p:?} (message: {message})");
        for want in want_msgs {
            assert!(
                message.contains(want),
                "message for field {field} should contain {want:?}: {message}"
            );
        }
    }
}

#[test]
fn timezone_error_matches_the_documented_wording() {
    let (_, message) = invalid(&policy("America/New_Yrok"));
    assert_eq!(
        message,
        "timezone \"America/New_Yrok\" is not an IANA time zone name; use a name such as \
         \"America/New_York\" or \"Europe/Paris\", or leave it empty for UTC"
    );
}

#[test]
fn valid_edge_cases_compile() {
    let ok: Vec<RoutePolicy> = vec![
        policy(""),
        policy("UTC"),
        policy("america/new_york"),
        policy("Australia/Sydney"),
        RoutePolicy {
            start_date: Some(d("2026-04-01")),
            end_date: Some(d("2026-04-01")),
            ..policy("UTC")
        },
        RoutePolicy {
            start_date: Some(d("2026-04-01")),
            ..policy("UTC")
        },
        with_window(policy("UTC"), "22:00", "02:00"),
        with_window(policy("UTC"), "00:00", "23:59"),
        RoutePolicy {
            active_days: vec![Day::Mon, Day::Mon, Day::Fri],
            max_concurrent_calls: Some(1),
            after_hours: PolicyAction::Reject {
                sip_status: Some(400),
            },
            over_capacity: PolicyAction::Reject {
                sip_status: Some(699),
            },
            ..policy("UTC")
        },
        RoutePolicy {
            after_hours: PolicyAction::RouteToRule {
                rule_id: "voicemail".into(),
            },
            over_capacity: PolicyAction::RouteToRule {
                rule_id: "overflow".into(),
            },
            ..policy("UTC")
        },
    ];
    for p in ok {
        if let Err(e) = p.compile() {
            panic!("{p:?} should compile, got {e:?}");
        }
    }
}

#[test]
fn compiled_policy_keeps_the_original_and_canonical_zone() {
    let p = policy("america/new_york");
    let c = compile(&p);
    assert_eq!(c.policy(), &p);
    assert_eq!(c.timezone_name(), "America/New_York");
    assert_eq!(compile(&policy("")).timezone_name(), "UTC");
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

#[test]
fn dates_are_inclusive_at_both_ends_in_the_zone() {
    // America/Los_Angeles is UTC-7 (PDT) at both ends.
    let c = compile(&RoutePolicy {
        start_date: Some(d("2026-03-15")),
        end_date: Some(d("2026-03-31")),
        ..policy("America/Los_Angeles")
    });
    assert_codes(
        &c,
        &[
            (ts("2026-03-15T06:59:59Z"), "before_start_date"), // 03-14 23:59:59 local
            (ts("2026-03-15T07:00:00Z"), "open"),              // 03-15 00:00 local
            (ts("2026-03-20T12:00:00Z"), "open"),
            (ts("2026-04-01T06:59:59Z"), "open"), // 03-31 23:59:59 local
            (ts("2026-04-01T07:00:00Z"), "after_end_date"), // 04-01 00:00 local
        ],
    );
    assert_eq!(
        c.schedule_at(ts("2026-04-01T07:00:00Z")),
        ScheduleStatus::Closed(ClosedReason::AfterEndDate {
            end_date: d("2026-03-31")
        })
    );
    assert_eq!(
        c.schedule_at(ts("2026-03-01T00:00:00Z")),
        ScheduleStatus::Closed(ClosedReason::BeforeStartDate {
            start_date: d("2026-03-15")
        })
    );
}

#[test]
fn date_range_is_checked_before_days_and_window() {
    let c = compile(&RoutePolicy {
        end_date: Some(d("2026-03-31")),
        active_days: vec![Day::Mon],
        ..with_window(policy("UTC"), "09:00", "17:00")
    });
    // 2026-04-04 is a Saturday, 20:00 is outside the window: the date wins.
    assert_codes(&c, &[(ts("2026-04-04T20:00:00Z"), "after_end_date")]);
    // 2026-03-28 is a Saturday: the day wins over the window.
    assert_codes(&c, &[(ts("2026-03-28T20:00:00Z"), "inactive_day")]);
    assert_codes(&c, &[(ts("2026-03-30T20:00:00Z"), "outside_window")]);
    assert_codes(&c, &[(ts("2026-03-30T10:00:00Z"), "open")]);
}

#[test]
fn crossing_window_dates_use_the_schedule_day() {
    // The last night of the range runs past midnight into the day after end_date; the first
    // early morning of the range belongs to the day before start_date.
    let c = compile(&RoutePolicy {
        start_date: Some(d("2026-06-10")),
        end_date: Some(d("2026-06-12")),
        ..with_window(policy("UTC"), "22:00", "02:00")
    });
    assert_codes(
        &c,
        &[
            (ts("2026-06-10T01:00:00Z"), "before_start_date"), // night of 06-09
            (ts("2026-06-10T23:00:00Z"), "open"),
            (ts("2026-06-13T01:00:00Z"), "open"), // night of 06-12
            (ts("2026-06-13T03:00:00Z"), "after_end_date"),
            (ts("2026-06-13T23:00:00Z"), "after_end_date"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Days and windows
// ---------------------------------------------------------------------------------------------

#[test]
fn window_is_half_open() {
    let c = compile(&with_window(policy("Europe/Paris"), "09:00", "18:00"));
    let z = "Europe/Paris";
    assert_codes(
        &c,
        &[
            (local(z, "2026-01-14T08:59:59"), "outside_window"),
            (local(z, "2026-01-14T09:00:00"), "open"),
            (local(z, "2026-01-14T17:59:59.999"), "open"),
            (local(z, "2026-01-14T18:00:00"), "outside_window"),
            (local(z, "2026-01-14T00:00:00"), "outside_window"),
        ],
    );
}

#[test]
fn active_days_use_the_local_date() {
    // 2026-01-16 is a Friday. In Tokyo (UTC+9) 2026-01-16T16:00Z is already Saturday.
    let c = compile(&RoutePolicy {
        active_days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
        ..policy("Asia/Tokyo")
    });
    assert_codes(
        &c,
        &[
            (ts("2026-01-16T14:59:59Z"), "open"),
            (ts("2026-01-16T15:00:00Z"), "inactive_day"),
        ],
    );
    assert_eq!(
        c.schedule_at(ts("2026-01-16T15:00:00Z")),
        ScheduleStatus::Closed(ClosedReason::InactiveDay { day: Day::Sat })
    );
}

#[test]
fn empty_and_duplicate_active_days() {
    let every_day = compile(&policy("UTC"));
    let dup = compile(&RoutePolicy {
        active_days: vec![Day::Wed, Day::Wed],
        ..policy("UTC")
    });
    // 2026-01-12 is a Monday.
    for day in 0..7 {
        let at = ts("2026-01-12T12:00:00Z") + jiff::SignedDuration::from_hours(24 * day);
        assert!(every_day.is_open_at(at));
        assert_eq!(dup.is_open_at(at), day == 2, "day offset {day}");
    }
}

#[test]
fn window_crossing_midnight_belongs_to_the_previous_day() {
    // Mon–Fri 22:00–02:00. 2026-01-16 is a Friday.
    let z = "Europe/London";
    let c = compile(&RoutePolicy {
        active_days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
        ..with_window(policy(z), "22:00", "02:00")
    });
    assert_codes(
        &c,
        &[
            (local(z, "2026-01-16T21:59:59"), "outside_window"), // Fri before the window
            (local(z, "2026-01-16T22:00:00"), "open"),           // Fri night
            (local(z, "2026-01-17T01:00:00"), "open"),           // Sat 01:00 = Fri's window
            (local(z, "2026-01-17T01:59:59"), "open"),
            (local(z, "2026-01-17T02:00:00"), "inactive_day"), // Sat 02:00 is Saturday's
            (local(z, "2026-01-17T03:00:00"), "inactive_day"),
            (local(z, "2026-01-17T23:00:00"), "inactive_day"), // Sat night
            (local(z, "2026-01-19T01:00:00"), "inactive_day"), // Mon 01:00 = Sun's window
            (local(z, "2026-01-19T12:00:00"), "outside_window"), // Mon midday
            (local(z, "2026-01-19T23:00:00"), "open"),         // Mon night
            (local(z, "2026-01-20T01:00:00"), "open"),         // Tue 01:00 = Mon's window
        ],
    );
    assert_eq!(
        c.schedule_at(local(z, "2026-01-19T01:00:00")),
        ScheduleStatus::Closed(ClosedReason::InactiveDay { day: Day::Sun })
    );
    assert_eq!(
        c.schedule_at(local(z, "2026-01-20T12:34:56.789")),
        ScheduleStatus::Closed(ClosedReason::OutsideWindow {
            local_time: t("12:34:56"),
            window_start: t("22:00"),
            window_end: t("02:00"),
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Daylight saving time
// ---------------------------------------------------------------------------------------------

#[test]
fn new_york_spring_forward_window_follows_local_time() {
    // 2026-03-08 02:00 EST (UTC-5) jumps to 03:00 EDT (UTC-4) at 07:00Z.
    let c = compile(&with_window(policy("America/New_York"), "09:00", "17:00"));
    assert_codes(
        &c,
        &[
            // Saturday 03-07, EST: 09:00 local = 14:00Z, 17:00 local = 22:00Z.
            (ts("2026-03-07T13:30:00Z"), "outside_window"),
            (ts("2026-03-07T13:59:59Z"), "outside_window"),
            (ts("2026-03-07T14:00:00Z"), "open"),
            (ts("2026-03-07T21:59:59Z"), "open"),
            (ts("2026-03-07T22:00:00Z"), "outside_window"),
            // Monday 03-09, EDT: 09:00 local = 13:00Z, 17:00 local = 21:00Z.
            (ts("2026-03-09T12:59:59Z"), "outside_window"),
            (ts("2026-03-09T13:00:00Z"), "open"),
            (ts("2026-03-09T13:30:00Z"), "open"),
            (ts("2026-03-09T20:59:59Z"), "open"),
            (ts("2026-03-09T21:00:00Z"), "outside_window"),
            (ts("2026-03-09T22:00:00Z"), "outside_window"),
            // The day of the change itself is already EDT at 09:00.
            (ts("2026-03-08T12:59:59Z"), "outside_window"),
            (ts("2026-03-08T13:00:00Z"), "open"),
        ],
    );
}

#[test]
fn new_york_spring_forward_gap() {
    let z = "America/New_York";
    // A window covering the skipped hour: open straight through, one real hour shorter.
    let covering = compile(&with_window(policy(z), "01:00", "04:00"));
    assert_codes(
        &covering,
        &[
            (ts("2026-03-08T05:59:59Z"), "outside_window"), // 00:59:59 EST
            (ts("2026-03-08T06:00:00Z"), "open"),           // 01:00 EST
            (ts("2026-03-08T06:59:59Z"), "open"),           // 01:59:59 EST
            (ts("2026-03-08T07:00:00Z"), "open"),           // 03:00 EDT
            (ts("2026-03-08T07:59:59Z"), "open"),           // 03:59:59 EDT
            (ts("2026-03-08T08:00:00Z"), "outside_window"), // 04:00 EDT
        ],
    );
    // A window lying entirely inside the gap never opens that day.
    let inside = compile(&with_window(policy(z), "02:00", "03:00"));
    let mut at = ts("2026-03-08T04:00:00Z");
    while at < ts("2026-03-08T10:00:00Z") {
        assert!(!inside.is_open_at(at), "open at {at}");
        at += jiff::SignedDuration::from_mins(1);
    }
    // ...but does on the days either side.
    assert!(inside.is_open_at(ts("2026-03-07T07:30:00Z"))); // 02:30 EST
    assert!(inside.is_open_at(ts("2026-03-09T06:30:00Z"))); // 02:30 EDT
    // A window starting in the gap opens at the first real instant after it.
    let from_gap = compile(&with_window(policy(z), "02:30", "05:00"));
    assert_codes(
        &from_gap,
        &[
            (ts("2026-03-08T06:59:59Z"), "outside_window"), // 01:59:59 EST
            (ts("2026-03-08T07:00:00Z"), "open"),           // 03:00 EDT
        ],
    );
}

#[test]
fn new_york_fall_back_window_follows_local_time_and_repeats_the_hour() {
    // 2026-11-01 02:00 EDT (UTC-4) falls back to 01:00 EST (UTC-5) at 06:00Z.
    let z = "America/New_York";
    let c = compile(&with_window(policy(z), "09:00", "17:00"));
    assert_codes(
        &c,
        &[
            // Saturday 10-31, EDT: 09:00 local = 13:00Z.
            (ts("2026-10-31T12:59:59Z"), "outside_window"),
            (ts("2026-10-31T13:00:00Z"), "open"),
            (ts("2026-10-31T20:59:59Z"), "open"),
            (ts("2026-10-31T21:00:00Z"), "outside_window"),
            // Monday 11-02, EST: 09:00 local = 14:00Z.
            (ts("2026-11-02T13:00:00Z"), "outside_window"),
            (ts("2026-11-02T13:59:59Z"), "outside_window"),
            (ts("2026-11-02T14:00:00Z"), "open"),
            (ts("2026-11-02T21:59:59Z"), "open"),
            (ts("2026-11-02T22:00:00Z"), "outside_window"),
        ],
    );
    // The repeated hour 01:00–02:00 occurs at 05:00Z–06:00Z (EDT) and 06:00Z–07:00Z (EST).
    let repeated = compile(&with_window(policy(z), "01:00", "01:30"));
    assert_codes(
        &repeated,
        &[
            (ts("2026-11-01T04:59:59Z"), "outside_window"), // 00:59:59 EDT
            (ts("2026-11-01T05:00:00Z"), "open"),           // 01:00 EDT
            (ts("2026-11-01T05:29:59Z"), "open"),
            (ts("2026-11-01T05:30:00Z"), "outside_window"), // 01:30 EDT
            (ts("2026-11-01T06:00:00Z"), "open"),           // 01:00 EST, again
            (ts("2026-11-01T06:29:59Z"), "open"),
            (ts("2026-11-01T06:30:00Z"), "outside_window"), // 01:30 EST
            (ts("2026-11-01T07:00:00Z"), "outside_window"), // 02:00 EST
        ],
    );
    let reason = repeated
        .schedule_at(ts("2026-11-01T06:45:00Z"))
        .closed_reason()
        .cloned()
        .unwrap();
    assert_eq!(
        reason,
        ClosedReason::OutsideWindow {
            local_time: t("01:45"),
            window_start: t("01:00"),
            window_end: t("01:30"),
        }
    );
}

#[test]
fn berlin_spring_forward_and_fall_back() {
    // 2026-03-29 02:00 CET (UTC+1) jumps to 03:00 CEST (UTC+2) at 01:00Z.
    // 2026-10-25 03:00 CEST falls back to 02:00 CET at 01:00Z.
    let z = "Europe/Berlin";
    let c = compile(&with_window(policy(z), "09:00", "17:00"));
    assert_codes(
        &c,
        &[
            // Friday 03-27, CET: 09:00 local = 08:00Z.
            (ts("2026-03-27T07:00:00Z"), "outside_window"),
            (ts("2026-03-27T07:59:59Z"), "outside_window"),
            (ts("2026-03-27T08:00:00Z"), "open"),
            (ts("2026-03-27T15:59:59Z"), "open"),
            (ts("2026-03-27T16:00:00Z"), "outside_window"),
            // Monday 03-30, CEST: 09:00 local = 07:00Z.
            (ts("2026-03-30T06:59:59Z"), "outside_window"),
            (ts("2026-03-30T07:00:00Z"), "open"),
            (ts("2026-03-30T14:59:59Z"), "open"),
            (ts("2026-03-30T15:00:00Z"), "outside_window"),
            // Friday 10-23, CEST: 09:00 local = 07:00Z.
            (ts("2026-10-23T07:00:00Z"), "open"),
            (ts("2026-10-23T15:00:00Z"), "outside_window"),
            // Monday 10-26, CET: 09:00 local = 08:00Z.
            (ts("2026-10-26T07:00:00Z"), "outside_window"),
            (ts("2026-10-26T08:00:00Z"), "open"),
            (ts("2026-10-26T15:00:00Z"), "open"),
            (ts("2026-10-26T16:00:00Z"), "outside_window"),
        ],
    );

    // A night window 01:00–04:00 covers the skipped hour 02:00–03:00 in March...
    let night = compile(&with_window(policy(z), "01:00", "04:00"));
    assert_codes(
        &night,
        &[
            (ts("2026-03-28T23:59:59Z"), "outside_window"), // 00:59:59 CET
            (ts("2026-03-29T00:00:00Z"), "open"),           // 01:00 CET
            (ts("2026-03-29T00:59:59Z"), "open"),           // 01:59:59 CET
            (ts("2026-03-29T01:00:00Z"), "open"),           // 03:00 CEST
            (ts("2026-03-29T01:59:59Z"), "open"),           // 03:59:59 CEST
            (ts("2026-03-29T02:00:00Z"), "outside_window"), // 04:00 CEST: 2 real hours
        ],
    );
    // ...and the repeated hour 02:00–03:00 in October, so it lasts 4 real hours.
    assert_codes(
        &night,
        &[
            (ts("2026-10-24T22:59:59Z"), "outside_window"), // 00:59:59 CEST
            (ts("2026-10-24T23:00:00Z"), "open"),           // 01:00 CEST
            (ts("2026-10-25T00:30:00Z"), "open"),           // 02:30 CEST
            (ts("2026-10-25T01:30:00Z"), "open"),           // 02:30 CET
            (ts("2026-10-25T02:59:59Z"), "open"),           // 03:59:59 CET
            (ts("2026-10-25T03:00:00Z"), "outside_window"), // 04:00 CET
        ],
    );

    // Exactly the repeated hour: 03:00 CEST is followed directly by 02:00 CET, so both
    // occurrences join into one continuous two-hour stretch.
    let repeated = compile(&with_window(policy(z), "02:00", "03:00"));
    assert_codes(
        &repeated,
        &[
            (ts("2026-10-24T23:59:59Z"), "outside_window"), // 01:59:59 CEST
            (ts("2026-10-25T00:00:00Z"), "open"),           // 02:00 CEST
            (ts("2026-10-25T00:59:59Z"), "open"),           // 02:59:59 CEST
            (ts("2026-10-25T01:00:00Z"), "open"),           // 02:00 CET
            (ts("2026-10-25T01:59:59Z"), "open"),           // 02:59:59 CET
            (ts("2026-10-25T02:00:00Z"), "outside_window"), // 03:00 CET
        ],
    );
}

#[test]
fn sydney_southern_hemisphere_transitions() {
    // Australia/Sydney: AEDT (UTC+11) ends 2026-04-05 03:00 -> 02:00 AEST (UTC+10) at 16:00Z
    // on 04-04; AEST starts again 2026-10-04 02:00 -> 03:00 AEDT at 16:00Z on 10-03.
    let z = "Australia/Sydney";
    let c = compile(&with_window(policy(z), "09:00", "17:00"));
    assert_codes(
        &c,
        &[
            // Friday 04-03, AEDT: 09:00 local = 22:00Z on 04-02.
            (ts("2026-04-02T21:59:59Z"), "outside_window"),
            (ts("2026-04-02T22:00:00Z"), "open"),
            // Monday 04-06, AEST: 09:00 local = 23:00Z on 04-05.
            (ts("2026-04-05T22:00:00Z"), "outside_window"),
            (ts("2026-04-05T22:59:59Z"), "outside_window"),
            (ts("2026-04-05T23:00:00Z"), "open"),
            // Friday 10-02, AEST: 17:00 local = 07:00Z.
            (ts("2026-10-02T06:59:59Z"), "open"),
            (ts("2026-10-02T07:00:00Z"), "outside_window"),
            // Monday 10-05, AEDT: 17:00 local = 06:00Z.
            (ts("2026-10-05T05:59:59Z"), "open"),
            (ts("2026-10-05T06:00:00Z"), "outside_window"),
        ],
    );
    // Dates are Sydney dates: 2026-04-01T13:00Z is already 04-02 00:00 AEDT.
    let ends = compile(&RoutePolicy {
        end_date: Some(d("2026-04-01")),
        ..policy(z)
    });
    assert_codes(
        &ends,
        &[
            (ts("2026-04-01T12:59:59Z"), "open"),
            (ts("2026-04-01T13:00:00Z"), "after_end_date"),
        ],
    );
}

#[test]
fn dst_with_crossing_window_and_days() {
    // New York, Sat-only 23:00–01:00; Saturday 2026-10-31 night runs into the fall-back
    // morning of Sunday 11-01, and the whole night is Saturday's.
    let z = "America/New_York";
    let c = compile(&RoutePolicy {
        active_days: vec![Day::Sat],
        ..with_window(policy(z), "23:00", "01:00")
    });
    assert_codes(
        &c,
        &[
            (ts("2026-11-01T02:59:59Z"), "outside_window"), // Sat 22:59:59 EDT
            (ts("2026-11-01T03:00:00Z"), "open"),           // Sat 23:00 EDT
            (ts("2026-11-01T04:59:59Z"), "open"),           // Sun 00:59:59 EDT
            (ts("2026-11-01T05:00:00Z"), "inactive_day"),   // Sun 01:00 EDT
            (ts("2026-11-01T06:00:00Z"), "inactive_day"),   // Sun 01:00 EST
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Reasons, days, actions
// ---------------------------------------------------------------------------------------------

#[test]
fn reason_codes_describe_and_serde() {
    let c = compile(&with_window(policy("America/New_York"), "09:00", "18:00"));
    let status = c.schedule_at(ts("2026-01-15T01:15:00Z")); // 20:15 EST on 01-14
    let reason = status.closed_reason().unwrap();
    assert_eq!(reason.code(), "outside_window");
    assert_eq!(
        reason.describe(&c),
        "outside the daily window 09:00–18:00 (local time 20:15 America/New_York)"
    );
    assert_eq!(
        serde_json::to_value(&status).unwrap(),
        serde_json::json!({
            "status": "closed",
            "reason": "outside_window",
            "local_time": "20:15:00",
            "window_start": "09:00:00",
            "window_end": "18:00:00",
        })
    );
    assert_eq!(
        serde_json::to_value(ScheduleStatus::Open).unwrap(),
        serde_json::json!({ "status": "open" })
    );

    let cases = [
        (
            ClosedReason::BeforeStartDate {
                start_date: d("2026-03-01"),
            },
            "before_start_date",
            "before the start date 2026-03-01 (America/New_York)",
            serde_json::json!({ "reason": "before_start_date", "start_date": "2026-03-01" }),
        ),
        (
            ClosedReason::AfterEndDate {
                end_date: d("2026-03-31"),
            },
            "after_end_date",
            "after the end date 2026-03-31 (America/New_York)",
            serde_json::json!({ "reason": "after_end_date", "end_date": "2026-03-31" }),
        ),
        (
            ClosedReason::InactiveDay { day: Day::Sat },
            "inactive_day",
            "Saturday is not an active day (America/New_York)",
            serde_json::json!({ "reason": "inactive_day", "day": "sat" }),
        ),
    ];
    for (reason, code, sentence, json) in cases {
        assert_eq!(reason.code(), code);
        assert_eq!(reason.describe(&c), sentence);
        assert_eq!(serde_json::to_value(&reason).unwrap(), json);
    }
}

#[test]
fn day_helpers() {
    assert_eq!(
        Day::all(),
        [
            Day::Mon,
            Day::Tue,
            Day::Wed,
            Day::Thu,
            Day::Fri,
            Day::Sat,
            Day::Sun
        ]
    );
    let weekdays = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    for (w, day) in weekdays.into_iter().zip(Day::all()) {
        assert_eq!(Day::from_jiff(w), day);
    }
    let shown: Vec<String> = Day::all().iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]);

    for (s, want) in [
        ("mon", Some(Day::Mon)),
        ("Mon", Some(Day::Mon)),
        ("MON", Some(Day::Mon)),
        ("monday", Some(Day::Mon)),
        ("Wednesday", Some(Day::Wed)),
        ("SUNDAY", Some(Day::Sun)),
        (" fri ", Some(Day::Fri)),
        ("mo", None),
        ("mond", None),
        ("", None),
        ("funday", None),
    ] {
        assert_eq!(Day::parse(s), want, "parse({s:?})");
    }
    // Display round-trips through parse.
    for day in Day::all() {
        assert_eq!(Day::parse(&day.to_string()), Some(day));
    }
}

#[test]
fn reject_status_defaults() {
    let unset = PolicyAction::Reject { sip_status: None };
    let set = PolicyAction::Reject {
        sip_status: Some(603),
    };
    let route = PolicyAction::RouteToRule {
        rule_id: "voicemail".into(),
    };
    assert_eq!(unset.reject_status(480), Some(480));
    assert_eq!(unset.reject_status(486), Some(486));
    assert_eq!(set.reject_status(480), Some(603));
    assert_eq!(route.reject_status(480), None);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const ZONES: &[&str] = &[
    "",
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",
    "Europe/Berlin",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Apia",
];

fn any_instant() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        // Anywhere jiff can represent.
        (
            Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(),
            0..1_000_000_000i32
        )
            .prop_map(|(s, ns)| Timestamp::new(s, ns).unwrap_or(Timestamp::MIN)),
        // Around now, where the zones have DST rules.
        (1_700_000_000i64..1_900_000_000).prop_map(|s| Timestamp::from_second(s).unwrap()),
        Just(Timestamp::MIN),
        Just(Timestamp::MAX),
    ]
}

fn any_time() -> impl Strategy<Value = Time> {
    (0..24i8, 0..60i8, 0..60i8).prop_map(|(h, m, s)| Time::new(h, m, s, 0).unwrap())
}

fn any_date() -> impl Strategy<Value = Date> {
    (1990..2060i16, 1..=12i8, 1..=28i8).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
}

fn any_valid_policy() -> impl Strategy<Value = RoutePolicy> {
    (
        prop::sample::select(ZONES),
        prop::option::of(any_date()),
        prop::option::of(any_date()),
        prop::option::of((any_time(), any_time())),
        prop::collection::vec(prop::sample::select(Day::all().to_vec()), 0..10),
        prop::option::of(1..1000u32),
    )
        .prop_map(|(zone, a, b, window, active_days, max)| {
            let (start_date, end_date) = match (a, b) {
                (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                other => other,
            };
            let window = window.filter(|(s, e)| s != e);
            RoutePolicy {
                start_date,
                end_date,
                window_start: window.map(|w| w.0),
                window_end: window.map(|w| w.1),
                active_days,
                max_concurrent_calls: max,
                ..policy(zone)
            }
        })
}

proptest! {
    #[test]
    fn schedule_at_never_panics_and_reasons_are_consistent(
        p in any_valid_policy(),
        at in any_instant(),
    ) {
        let c = p.compile().unwrap();
        let status = c.schedule_at(at);
        let local = c.time_zone().to_datetime(at);
        match &status {
            ScheduleStatus::Open => {
                if let (Some(s), Some(e)) = (p.window_start, p.window_end) {
                    let time = local.time();
                    let in_window = if s < e { s <= time && time < e } else { time >= s || time < e };
                    prop_assert!(in_window, "open at {} outside {}-{}", time, s, e);
                }
            }
            ScheduleStatus::Closed(reason) => {
                prop_assert!(!reason.describe(&c).is_empty());
                if let ClosedReason::InactiveDay { day } = reason {
                    prop_assert!(!p.active_days.is_empty() && !p.active_days.contains(day));
                }
                if let ClosedReason::OutsideWindow { window_start, window_end, .. } = reason {
                    prop_assert_eq!(Some(*window_start), p.window_start);
                    prop_assert_eq!(Some(*window_end), p.window_end);
                }
            }
        }
    }

    #[test]
    fn unrestricted_policy_is_always_open(
        zone in prop::sample::select(ZONES),
        at in any_instant(),
        max in prop::option::of(1..1000u32),
    ) {
        let c = RoutePolicy { max_concurrent_calls: max, ..policy(zone) }.compile().unwrap();
        prop_assert_eq!(c.schedule_at(at), ScheduleStatus::Open);
    }

    #[test]
    fn all_days_listed_is_the_same_as_none(
        p in any_valid_policy(),
        at in any_instant(),
    ) {
        let none = RoutePolicy { active_days: vec![], ..p.clone() }.compile().unwrap();
        let all = RoutePolicy { active_days: Day::all().to_vec(), ..p }.compile().unwrap();
        prop_assert_eq!(none.schedule_at(at), all.schedule_at(at));
    }
}
