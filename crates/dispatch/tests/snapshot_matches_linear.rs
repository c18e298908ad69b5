//! Property test: the indexed snapshot always decides exactly as the plain linear
//! evaluation of the same configuration — on random trunks, rules, calls and PINs,
//! including configurations with conflicts the write path would have refused.

use std::net::IpAddr;

use jiff::Timestamp;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use switchboard_dispatch::linear::{evaluate_linear, match_ids_linear};
use switchboard_dispatch::*;

/// Small pools so that random configurations collide often.
const NUMBERS: &[&str] = &[
    "+15550100",
    "1 555 0100",
    "+15550101",
    "+1 (555) 0102",
    "+1555*",
    "+15550*",
    "1555 01*",
    "+1*",
    "+4420*",
    "+442079460000",
    "sipuser",
    "sip*",
];
const CALLED: &[&str] = &[
    "+15550100",
    "15550100",
    "+15550101",
    "+15550102",
    "+15550199",
    "+15551234",
    "+442079460000",
    "+442071111111",
    "+33100000000",
    "sipuser",
    "sipx",
    "",
    "anonymous",
];
const CALLERS: &[&str] = &[
    "+15557770000",
    "15557770000",
    "+1 555 777 0001",
    "+15557770002",
    "+442079460000",
    "Anonymous",
    "",
    "alice",
    "+1999",
];
const CALLER_FILTERS: &[&str] = &[
    "+15557770000",
    "+15557770001",
    "+1555777*",
    "+44*",
    "alice",
    "+1999",
];
const ALLOWED_CALLERS: &[&str] = &["+15557770000", "15557770001", "alice", "+1999"];
const ADDRESSES: &[&str] = &[
    "10.0.0.1",
    "10.0.0.0/8",
    "10.1.0.0/16",
    "192.0.2.0/24",
    "2001:db8::/32",
    "[2001:db8::7]",
    "::1",
    "carrier.example",
    "Other.Example",
];
const SOURCES: &[Option<&str>] = &[
    Some("10.0.0.1"),
    Some("10.1.2.3"),
    Some("10.2.0.1"),
    Some("192.0.2.55"),
    Some("2001:db8::7"),
    Some("2001:db9::1"),
    Some("::1"),
    Some("::ffff:10.0.0.1"),
    Some("203.0.113.1"),
    None,
];
const HOSTS: &[&str] = &[
    "",
    "carrier.example",
    "CARRIER.example",
    "other.example",
    "x.example",
];
const PINS: &[&str] = &["", "", "1", "12", "99"];
const ROOMS: &[&str] = &["", "a", "b", "room"];

fn owned(v: Vec<&str>) -> Vec<String> {
    v.into_iter().map(|s| s.to_string()).collect()
}

prop_compose! {
    fn arb_trunk()(
        numbers in subsequence(NUMBERS, 0..3),
        callers in prop_oneof![3 => Just(vec![]), 1 => subsequence(ALLOWED_CALLERS, 1..3)],
        addrs in prop_oneof![2 => Just(vec![]), 1 => subsequence(ADDRESSES, 1..3)],
        auth in any::<bool>(),
    ) -> Trunk {
        let numbers: Vec<String> = numbers.iter().map(|s| s.to_string()).collect();
        // Every trunk must restrict something (validation); auth keeps wildcards valid.
        let auth = auth || (numbers.is_empty() && addrs.is_empty());
        Trunk {
            numbers,
            allowed_numbers: callers.iter().map(|s| s.to_string()).collect(),
            allowed_addresses: addrs.iter().map(|s| s.to_string()).collect(),
            auth_username: if auth { "u".into() } else { String::new() },
            auth_password: if auth { "p".into() } else { String::new() },
            ..Default::default()
        }
    }
}

prop_compose! {
    fn arb_rule(trunk_count: usize)(
        kind in 0..3u8,
        room in select(ROOMS),
        pin in select(PINS),
        flag in any::<bool>(),
        trunk_refs in prop_oneof![2 => Just(vec![]), 3 => vec(0..trunk_count + 1, 1..3)],
        numbers in prop_oneof![2 => Just(vec![]), 1 => subsequence(NUMBERS, 1..3)],
        inbound in prop_oneof![2 => Just(vec![]), 1 => subsequence(CALLER_FILTERS, 1..3)],
        hide in any::<bool>(),
    ) -> Rule {
        let kind = match kind {
            0 => RuleKind::Direct { room_name: if room.is_empty() { "r".into() } else { room.to_string() }, pin: pin.to_string() },
            1 => RuleKind::Individual { room_prefix: room.to_string(), pin: pin.to_string(), no_randomness: flag },
            _ => RuleKind::Callee { room_prefix: room.to_string(), pin: pin.to_string(), randomize: flag },
        };
        Rule {
            kind: Some(kind),
            // Index `trunk_count` stands for a trunk id that does not exist.
            trunk_ids: trunk_refs.iter().map(|i| format!("ST_{i:02}")).collect(),
            numbers: owned(numbers),
            inbound_numbers: owned(inbound),
            hide_phone_number: hide,
            ..Default::default()
        }
    }
}

