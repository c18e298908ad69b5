//! End-to-end route policies on real calls (SPEC §6): schedules that are closed now
//! (480, or a configured status), a fallback rule after hours, and the concurrency limit
//! (486 for the extra call, the slot released when a call ends).
//!
//! Schedules are chosen relative to the current time in the policy's zone (a date range
//! that ended yesterday; active days that exclude today), so the tests do not depend on
//! the hour they run at.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::sip::*;

const NUMBER: &str = "+15550100";

/// Waits until `explain` for a call to NUMBER gives `reason` (the policy has reached the
/// routing snapshot).
fn wait_explain(api: &Api, field: &str, expected: Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = api.post(
            "/api/v1/explain",
            json!({"from": "+15551238000", "to": NUMBER, "source_ip": "127.0.0.1"}),
        );
        if status == 200 && body[field] == expected {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "explain never gave {field} = {expected}; last answer ({status}): {body:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn weekday(t: jiff::Timestamp, tz: &str) -> &'static str {
    match t.in_tz(tz).expect("a known zone").weekday() {
        jiff::civil::Weekday::Monday => "mon",
        jiff::civil::Weekday::Tuesday => "tue",
        jiff::civil::Weekday::Wednesday => "wed",
        jiff::civil::Weekday::Thursday => "thu",
        jiff::civil::Weekday::Friday => "fri",
        jiff::civil::Weekday::Saturday => "sat",
        jiff::civil::Weekday::Sunday => "sun",
    }
}

#[test]
fn outside_the_schedule_without_fallback_gets_480_after_hours() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    let rule = api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "main"}}
    }));
    let dir = Scratch::new("after-hours");

    // 1. A date range that ended yesterday (UTC) → the default 480.
    api.policy(
        &rule,
        json!({
            "timezone": "UTC", "start_date": "2020-01-01", "end_date": utc_date(-1),
            "after_hours": {"action": "reject"}
        }),
    );
    wait_explain(&api, "reason", json!("after_hours"));
    let run = Sipp::new(
        dir.path(),
        "closed_dates",
        "uac_reject.xml",
        &server.sip_udp,
    )
    .service(NUMBER)
    .set("from_user", "+15551238001")
    .run();
    run.assert_ok();
    assert_eq!(run.invite_finals(), vec![480], "{}", run.dump());
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("rejected")),
            ("reason", json!("after_hours")),
            ("sip_status", json!(480)),
            ("rule_id", json!(rule)),
            ("answered_at", Value::Null),
        ],
    );

    // 2. Every day but today in New York, with a configured status (403).
    let now = jiff::Timestamp::now();
    let soon = now + jiff::SignedDuration::from_secs(120);
    let skip = [
        weekday(now, "America/New_York"),
        weekday(soon, "America/New_York"),
    ];
    let days: Vec<&str> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .into_iter()
        .filter(|d| !skip.contains(d))
        .collect();
    api.policy(
        &rule,
        json!({
            "timezone": "America/New_York",
            "active_days": days,
            "after_hours": {"action": "reject", "sip_status": 403}
        }),
    );
    wait_explain(&api, "sip_status", json!(403));
    let run = Sipp::new(
        dir.path(),
        "closed_today",
        "uac_reject.xml",
        &server.sip_udp,
    )
    .service(NUMBER)
    .set("from_user", "+15551238002")
    .run();
    run.assert_ok();
    assert_eq!(run.invite_finals(), vec![403], "{}", run.dump());
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("rejected")),
            ("reason", json!("after_hours")),
            ("sip_status", json!(403)),
        ],
    );
}

#[test]
fn after_hours_route_to_rule_answers_on_the_fallback_rule() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER, "+15550199"]}));
    let main = api.rule(json!({
        "name": "main",
        "trunk_ids": [trunk],
        "numbers": [NUMBER],
        "rule": {"dispatch_rule_individual": {"room_prefix": "main"}}
    }));
    let fallback = api.rule(json!({
        "name": "voicemail",
        "trunk_ids": [trunk],
        "numbers": ["+15550199"],
        "rule": {"dispatch_rule_direct": {"room_name": "voicemail"}}
    }));
    api.policy(
        &main,
        json!({
            "timezone": "UTC", "start_date": "2020-01-01", "end_date": utc_date(-1),
            "after_hours": {"action": "route_to_rule", "rule_id": fallback}
        }),
    );
    wait_explain(&api, "rule_id", json!(fallback));
    let dir = Scratch::new("fallback");
    let run = Sipp::new(dir.path(), "fallback", "uac_call.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551238003")
        .run();
    run.assert_ok();
    assert_eq!(run.invite_finals(), vec![200], "{}", run.dump());
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("completed")),
            ("reason", json!("caller_bye")),
            ("rule_id", json!(fallback)),
            ("routed_from_rule_id", json!(main)),
            ("room_name", json!("voicemail")),
        ],
    );
}

