//! Table tests for SPEC §2–§5: trunk matching, rule selection, PINs, decisions and rooms.

mod common;

use common::*;
use switchboard_dispatch::*;

#[test]
fn trunk_specificity_by_called_number() {
    let s = snapshot(
        vec![
            trunk("ST_exact", &["+1 555 010 0100"]),
            trunk("ST_long", &["+1555010*"]),
            trunk("ST_short", &["+1555*"]),
            Trunk {
                allowed_addresses: strings(&["0.0.0.0/0"]),
                ..trunk("ST_wild", &[])
            },
        ],
        vec![direct("SDR_any", "room", "")],
    );
    let cases = [
        ("15550100100", Some("ST_exact"), "exact beats any pattern"),
        (
            "+1 (555) 010-0100",
            Some("ST_exact"),
            "normalized called number",
        ),
        (
            "+15550109999",
            Some("ST_long"),
            "longer pattern beats shorter",
        ),
        (
            "+15559999999",
            Some("ST_short"),
            "only the short pattern matches",
        ),
        (
            "+4420000000",
            Some("ST_wild"),
            "wildcard trunk catches the rest",
        ),
    ];
    for (to, want, why) in cases {
        let c = from_ip(call("+15557770000", to), "198.51.100.7");
        assert_eq!(ids(&s, &c).0.as_deref(), want, "{why}");
    }
    // Without a source address the 0.0.0.0/0 wildcard fails closed.
    assert_eq!(ids(&s, &call("+1", "+4420000000")).0, None);
}

#[test]
fn trunk_caller_and_address_filters() {
    let s = snapshot(
        vec![
            trunk("ST_plain", &["+15550100"]),
            Trunk {
                allowed_numbers: strings(&["1 555 777 0000"]),
                ..trunk("ST_vip", &["+15550100"])
            },
            Trunk {
                allowed_addresses: strings(&["203.0.113.0/24"]),
                ..trunk("ST_carrier", &["+15550100"])
            },
            Trunk {
                allowed_addresses: strings(&["2001:db8::/32", "SIP.Example.NET"]),
                ..trunk("ST_v6", &["+15550200"])
            },
        ],
        vec![direct("SDR_any", "room", "")],
    );
    let cases = [
        (
            call("+15557770000", "+15550100"),
            Some("ST_vip"),
            "caller filter beats none (normalized)",
        ),
        (
            from_ip(call("+15557770000", "+15550100"), "203.0.113.9"),
            Some("ST_vip"),
            "caller filter beats address filter",
        ),
        (
            from_ip(call("+1999", "+15550100"), "203.0.113.9"),
            Some("ST_carrier"),
            "address filter beats none",
        ),
        (
            from_ip(call("+1999", "+15550100"), "198.51.100.1"),
            Some("ST_plain"),
            "other sources fall back",
        ),
        (
            from_ip(call("+1999", "+15550200"), "2001:db8:5::1"),
            Some("ST_v6"),
            "IPv6 CIDR",
        ),
        (
            from_ip(call("+1999", "+15550200"), "2001:db9::1"),
            None,
            "IPv6 outside the prefix",
        ),
        (
            Call {
                from_host: "sip.example.net",
                ..call("+1999", "+15550200")
            },
            Some("ST_v6"),
            "From host, case-insensitive, with no source IP",
        ),
    ];
    for (c, want, why) in cases {
        assert_eq!(ids(&s, &c).0.as_deref(), want, "{why}");
    }
}