fn arb_config() -> impl Strategy<Value = Config> {
    (1..8usize, any::<bool>())
        .prop_flat_map(|(n, trunkless)| {
            (
                vec(arb_trunk(), n),
                vec(arb_rule(n), 0..12),
                Just(trunkless),
            )
        })
        .prop_map(|(mut trunks, mut rules, trunkless)| {
            for (i, t) in trunks.iter_mut().enumerate() {
                t.id = format!("ST_{i:02}");
            }
            // Ids in a shuffled-looking order so id order differs from creation order.
            let n = rules.len();
            for (i, r) in rules.iter_mut().enumerate() {
                r.id = format!("SDR_{:02}", (i * 7 + 3) % (n.max(1) * 7 + 1));
            }
            Config {
                trunks,
                rules,
                policies: vec![],
                options: RouterOptions {
                    accept_trunkless_calls: trunkless,
                },
            }
        })
}

#[derive(Debug, Clone)]
struct CallSpec {
    caller: &'static str,
    called: &'static str,
    source: Option<&'static str>,
    host: &'static str,
    pin: u8,
    pin_digits: &'static str,
}

fn arb_call() -> impl Strategy<Value = CallSpec> {
    (
        select(CALLERS),
        select(CALLED),
        select(SOURCES),
        select(HOSTS),
        0..3u8,
        select(PINS),
    )
        .prop_map(|(caller, called, source, host, pin, pin_digits)| CallSpec {
            caller,
            called,
            source,
            host,
            pin,
            pin_digits,
        })
}

/// One configuration write, for the incremental test.
#[derive(Debug, Clone)]
enum Op {
    PutTrunk(usize, Trunk),
    DeleteTrunk(usize),
    PutRule(usize, Rule),
    DeleteRule(usize),
    PutPolicy(usize, bool),
    DeletePolicy(usize),
}

const IDS: usize = 10;

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..IDS, arb_trunk()).prop_map(|(i, t)| Op::PutTrunk(i, t)),
        1 => (0..IDS).prop_map(Op::DeleteTrunk),
        4 => (0..IDS, arb_rule(IDS)).prop_map(|(i, r)| Op::PutRule(i, r)),
        1 => (0..IDS).prop_map(Op::DeleteRule),
        1 => (0..IDS, any::<bool>()).prop_map(|(i, open)| Op::PutPolicy(i, open)),
        1 => (0..IDS).prop_map(Op::DeletePolicy),
    ]
}

/// A policy that is either always open or always closed (routing to another rule).
fn policy(rule: usize, open: bool) -> RoutePolicy {
    RoutePolicy {
        rule_id: format!("SDR_{rule:02}"),
        active_days: if open { vec![] } else { vec![Day::Sat] },
        after_hours: PolicyAction::RouteToRule {
            rule_id: format!("SDR_{:02}", (rule + 1) % IDS),
        },
        ..Default::default()
    }
}