#[test]
fn capacity_limit_rejects_the_extra_call_with_486_and_frees_the_slot_afterwards() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    let rule = api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "main"}}
    }));
    api.policy(&rule, json!({"max_concurrent_calls": 2}));
    let dir = Scratch::new("capacity");
    // Three simultaneous calls that stay up 3 s each.
    let run = Sipp::new(dir.path(), "three", "uac_call.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551238004")
        .calls(3)
        .rate(100, 3)
        .hold_ms(3000)
        .run();
    run.assert_ok();
    let mut finals = run.invite_finals();
    finals.sort();
    assert_eq!(finals, vec![200, 200, 486], "{}", run.dump());
    let calls = api.wait_calls(
        &format!("rule_id={rule}"),
        "3 ended calls",
        RECORD_TIMEOUT,
        |cs| cs.len() == 3 && cs.iter().all(|c| c["state"] == "ended"),
    );
    let busy: Vec<&Value> = calls
        .iter()
        .filter(|c| c["reason"] == "over_capacity")
        .collect();
    assert_eq!(busy.len(), 1, "{calls:#?}");
    assert_record(
        busy[0],
        &[("status", json!("rejected")), ("sip_status", json!(486))],
    );
    assert_eq!(
        calls.iter().filter(|c| c["status"] == "completed").count(),
        2,
        "{calls:#?}"
    );

    // Both calls ended: their slots are free again.
    std::thread::sleep(Duration::from_millis(500));
    let run = Sipp::new(dir.path(), "after", "uac_call.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551238005")
        .run();
    run.assert_ok();
    assert_eq!(
        run.invite_finals(),
        vec![200],
        "the slot was not released:\n{}",
        run.dump()
    );
    let rec = api.ended_call(&run.call_id());
    assert_record(&rec, &[("status", json!("completed"))]);
}

/// `HH:MM` of `t` shifted by `minutes`, on the wall clock of `tz`.
fn wall(t: jiff::Timestamp, tz: &str, minutes: i64) -> String {
    let z = (t + jiff::SignedDuration::from_secs(minutes * 60))
        .in_tz(tz)
        .expect("a known zone");
    format!("{:02}:{:02}", z.hour(), z.minute())
}

#[test]
fn the_daily_window_is_read_in_the_policys_time_zone() {
    const TZ: &str = "Asia/Tokyo"; // UTC+9 all year: 9 hours from UTC's wall clock
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    let rule = api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "main"}}
    }));
    let dir = Scratch::new("window-tz");
    let now = jiff::Timestamp::now();

    // Open: a window around now on Tokyo's wall clock.
    api.policy(
        &rule,
        json!({
            "timezone": TZ,
            "window_start": wall(now, TZ, -60), "window_end": wall(now, TZ, 60),
            "after_hours": {"action": "reject"}
        }),
    );
    wait_explain(&api, "decision", json!("accept"));
    let run = Sipp::new(dir.path(), "open", "uac_call.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551238010")
        .run();
    run.assert_ok();
    assert_eq!(run.invite_finals(), vec![200], "{}", run.dump());
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[("status", json!("completed")), ("rule_id", json!(rule))],
    );

    // Closed: the same hour on UTC's wall clock, which in Tokyo is 9 hours away.
    api.policy(
        &rule,
        json!({
            "timezone": TZ,
            "window_start": wall(now, "UTC", -60), "window_end": wall(now, "UTC", 60),
            "after_hours": {"action": "reject"}
        }),
    );
    wait_explain(&api, "reason", json!("after_hours"));
    let run = Sipp::new(dir.path(), "closed", "uac_reject.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551238011")
        .run();
    run.assert_ok();
    assert_eq!(run.invite_finals(), vec![480], "{}", run.dump());
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("rejected")),
            ("reason", json!("after_hours")),
            ("sip_status", json!(480)),
        ],
    );
}
