//! Route policies applied during routing (SPEC §6): schedules, capacity, fallbacks.

mod common;

use common::*;
use switchboard_dispatch::*;

fn policy(rule_id: &str) -> RoutePolicy {
    RoutePolicy {
        rule_id: rule_id.into(),
        timezone: "America/New_York".into(),
        window_start: Some("09:00".parse().unwrap()),
        window_end: Some("17:00".parse().unwrap()),
        active_days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
        ..Default::default()
    }
}

fn world(policies: Vec<RoutePolicy>) -> Snapshot {
    let s = Snapshot::build(Config {
        trunks: vec![trunk("ST_t", &["+15550100"])],
        rules: vec![
            on(direct("SDR_main", "sales", ""), &["ST_t"]),
            Rule {
                numbers: strings(&["+19999999"]),
                ..direct("SDR_voicemail", "voicemail", "")
            },
            Rule {
                numbers: strings(&["+19999998"]),
                ..direct("SDR_overflow", "overflow", "")
            },
        ],
        policies,
        ..Default::default()
    });
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    s
}

fn at<'a>(when: &str) -> Call<'a> {
    Call {
        at: ts(when),
        ..call("+1", "+15550100")
    }
}

#[test]
fn schedule_open_and_closed() {
    let s = world(vec![policy("SDR_main")]);
    // Wednesday 2026-06-10 12:00 EDT = 16:00Z: open.
    let d = s.evaluate(&at("2026-06-10T16:00:00Z"), &mut Unlimited);
    assert_eq!(d.verdict, Verdict::Accept);
    // 22:00Z = 18:00 EDT: closed, default 480.
    let d = s.explain(&at("2026-06-10T22:00:00Z"), &mut Unlimited);
    assert_eq!(
        (d.verdict, d.sip_status, d.reason.clone()),
        (Verdict::Reject, Some(480), Reason::AfterHours)
    );
    assert!(matches!(d.closed, Some(ClosedReason::OutsideWindow { .. })));
    assert_eq!(d.rule_id.as_deref(), Some("SDR_main"));
    assert!(
        d.trace
            .iter()
            .any(|e| e.stage == Stage::Policy && e.reason == "outside_window")
    );
    // Saturday: inactive day.
    let d = s.evaluate(&at("2026-06-13T16:00:00Z"), &mut Unlimited);
    assert!(matches!(
        d.closed,
        Some(ClosedReason::InactiveDay { day: Day::Sat })
    ));
}

#[test]
fn custom_reject_status_and_fallback_rule() {
    let mut p = policy("SDR_main");
    p.after_hours = PolicyAction::Reject {
        sip_status: Some(603),
    };
    let s = world(vec![p]);
    assert_eq!(
        s.evaluate(&at("2026-06-10T22:00:00Z"), &mut Unlimited)
            .sip_status,
        Some(603)
    );

    let mut p = policy("SDR_main");
    p.after_hours = PolicyAction::RouteToRule {
        rule_id: "SDR_voicemail".into(),
    };
    let s = world(vec![p]);
    let d = s.evaluate(&at("2026-06-10T22:00:00Z"), &mut Unlimited);
    assert_eq!(d.verdict, Verdict::Accept);
    assert_eq!(d.rule_id.as_deref(), Some("SDR_voicemail"));
    assert_eq!(d.routed_from_rule_id.as_deref(), Some("SDR_main"));
    assert_eq!(d.room.unwrap().room_name, "voicemail");
}

#[test]
fn capacity_limits_and_overflow() {
    let mut p = policy("SDR_main");
    p.max_concurrent_calls = Some(2);
    let s = world(vec![p.clone()]);
    let open = at("2026-06-10T16:00:00Z");
    let d = s.evaluate(&open, &mut |_: &str, _: u32| true);
    assert_eq!(
        d.capacity,
        Some(("SDR_main".to_string(), 2)),
        "the call path must take a slot"
    );
    let d = s.evaluate(&open, &mut |id: &str, limit: u32| {
        !(id == "SDR_main" && limit == 2)
    });
    assert_eq!(
        (d.verdict, d.sip_status, d.reason),
        (Verdict::Reject, Some(486), Reason::OverCapacity)
    );

    p.over_capacity = PolicyAction::RouteToRule {
        rule_id: "SDR_overflow".into(),
    };
    let s = world(vec![p]);
    let d = s.evaluate(&open, &mut |id: &str, _: u32| id != "SDR_main");
    assert_eq!(d.rule_id.as_deref(), Some("SDR_overflow"));
    assert_eq!(d.capacity, None, "the overflow rule has no limit");
}

#[test]
fn broken_fallbacks_reject_instead_of_looping() {
    let mut a = policy("SDR_main");
    a.after_hours = PolicyAction::RouteToRule {
        rule_id: "SDR_voicemail".into(),
    };
    let mut b = policy("SDR_voicemail");
    b.after_hours = PolicyAction::RouteToRule {
        rule_id: "SDR_main".into(),
    };
    let s = world(vec![a, b]);
    let d = s.evaluate(&at("2026-06-10T22:00:00Z"), &mut Unlimited);
    assert_eq!((d.verdict, d.sip_status), (Verdict::Reject, Some(480)));
    assert!(d.detail.contains("loops back"), "{}", d.detail);

    // A fallback to a rule that was deleted.
    let mut a = policy("SDR_main");
    a.after_hours = PolicyAction::RouteToRule {
        rule_id: "SDR_gone".into(),
    };
    let s = world(vec![a]);
    let d = s.evaluate(&at("2026-06-10T22:00:00Z"), &mut Unlimited);
    assert_eq!(d.sip_status, Some(480));
    assert!(d.detail.contains("SDR_gone"), "{}", d.detail);
}

#[test]
fn policy_for_unknown_rule_is_reported_not_fatal() {
    let s = Snapshot::build(Config {
        trunks: vec![trunk("ST_t", &["+15550100"])],
        rules: vec![direct("SDR_x", "x", "")],
        policies: vec![policy("SDR_nope")],
        ..Default::default()
    });
    assert_eq!(s.warnings().len(), 1);
    assert_eq!(
        s.evaluate(&at("2026-06-10T22:00:00Z"), &mut Unlimited)
            .verdict,
        Verdict::Accept
    );
}