#[test]
fn no_trunk_is_404_unless_trunkless_calls_are_accepted() {
    let trunks = vec![trunk("ST_a", &["+15550100"])];
    let rules = vec![
        direct("SDR_catchall", "lobby", ""),
        on(direct("SDR_a", "a", ""), &["ST_a"]),
    ];
    let strict = snapshot(trunks.clone(), rules.clone());
    let d = strict.evaluate(&call("+1", "+19990000"), &mut Unlimited);
    assert_eq!(
        (d.verdict, d.sip_status, d.reason),
        (Verdict::Reject, Some(404), Reason::NoTrunk)
    );
    assert!(
        d.detail.contains("add the number to a trunk"),
        "{}",
        d.detail
    );

    let lenient = Snapshot::build(Config {
        trunks,
        rules,
        options: RouterOptions {
            accept_trunkless_calls: true,
        },
        ..Default::default()
    });
    let c = call("+1", "+19990000");
    assert_eq!(
        ids(&lenient, &c),
        pair(None, Some("SDR_catchall")),
        "only wildcard rules"
    );
    let d = lenient.evaluate(&c, &mut Unlimited);
    assert_eq!(d.verdict, Verdict::Accept);
    assert_eq!(d.room.unwrap().attributes["sip.trunkID"], "");
}

#[test]
fn rule_precedence_table() {
    // Each case: rules on trunk ST_t (number +15550100), a call, the expected winner.
    struct Case {
        why: &'static str,
        rules: Vec<Rule>,
        from: &'static str,
        to: &'static str,
        want: Option<&'static str>,
    }
    let t = &["ST_t"];
    let with_numbers = |mut r: Rule, n: &[&str]| {
        r.numbers = strings(n);
        r
    };
    let with_inbound = |mut r: Rule, n: &[&str]| {
        r.inbound_numbers = strings(n);
        r
    };
    let cases = vec![
        Case {
            why: "trunk-specific beats wildcard whatever the priority",
            rules: vec![direct("SDR_w", "w", "12"), on(callee("SDR_s", "s", ""), t)],
            from: "+1",
            to: "+15550100",
            want: Some("SDR_s"),
        },
        Case {
            why: "rules of other trunks are not candidates",
            rules: vec![
                on(direct("SDR_o", "o", ""), &["ST_other"]),
                direct("SDR_w", "w", ""),
            ],
            from: "+1",
            to: "+15550100",
            want: Some("SDR_w"),
        },
        Case {
            why: "direct < individual < callee",
            rules: vec![
                on(callee("SDR_c", "c", ""), t),
                on(individual("SDR_i", "i", ""), t),
                on(direct("SDR_d", "d", ""), t),
            ],
            from: "+1",
            to: "+15550100",
            want: Some("SDR_d"),
        },
        Case {
            why: "PIN rule beats open rule of the same specificity",
            rules: vec![
                on(direct("SDR_open", "a", ""), t),
                on(callee("SDR_pin", "b", "1234"), t),
            ],
            from: "+1",
            to: "+15550100",
            want: Some("SDR_pin"),
        },
        Case {
            why: "a caller filter (1000) beats a PIN (100): the personal room",
            rules: vec![
                on(direct("SDR_pin", "shared", "1234"), t),
                on(
                    with_inbound(individual("SDR_me", "me", ""), &["+1 555 777 0000"]),
                    t,
                ),
            ],
            from: "15557770000",
            to: "+15550100",
            want: Some("SDR_me"),
        },
        Case {
            why: "caller filter that misses drops the rule",
            rules: vec![
                on(direct("SDR_any", "a", ""), t),
                on(
                    with_inbound(direct("SDR_me", "me", ""), &["+15557770000"]),
                    t,
                ),
            ],
            from: "+15550000000",
            to: "+15550100",
            want: Some("SDR_any"),
        },
        Case {
            why: "called-number filter compared normalized",
            rules: vec![
                on(direct("SDR_any", "a", ""), t),
                on(
                    with_numbers(direct("SDR_num", "n", ""), &["1 (555) 0100"]),
                    t,
                ),
            ],
            from: "+1",
            to: "+15550100",
            want: Some("SDR_num"),
        },
        Case {
            why: "called-number filter that misses drops the rule",
            rules: vec![on(
                with_numbers(direct("SDR_num", "n", ""), &["+15550199"]),
                t,
            )],
            from: "+1",
            to: "+15550100",
            want: None,
        },
        Case {
            why: "exact numbers beat a pattern, before PIN and kind",
            rules: vec![
                on(with_numbers(direct("SDR_pat", "p", "9"), &["+1555*"]), t),
                on(
                    with_numbers(callee("SDR_exact", "e", ""), &["+15550100"]),
                    t,
                ),
            ],
            from: "+1",
            to: "+15550100",
            want: Some("SDR_exact"),
        },
        Case {
            why: "longer pattern beats shorter",
            rules: vec![
                on(with_numbers(direct("SDR_short", "s", ""), &["+1*"]), t),
                on(with_numbers(callee("SDR_long", "l", ""), &["+15550*"]), t),
            ],
            from: "+1",
            to: "+15550100",
            want: Some("SDR_long"),
        },
        Case {
            why: "caller patterns refine inbound_numbers the same way",
            rules: vec![
                on(with_inbound(direct("SDR_short", "s", ""), &["+1*"]), t),
                on(with_inbound(callee("SDR_long", "l", ""), &["+1555777*"]), t),
            ],
            from: "+15557770000",
            to: "+15550100",
            want: Some("SDR_long"),
        },
        Case {
            why: "without patterns an empty filter ranks as exact: LiveKit's order",
            rules: vec![
                on(
                    with_inbound(callee("SDR_in", "x", ""), &["+15557770000"]),
                    t,
                ),
                on(with_numbers(direct("SDR_num", "y", ""), &["+15550100"]), t),
            ],
            from: "+15557770000",
            to: "+15550100",
            want: Some("SDR_num"),
        },
        Case {
            why: "ties go to the smaller room name",
            rules: vec![
                on(direct("SDR_a", "zeta", ""), t),
                on(direct("SDR_b", "alpha", ""), &["ST_t", "ST_x"]),
            ],
            from: "+1",
            to: "+15550100",
            want: Some("SDR_b"),
        },
        Case {
            why: "full ties go to the smaller rule id",
            rules: vec![
                on(individual("SDR_b", "same", ""), t),
                on(individual("SDR_a", "same", ""), t),
            ],
            from: "+1",
            to: "+15550100",
            want: Some("SDR_a"),
        },
    ];
    for c in cases {
        let s = Snapshot::build(Config {
            trunks: vec![trunk("ST_t", &["+15550100"])],
            rules: c.rules,
            ..Default::default()
        });
        let got = ids(&s, &call(c.from, c.to));
        assert_eq!(got.1.as_deref(), c.want, "{}", c.why);
    }
}