fn call_of(spec: &CallSpec) -> Call<'static> {
    let pin = match spec.pin {
        0 => Pin::NotEntered,
        1 => Pin::Skipped,
        _ => Pin::Entered(spec.pin_digits),
    };
    Call {
        caller: spec.caller,
        from_host: spec.host,
        called: spec.called,
        source_ip: spec.source.map(|s| s.parse::<IpAddr>().unwrap()),
        pin,
        // A Thursday: the closed policies (Saturday only) are closed.
        at: "2026-06-11T12:00:00Z".parse().unwrap(),
        call_id: "SCL_propcall0001",
        sip_call_id: "x@y",
        headers: &[],
        room_suffix: "Suffix123456",
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Applying writes one batch at a time (delta layers, compactions) decides exactly as
    /// building the final configuration from scratch.
    #[test]
    fn incremental_snapshot_agrees_with_rebuild(
        ops in vec(arb_op(), 1..160),
        batch in 1..6usize,
        compact_every in 0..4usize,
        calls in vec(arb_call(), 1..12),
    ) {
        use std::collections::BTreeMap;
        let mut trunks: BTreeMap<String, Trunk> = BTreeMap::new();
        let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
        let mut policies: BTreeMap<String, RoutePolicy> = BTreeMap::new();
        let mut snap = Snapshot::empty(RouterOptions::default());
        let mut pending = Vec::new();
        let mut batches = 0;
        for op in ops {
            let change = match op {
                Op::PutTrunk(i, mut t) => {
                    t.id = format!("ST_{i:02}");
                    trunks.insert(t.id.clone(), t.clone());
                    ConfigChange::PutTrunk(t)
                }
                Op::DeleteTrunk(i) => {
                    let id = format!("ST_{i:02}");
                    trunks.remove(&id);
                    ConfigChange::DeleteTrunk(id)
                }
                Op::PutRule(i, mut r) => {
                    r.id = format!("SDR_{i:02}");
                    rules.insert(r.id.clone(), r.clone());
                    ConfigChange::PutRule(r)
                }
                Op::DeleteRule(i) => {
                    let id = format!("SDR_{i:02}");
                    rules.remove(&id);
                    policies.remove(&id);
                    ConfigChange::DeleteRule(id)
                }
                Op::PutPolicy(i, open) => {
                    let p = policy(i, open);
                    policies.insert(p.rule_id.clone(), p.clone());
                    ConfigChange::PutPolicy(p)
                }
                Op::DeletePolicy(i) => {
                    let id = format!("SDR_{i:02}");
                    policies.remove(&id);
                    ConfigChange::DeletePolicy(id)
                }
            };
            pending.push(change);
            if pending.len() >= batch {
                snap = snap.with_changes(&pending);
                pending.clear();
                batches += 1;
                if compact_every > 0 && batches % compact_every == 0 {
                    snap = snap.compacted();
                    prop_assert_eq!(snap.delta_len(), 0);
                }
            }
        }
        snap = snap.with_changes(&pending);
        // Policies of deleted rules are dropped by a full build, as by DeleteRule.
        let rebuilt = Snapshot::build(Config {
            trunks: trunks.into_values().collect(),
            rules: rules.clone().into_values().collect(),
            policies: policies.into_values().filter(|p| rules.contains_key(&p.rule_id)).collect(),
            options: RouterOptions::default(),
        });
        prop_assert!(rebuilt.warnings().is_empty(), "{:?}", rebuilt.warnings());
        for spec in &calls {
            let call = call_of(spec);
            prop_assert_eq!(snap.match_ids(&call), rebuilt.match_ids(&call), "{:?}", spec);
            prop_assert_eq!(snap.match_ids(&call), match_ids_linear(&snap, &call), "{:?}", spec);
            let a = snap.evaluate(&call, &mut Unlimited);
            let b = rebuilt.evaluate(&call, &mut Unlimited);
            prop_assert_eq!(&a, &b, "{:?}", spec);
            let mut traced = snap.explain(&call, &mut Unlimited);
            traced.trace.clear();
            prop_assert_eq!(&a, &traced, "{:?}", spec);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn index_agrees_with_linear(config in arb_config(), calls in vec(arb_call(), 1..16)) {
        let snapshot = Snapshot::build(config);
        prop_assert!(snapshot.warnings().is_empty(), "{:?}", snapshot.warnings());
        for spec in calls {
            let pin = match spec.pin {
                0 => Pin::NotEntered,
                1 => Pin::Skipped,
                _ => Pin::Entered(spec.pin_digits),
            };
            let call = Call {
                caller: spec.caller,
                from_host: spec.host,
                called: spec.called,
                source_ip: spec.source.map(|s| s.parse::<IpAddr>().unwrap()),
                pin,
                at: Timestamp::UNIX_EPOCH,
                call_id: "SCL_propcall0001",
                sip_call_id: "x@y",
                headers: &[],
                room_suffix: "Suffix123456",
            };
            prop_assert_eq!(snapshot.match_ids(&call), match_ids_linear(&snapshot, &call), "{:?}", spec);
            let fast = snapshot.evaluate(&call, &mut Unlimited);
            let slow = evaluate_linear(&snapshot, &call, &mut Unlimited);
            prop_assert_eq!(&fast, &slow, "{:?}", spec);
            // The traced path decides the same as the untraced one.
            let mut traced = snapshot.explain(&call, &mut Unlimited);
            traced.trace.clear();
            prop_assert_eq!(&fast, &traced, "{:?}", spec);
        }
    }
}
