//! Builders shared by the integration tests.
#![allow(dead_code)]

use std::net::IpAddr;

use jiff::Timestamp;
use switchboard_dispatch::*;

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

pub const NOON: &str = "2026-06-10T12:00:00Z";

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn trunk(id: &str, numbers: &[&str]) -> Trunk {
    Trunk {
        id: id.into(),
        name: format!("{id} name"),
        numbers: strings(numbers),
        ..Default::default()
    }
}

pub fn direct(id: &str, room: &str, pin: &str) -> Rule {
    Rule {
        id: id.into(),
        name: format!("{id} name"),
        kind: Some(RuleKind::Direct {
            room_name: room.into(),
            pin: pin.into(),
        }),
        ..Default::default()
    }
}

pub fn individual(id: &str, prefix: &str, pin: &str) -> Rule {
    Rule {
        id: id.into(),
        name: format!("{id} name"),
        kind: Some(RuleKind::Individual {
            room_prefix: prefix.into(),
            pin: pin.into(),
            no_randomness: false,
        }),
        ..Default::default()
    }
}

pub fn callee(id: &str, prefix: &str, pin: &str) -> Rule {
    Rule {
        id: id.into(),
        name: format!("{id} name"),
        kind: Some(RuleKind::Callee {
            room_prefix: prefix.into(),
            pin: pin.into(),
            randomize: false,
        }),
        ..Default::default()
    }
}

pub fn on(mut r: Rule, trunks: &[&str]) -> Rule {
    r.trunk_ids = strings(trunks);
    r
}

pub fn snapshot(trunks: Vec<Trunk>, rules: Vec<Rule>) -> Snapshot {
    let s = Snapshot::build(Config {
        trunks,
        rules,
        ..Default::default()
    });
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    s
}

/// A call at noon with the ids every decision needs.
pub fn call<'a>(from: &'a str, to: &'a str) -> Call<'a> {
    Call {
        call_id: "SCL_testcall0001",
        sip_call_id: "abc@carrier",
        room_suffix: "R4nd0mSuff1x",
        ..Call::new(from, to, ts(NOON))
    }
}

pub fn from_ip<'a>(mut c: Call<'a>, ip: &str) -> Call<'a> {
    c.source_ip = Some(ip.parse::<IpAddr>().expect("ip"));
    c
}

pub fn with_pin<'a>(mut c: Call<'a>, pin: Pin<'a>) -> Call<'a> {
    c.pin = pin;
    c
}

/// (trunk id, rule id) as selected by the snapshot, checked against the linear evaluator.
pub fn ids(s: &Snapshot, c: &Call<'_>) -> (Option<String>, Option<String>) {
    let fast = s.match_ids(c);
    let slow = switchboard_dispatch::linear::match_ids_linear(s, c);
    assert_eq!(fast, slow, "index and linear evaluator disagree");
    (fast.0.map(String::from), fast.1.map(String::from))
}

pub fn pair(t: Option<&str>, r: Option<&str>) -> (Option<String>, Option<String>) {
    (t.map(String::from), r.map(String::from))
}
