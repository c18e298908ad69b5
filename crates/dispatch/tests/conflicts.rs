//! Table tests for write-time validation against the stored configuration (SPEC §3).

mod common;

use common::*;
use switchboard_dispatch::*;

fn conflict_of(r: Result<impl std::fmt::Debug, ConfigError>) -> (String, String) {
    match r {
        Err(ConfigError::Conflict {
            message,
            existing_id,
            ..
        }) => (existing_id, message),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn rule_conflicts_table() {
    let stored = snapshot(
        vec![trunk("ST_a", &["+15550100"]), trunk("ST_b", &["+15550200"])],
        vec![
            on(direct("SDR_a", "a", ""), &["ST_a"]),
            Rule {
                numbers: strings(&["+1 555 0300", "+1666*"]),
                ..direct("SDR_num", "n", "")
            },
            Rule {
                inbound_numbers: strings(&["+15557770000"]),
                ..on(direct("SDR_in", "i", "12"), &["ST_b"])
            },
        ],
    );
    // (candidate, conflicting id or None, why)
    let cases: Vec<(Rule, Option<&str>, &str)> = vec![
        (
            on(individual("SDR_new", "x", ""), &["ST_a"]),
            Some("SDR_a"),
            "same trunk, no filters, no PIN: kind is irrelevant",
        ),
        (
            on(individual("SDR_new", "x", "99"), &["ST_a"]),
            None,
            "a PIN makes a different key",
        ),
        (
            direct("SDR_new", "x", ""),
            None,
            "a wildcard rule does not conflict with a trunk-specific one",
        ),
        (
            Rule {
                numbers: strings(&["15550300"]),
                ..direct("SDR_new", "x", "")
            },
            Some("SDR_num"),
            "numbers compared normalized",
        ),
        (
            Rule {
                numbers: strings(&["+1666*"]),
                ..direct("SDR_new", "x", "")
            },
            Some("SDR_num"),
            "the same pattern conflicts",
        ),
        (
            Rule {
                numbers: strings(&["+16660*"]),
                ..direct("SDR_new", "x", "")
            },
            None,
            "a different pattern does not",
        ),
        (
            Rule {
                inbound_numbers: strings(&["1 555 777 0000"]),
                ..on(callee("SDR_new", "x", "12"), &["ST_b", "ST_a"])
            },
            Some("SDR_in"),
            "any shared key conflicts",
        ),
        (
            Rule {
                inbound_numbers: strings(&["+15557770000"]),
                ..on(callee("SDR_new", "x", ""), &["ST_b"])
            },
            None,
            "an open rule beside a PIN rule",
        ),
        (
            on(individual("SDR_a", "renamed", ""), &["ST_a"]),
            None,
            "an update does not conflict with itself",
        ),
    ];
    for (rule, want, why) in cases {
        let got = stored.check_rule(&rule);
        match want {
            None => assert!(got.is_ok(), "{why}: {got:?}"),
            Some(id) => {
                let (existing, msg) = conflict_of(got);
                assert_eq!(existing, id, "{why}");
                assert!(msg.contains(id), "names the rule: {msg}");
                assert!(msg.contains(&format!("{id} name")), "names its name: {msg}");
                assert!(
                    msg.contains("give this rule a different PIN"),
                    "says how to fix: {msg}"
                );
            }
        }
    }
}

#[test]
fn trunk_conflicts_table() {
    let stored = snapshot(
        vec![
            trunk("ST_main", &["+15550100", "+1777*"]),
            Trunk {
                allowed_addresses: strings(&["203.0.113.0/24"]),
                ..trunk("ST_carrier", &["+15550200"])
            },
            Trunk {
                auth_username: "u".into(),
                auth_password: "p".into(),
                ..trunk("ST_wild", &[])
            },
        ],
        vec![],
    );
    let cases: Vec<(Trunk, Option<&str>, &str)> = vec![
        (
            trunk("", &["1 555 0100"]),
            Some("ST_main"),
            "same number, normalized",
        ),
        (trunk("", &["+1777*"]), Some("ST_main"), "same pattern"),
        (
            trunk("", &["+17770*"]),
            None,
            "longer pattern is more specific",
        ),
        (
            Trunk {
                allowed_numbers: strings(&["+1999"]),
                ..trunk("", &["+15550100"])
            },
            None,
            "a caller filter makes it more specific",
        ),
        (
            Trunk {
                allowed_addresses: strings(&["203.0.113.128/25"]),
                ..trunk("", &["+15550200"])
            },
            Some("ST_carrier"),
            "overlapping networks",
        ),
        (
            Trunk {
                allowed_addresses: strings(&["198.51.100.0/24"]),
                ..trunk("", &["+15550200"])
            },
            None,
            "disjoint networks can share a number",
        ),
        (
            Trunk {
                auth_username: "x".into(),
                auth_password: "y".into(),
                ..trunk("", &[])
            },
            Some("ST_wild"),
            "two unrestricted wildcards",
        ),
        (
            Trunk {
                allowed_addresses: strings(&["10.0.0.1"]),
                ..trunk("", &[])
            },
            None,
            "an address filter makes a wildcard more specific",
        ),
        (
            trunk("ST_main", &["+15550100"]),
            None,
            "an update is not its own conflict",
        ),
    ];
    for (t, want, why) in cases {
        let got = stored.check_trunk(&t);
        match want {
            None => assert!(got.is_ok(), "{why}: {got:?}"),
            Some(id) => {
                let (existing, msg) = conflict_of(got);
                assert_eq!(existing, id, "{why}");
                assert!(msg.contains(id) && msg.contains("update"), "{msg}");
            }
        }
    }
}

#[test]
fn invalid_objects_are_refused_and_left_out_of_snapshots() {
    let s = Snapshot::empty(RouterOptions::default());
    let bad = Trunk {
        allowed_addresses: strings(&["10.0.0.0/99"]),
        ..trunk("ST_bad", &["+1"])
    };
    match s.check_trunk(&bad) {
        Err(ConfigError::Invalid { field, message }) => {
            assert_eq!(field, "allowed_addresses");
            assert!(message.contains("CIDR"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A stored invalid object (say, from an older version) never breaks other calls.
    let built = Snapshot::build(Config {
        trunks: vec![bad, trunk("ST_ok", &["+15550100"])],
        rules: vec![
            Rule {
                id: "SDR_untyped".into(),
                ..Default::default()
            },
            direct("SDR_ok", "r", ""),
        ],
        ..Default::default()
    });
    assert_eq!(built.warnings().len(), 2, "{:?}", built.warnings());
    assert_eq!(
        ids(&built, &call("+1", "+15550100")),
        pair(Some("ST_ok"), Some("SDR_ok"))
    );
}

#[test]
fn stored_conflicts_never_fail_a_call() {
    // Two identical rules written before validation existed: the call still routes,
    // deterministically, to the lower id.
    let s = Snapshot::build(Config {
        trunks: vec![trunk("ST_a", &["+1"]), trunk("ST_b", &["+1"])],
        rules: vec![direct("SDR_2", "same", ""), direct("SDR_1", "same", "")],
        ..Default::default()
    });
    assert_eq!(
        ids(&s, &call("+9", "+1")),
        pair(Some("ST_a"), Some("SDR_1"))
    );
}