#[test]
fn pin_flow() {
    let t = &["ST_t"];
    let s = snapshot(
        vec![trunk("ST_t", &["+15550100"])],
        vec![
            on(direct("SDR_red", "red-room", "1111"), t),
            on(direct("SDR_blue", "blue-room", "2222"), t),
            on(callee("SDR_open", "lobby", ""), t),
        ],
    );
    let base = call("+1", "+15550100");
    let d = s.evaluate(&base, &mut Unlimited);
    assert_eq!(d.verdict, Verdict::RequestPin);
    assert_eq!(d.reason, Reason::PinRequired);
    assert!(d.room.is_none(), "a request_pin decision carries no room");
    assert_eq!(
        d.rule_id.as_deref(),
        Some("SDR_blue"),
        "blue-room < red-room"
    );

    let cases = [
        (
            Pin::Entered("1111"),
            Verdict::Accept,
            Some("red-room"),
            Reason::Matched,
            Some(200),
        ),
        (
            Pin::Entered("2222"),
            Verdict::Accept,
            Some("blue-room"),
            Reason::Matched,
            Some(200),
        ),
        (
            Pin::Entered("3333"),
            Verdict::Reject,
            None,
            Reason::InvalidPin,
            None,
        ),
        (
            Pin::Entered("111"),
            Verdict::Reject,
            None,
            Reason::InvalidPin,
            None,
        ),
        (
            Pin::Skipped,
            Verdict::Accept,
            Some("lobby_+15550100"),
            Reason::Matched,
            Some(200),
        ),
    ];
    for (pin, verdict, room, reason, status) in cases {
        let c = with_pin(base.clone(), pin);
        ids(&s, &c);
        let d = s.evaluate(&c, &mut Unlimited);
        assert_eq!(d.verdict, verdict, "{pin:?}");
        assert_eq!(
            d.room.as_ref().map(|r| r.room_name.as_str()),
            room,
            "{pin:?}"
        );
        assert_eq!(d.reason, reason, "{pin:?}");
        assert_eq!(d.sip_status, status, "{pin:?}");
    }

    // '#' alone with no open rule: no_rule, already answered so no SIP status.
    let only_pin = snapshot(
        vec![trunk("ST_t", &["+15550100"])],
        vec![on(direct("SDR_red", "red", "1111"), t)],
    );
    let d = only_pin.evaluate(&with_pin(base.clone(), Pin::Skipped), &mut Unlimited);
    assert_eq!(
        (d.verdict, d.reason, d.sip_status),
        (Verdict::Reject, Reason::NoRule, None)
    );
}

#[test]
fn no_rule_is_404_with_an_actionable_message() {
    let s = snapshot(vec![trunk("ST_t", &["+15550100"])], vec![]);
    let d = s.evaluate(&call("+1", "+15550100"), &mut Unlimited);
    assert_eq!(
        (d.verdict, d.sip_status, d.reason),
        (Verdict::Reject, Some(404), Reason::NoRule)
    );
    assert_eq!(d.trunk_id.as_deref(), Some("ST_t"));
    assert!(d.detail.contains("create one"), "{}", d.detail);
}

#[test]
fn accept_builds_the_room_participant_and_agents() {
    let mut r = on(individual("SDR_r", "call-", ""), &["ST_t"]);
    r.metadata = r#"{"is_internal":true}"#.into();
    r.attributes = [("team".to_string(), "support".to_string())].into();
    r.room_config = Some(RoomConfig {
        agents: vec![AgentDispatch {
            agent_name: "inbound-agent".into(),
            metadata: r#"{"agent_config":{"llm":"x"}}"#.into(),
            ..Default::default()
        }],
    });
    let t = Trunk {
        ringing_timeout: Some(std::time::Duration::from_secs(20)),
        headers: [("X-Routed-By".to_string(), "switchboard".to_string())].into(),
        ..trunk("ST_t", &["+15550100"])
    };
    let s = snapshot(vec![t], vec![r.clone()]);
    let c = Call {
        from_host: "carrier.example",
        ..call("1 555 777 0000", "15550100")
    };
    let d = s.evaluate(&c, &mut Unlimited);
    assert_eq!(d.verdict, Verdict::Accept);
    assert_eq!(d.sip_status, Some(200));
    let room = d.room.expect("room");
    assert_eq!(room.room_name, "call-_+15557770000_R4nd0mSuff1x");
    assert_eq!(room.participant_identity, "sip_+15557770000");
    assert_eq!(room.participant_name, "Phone +15557770000");
    assert_eq!(room.participant_metadata, r#"{"is_internal":true}"#);
    assert_eq!(room.agents[0].agent_name, "inbound-agent");
    assert_eq!(
        room.agents[0].metadata, r#"{"agent_config":{"llm":"x"}}"#,
        "verbatim"
    );
    assert_eq!(room.ringing_timeout, std::time::Duration::from_secs(20));
    assert_eq!(room.max_call_duration, MAX_CALL_DURATION);
    assert_eq!(room.headers["X-Routed-By"], "switchboard");
    let a = &room.attributes;
    assert_eq!(a["team"], "support");
    assert_eq!(a["sip.phoneNumber"], "1 555 777 0000", "raw as received");
    assert_eq!(a["sip.trunkPhoneNumber"], "15550100", "raw as received");
    assert_eq!(a["sip.hostname"], "carrier.example");
    assert_eq!(a["sip.ruleID"], "SDR_r");
    assert_eq!(a["sip.trunkID"], "ST_t");
    assert_eq!(a["sip.callID"], "SCL_testcall0001");
    assert_eq!(a["sip.callStatus"], "ringing");

    // Hidden number: hashed identity, masked name and room, no number attributes.
    let mut hidden = r;
    hidden.hide_phone_number = true;
    let s = snapshot(vec![trunk("ST_t", &["+15550100"])], vec![hidden]);
    let room = s
        .evaluate(&call("+11112222", "+15550100"), &mut Unlimited)
        .room
        .unwrap();
    assert_eq!(room.participant_identity, "sip_c15a31c71649a522");
    assert_eq!(room.participant_name, "Phone 2222");
    assert_eq!(room.room_name, "call-_2222_R4nd0mSuff1x");
    assert!(!room.attributes.contains_key("sip.phoneNumber"));

    // Anonymous caller.
    let room = s
        .evaluate(&call("Anonymous", "+15550100"), &mut Unlimited)
        .room
        .unwrap();
    assert_eq!(room.participant_identity, "sip_anonymous_SCL_testcall0001");
    assert_eq!(room.participant_name, "Phone anonymous");
}

#[test]
fn same_number_different_formats_share_a_callee_room() {
    let s = snapshot(
        vec![trunk("ST_t", &["+15550100"])],
        vec![callee("SDR_c", "support", "")],
    );
    let a = s
        .evaluate(&call("+1", "15550100"), &mut Unlimited)
        .room
        .unwrap();
    let b = s
        .evaluate(&call("+2", "+1 555 0100"), &mut Unlimited)
        .room
        .unwrap();
    assert_eq!(a.room_name, "support_+15550100");
    assert_eq!(a.room_name, b.room_name);
}

#[test]
fn explain_trace_says_why() {
    let s = snapshot(
        vec![
            Trunk {
                allowed_numbers: strings(&["+1999"]),
                ..trunk("ST_vip", &["+15550100"])
            },
            Trunk {
                auth_username: "u".into(),
                auth_password: "p".into(),
                auth_realm: "carrier".into(),
                ..trunk("ST_main", &["+15550100"])
            },
            trunk("ST_pattern", &["+1555*"]),
        ],
        vec![
            on(direct("SDR_pin", "secret", "42"), &["ST_main"]),
            on(callee("SDR_open", "lobby", ""), &["ST_main"]),
            direct("SDR_wild", "fallback", ""),
        ],
    );
    let c = with_pin(call("+15557770000", "+15550100"), Pin::Skipped);
    let d = s.explain(&c, &mut Unlimited);
    assert_eq!(d.rule_id.as_deref(), Some("SDR_open"));
    let find = |id: &str| {
        d.trace
            .iter()
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("{id} missing from {:#?}", d.trace))
    };
    assert_eq!(find("ST_vip").result, StepResult::Dropped);
    assert_eq!(find("ST_vip").reason, "caller_not_allowed");
    assert_eq!(find("ST_main").result, StepResult::Selected);
    assert!(
        find("ST_main").detail.contains("digest challenge"),
        "{}",
        find("ST_main").detail
    );
    assert_eq!(find("ST_pattern").result, StepResult::Kept);
    assert_eq!(find("SDR_pin").reason, "pin_rule_skipped");
    assert_eq!(find("SDR_open").result, StepResult::Selected);
    assert_eq!(find("SDR_wild").reason, "lower_priority");
    // The traced and the untraced evaluations decide the same.
    let mut plain = s.evaluate(&c, &mut Unlimited);
    let mut traced = d.clone();
    plain.trace.clear();
    traced.trace.clear();
    assert_eq!(plain, traced);
    // The trace serializes to stable codes.
    let json = serde_json::to_value(&d.trace).unwrap();
    assert_eq!(json[0]["stage"], "trunk");
}
