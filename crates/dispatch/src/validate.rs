//! Validation of trunks and rules when they are written, and the keys used to detect
//! conflicts between them (SPEC §3).
//!
//! A trunk or rule is checked on its own first ([`compile_trunk`], [`compile_rule`]), which
//! also parses its number lists and address filters once, so that matching never re-parses.
//! Conflicts with the rest of the configuration are then checked by the snapshot
//! ([`crate::Snapshot::check_trunk`], [`crate::Snapshot::check_rule`]) using the same
//! predicates matching uses, so a configuration that passes can never yield two equally
//! specific matches for one call.

use std::time::Duration;

use crate::address::AddressFilter;
use crate::error::ConfigError;
use crate::model::{MediaConfig, Rule, RuleKind, Trunk};
use crate::number::{NumberPattern, normalize};

/// Longest PIN accepted (SPEC §4).
pub const MAX_PIN_DIGITS: usize = 16;

/// A trunk's lists, parsed and normalized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledTrunk {
    pub numbers: Vec<NumberPattern>,
    /// Normalized, sorted, deduplicated.
    pub allowed_numbers: Vec<String>,
    pub addresses: Vec<AddressFilter>,
}

impl CompiledTrunk {
    pub fn caller_allowed(&self, caller_normalized: &str) -> bool {
        self.allowed_numbers.is_empty()
            || self
                .allowed_numbers
                .binary_search_by(|n| n.as_str().cmp(caller_normalized))
                .is_ok()
    }

    pub fn address_allowed(&self, source: Option<std::net::IpAddr>, host_lower: &str) -> bool {
        self.addresses.is_empty() || self.addresses.iter().any(|a| a.matches(source, host_lower))
    }
}

/// A rule's lists, parsed and normalized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledRule {
    pub numbers: Vec<NumberPattern>,
    pub inbound_numbers: Vec<NumberPattern>,
}

/// Checks a trunk on its own and parses its lists.
pub fn compile_trunk(t: &Trunk) -> Result<CompiledTrunk, ConfigError> {
    let numbers = number_list("numbers", &t.numbers)?;
    let mut allowed_numbers = Vec::with_capacity(t.allowed_numbers.len());
    for n in &t.allowed_numbers {
        if n.is_empty() {
            return Err(ConfigError::invalid(
                "allowed_numbers",
                "allowed_numbers contains an empty entry; remove it or write the caller's number",
            ));
        }
        if n.contains('*') {
            return Err(ConfigError::invalid(
                "allowed_numbers",
                format!(
                    "allowed_numbers entry {n:?} contains '*': caller allow-lists take exact numbers only; list each caller, or move the pattern to a dispatch rule's inbound_numbers"
                ),
            ));
        }
        allowed_numbers.push(normalize(n).into_owned());
    }
    allowed_numbers.sort();
    allowed_numbers.dedup();
    let mut addresses = Vec::with_capacity(t.allowed_addresses.len());
    for a in &t.allowed_addresses {
        let f = AddressFilter::parse(a).map_err(|why| {
            ConfigError::invalid(
                "allowed_addresses",
                format!("allowed_addresses: {why}; write an IP (203.0.113.5, [2001:db8::5]), a CIDR prefix (203.0.113.0/24) or the carrier's SIP host name"),
            )
        })?;
        if !addresses.contains(&f) {
            addresses.push(f);
        }
    }
    let has_user = !t.auth_username.is_empty();
    let has_pass = !t.auth_password.is_empty();
    if has_user != has_pass {
        return Err(ConfigError::invalid(
            if has_user {
                "auth_password"
            } else {
                "auth_username"
            },
            "digest authentication needs both auth_username and auth_password; set both, or clear both to authenticate by address or number",
        ));
    }
    if numbers.is_empty() && addresses.is_empty() && !t.requires_auth() {
        return Err(ConfigError::invalid(
            "numbers",
            "for security, a trunk must restrict who can use it: set numbers, allowed_addresses, or auth_username and auth_password",
        ));
    }
    for (name, value) in &t.headers {
        check_header_name("headers", name, true)?;
        check_header_value(name, value)?;
    }
    for name in t.headers_to_attributes.keys() {
        check_header_name("headers_to_attributes", name, false)?;
    }
    for name in t.attributes_to_headers.values() {
        check_header_name("attributes_to_headers", name, false)?;
    }
    check_media(t.media.as_ref())?;
    Ok(CompiledTrunk {
        numbers,
        allowed_numbers,
        addresses,
    })
}

/// Checks a rule on its own and parses its lists.
pub fn compile_rule(r: &Rule) -> Result<CompiledRule, ConfigError> {
    let kind = r.kind.as_ref().ok_or_else(|| {
        ConfigError::invalid(
            "rule",
            "the dispatch rule has no rule type; set one of dispatch_rule_direct, dispatch_rule_individual or dispatch_rule_callee",
        )
    })?;
    if let RuleKind::Direct { room_name, .. } = kind
        && room_name.trim().is_empty()
    {
        return Err(ConfigError::invalid(
            "room_name",
            "a direct dispatch rule needs a room_name: the room every caller joins",
        ));
    }
    let pin = r.pin();
    if pin.len() > MAX_PIN_DIGITS || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::invalid(
            "pin",
            format!(
                "the PIN must be 1 to {MAX_PIN_DIGITS} digits (0-9), as typed on a phone keypad; leave it empty for an open room"
            ),
        ));
    }
    for t in &r.trunk_ids {
        if t.trim().is_empty() {
            return Err(ConfigError::invalid(
                "trunk_ids",
                "trunk_ids contains an empty id; remove it (an empty trunk_ids list means every trunk)",
            ));
        }
    }
    check_media(r.media.as_ref())?;
    Ok(CompiledRule {
        numbers: number_list("numbers", &r.numbers)?,
        inbound_numbers: number_list("inbound_numbers", &r.inbound_numbers)?,
    })
}

fn number_list(field: &str, entries: &[String]) -> Result<Vec<NumberPattern>, ConfigError> {
    let mut out: Vec<NumberPattern> = Vec::with_capacity(entries.len());
    for e in entries {
        if e.is_empty() {
            return Err(ConfigError::invalid(
                field,
                format!("{field} contains an empty entry; remove it"),
            ));
        }
        let star = e.find('*');
        if star.is_some_and(|i| i + 1 != e.len()) {
            return Err(ConfigError::invalid(
                field,
                format!(
                    "{field} entry {e:?} has '*' before the end; a pattern is a prefix followed by one '*', e.g. \"+1555*\""
                ),
            ));
        }
        let p = NumberPattern::parse(e);
        if let NumberPattern::Prefix(prefix) = &p
            && prefix.is_empty()
        {
            return Err(ConfigError::invalid(
                field,
                format!(
                    "{field} entry \"*\" would match every number; leave {field} empty to match any number"
                ),
            ));
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Header names that switchboard manages itself and that a trunk may not set.
const FORBIDDEN_HEADERS: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "allow",
    "allow-events",
    "call-id",
    "contact",
    "content-encoding",
    "content-length",
    "content-type",
    "cseq",
    "event",
    "expires",
    "from",
    "max-forwards",
    "record-route",
    "refer-to",
    "reply-to",
    "to",
    "via",
    "k",
    "l",
    "m",
    "o",
    "r",
    "t",
    "u",
    "v",
    "i",
    "f",
    "c",
    "e",
    "s",
];

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn check_header_name(field: &str, name: &str, forbid_managed: bool) -> Result<(), ConfigError> {
    if name.is_empty() || name.len() > 255 || !name.bytes().all(is_token_char) {
        return Err(ConfigError::invalid(
            field,
            format!(
                "{field}: {name:?} is not a SIP header name (1 to 255 letters, digits or - . ! % * _ + ` ' ~)"
            ),
        ));
    }
    if forbid_managed && FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(ConfigError::invalid(
            field,
            format!(
                "{field}: header {name:?} is managed by switchboard and cannot be set; use an X- header instead"
            ),
        ));
    }
    Ok(())
}

fn check_header_value(name: &str, value: &str) -> Result<(), ConfigError> {
    if value.len() > 1024 || value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ConfigError::invalid(
            "headers",
            format!(
                "headers: the value of {name:?} must be at most 1024 characters with no control characters (line breaks included)"
            ),
        ));
    }
    Ok(())
}

fn check_media(media: Option<&MediaConfig>) -> Result<(), ConfigError> {
    let Some(m) = media else { return Ok(()) };
    for c in &m.codecs {
        if c.name.is_empty() || c.name.contains('/') || c.name.chars().any(char::is_whitespace) {
            return Err(ConfigError::invalid(
                "media.codecs",
                format!(
                    "media.codecs: {:?} is not a codec name; write the name alone, e.g. \"PCMU\", with the rate in its own field",
                    c.name
                ),
            ));
        }
    }
    if m.media_timeout
        .is_some_and(|d| d > Duration::from_secs(600))
    {
        return Err(ConfigError::invalid(
            "media.media_timeout",
            "media.media_timeout must be between 0 and 10 minutes",
        ));
    }
    Ok(())
}

/// The conflict keys a rule claims: one per (PIN, trunk, caller filter entry, called filter
/// entry), on normalized numbers with patterns kept as `prefix*`. Two rules that claim a
/// common key conflict. The store can keep these in a unique index so that concurrent
/// writers cannot both pass.
pub fn rule_conflict_keys(rule: &Rule, compiled: &CompiledRule) -> Vec<String> {
    let mut out = Vec::new();
    for_each_rule_conflict_key(rule, compiled, |k| out.push(k.to_string()));
    out.sort();
    out.dedup();
    out
}

/// Calls `f` with each of [`rule_conflict_keys`] (unsorted, possibly repeated), written in
/// one reused buffer: what a snapshot build uses, allocating nothing per key.
pub(crate) fn for_each_rule_conflict_key(
    rule: &Rule,
    compiled: &CompiledRule,
    mut f: impl FnMut(&str),
) {
    let pin = rule.pin();
    let any = [String::new()];
    let trunks: &[String] = if rule.trunk_ids.is_empty() {
        &any
    } else {
        &rule.trunk_ids
    };
    // An empty filter contributes one empty key.
    let keys_of = |list: &[NumberPattern]| -> usize { list.len().max(1) };
    let push_key = |buf: &mut String, list: &[NumberPattern], i: usize| match list.get(i) {
        None => {}
        Some(NumberPattern::Exact(n)) => buf.push_str(n),
        Some(NumberPattern::Prefix(p)) => {
            buf.push_str(p);
            buf.push('*');
        }
    };
    let (inbound, numbers) = (&compiled.inbound_numbers, &compiled.numbers);
    let mut buf = String::with_capacity(64);
    for t in trunks {
        for i in 0..keys_of(inbound) {
            for n in 0..keys_of(numbers) {
                buf.clear();
                buf.push_str(pin);
                buf.push('\u{1f}');
                buf.push_str(t);
                buf.push('\u{1f}');
                push_key(&mut buf, inbound, i);
                buf.push('\u{1f}');
                push_key(&mut buf, numbers, n);
                f(&buf);
            }
        }
    }
}

/// Splits a conflict key back into (pin, trunk, inbound, number) for messages.
pub fn describe_rule_key(key: &str) -> String {
    let mut parts = key.split('\u{1f}');
    let mut next = |what: &str| match parts.next() {
        Some("") | None => format!("any {what}"),
        Some(v) => format!("{what} {v}"),
    };
    let pin = next("PIN");
    let trunk = next("trunk");
    let inbound = next("caller");
    let number = next("called number");
    format!("{trunk}, {inbound}, {number}, {pin}")
}

/// Whether two trunks could admit the same call at the same specificity; returns the
/// shared number key (`""` for two wildcards) when they do.
pub fn trunks_conflict(a: &CompiledTrunk, b: &CompiledTrunk) -> Option<String> {
    let shared = if a.numbers.is_empty() && b.numbers.is_empty() {
        Some(String::new())
    } else {
        a.numbers
            .iter()
            .find(|n| b.numbers.contains(n))
            .map(NumberPattern::key)
    }?;
    if a.allowed_numbers.is_empty() != b.allowed_numbers.is_empty() {
        return None;
    }
    if !a.allowed_numbers.is_empty()
        && !a
            .allowed_numbers
            .iter()
            .any(|n| b.allowed_numbers.binary_search(n).is_ok())
    {
        return None;
    }
    if a.addresses.is_empty() != b.addresses.is_empty() {
        return None;
    }
    if !a.addresses.is_empty()
        && !a
            .addresses
            .iter()
            .any(|x| b.addresses.iter().any(|y| x.overlaps(y)))
    {
        return None;
    }
    Some(shared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RuleKind;

    fn trunk(numbers: &[&str]) -> Trunk {
        Trunk {
            numbers: numbers.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn field_of(e: ConfigError) -> String {
        match e {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn trunk_validation_table() {
        let cases: Vec<(Trunk, Option<&str>)> = vec![
            (trunk(&["+15550100"]), None),
            (trunk(&[]), Some("numbers")),
            (
                Trunk {
                    allowed_addresses: vec!["10.0.0.0/8".into()],
                    ..Default::default()
                },
                None,
            ),
            (
                Trunk {
                    auth_username: "u".into(),
                    auth_password: "p".into(),
                    ..Default::default()
                },
                None,
            ),
            (
                Trunk {
                    auth_username: "u".into(),
                    ..trunk(&["+1"])
                },
                Some("auth_password"),
            ),
            (
                Trunk {
                    auth_password: "p".into(),
                    ..trunk(&["+1"])
                },
                Some("auth_username"),
            ),
            (
                Trunk {
                    allowed_addresses: vec!["not an ip".into()],
                    ..trunk(&["+1"])
                },
                Some("allowed_addresses"),
            ),
            (
                Trunk {
                    allowed_addresses: vec!["10.0.0.0/40".into()],
                    ..trunk(&["+1"])
                },
                Some("allowed_addresses"),
            ),
            (
                Trunk {
                    allowed_numbers: vec!["+1555*".into()],
                    ..trunk(&["+1"])
                },
                Some("allowed_numbers"),
            ),
            (trunk(&["*"]), Some("numbers")),
            (trunk(&["+1*5"]), Some("numbers")),
            (trunk(&[""]), Some("numbers")),
            (trunk(&["+1555*"]), None),
            (
                Trunk {
                    headers: [("Contact".to_string(), "x".to_string())].into(),
                    ..trunk(&["+1"])
                },
                Some("headers"),
            ),
            (
                Trunk {
                    headers: [("X-Ok".to_string(), "a\r\nb".to_string())].into(),
                    ..trunk(&["+1"])
                },
                Some("headers"),
            ),
            (
                Trunk {
                    headers: [("X-Ok".to_string(), "fine".to_string())].into(),
                    ..trunk(&["+1"])
                },
                None,
            ),
            (
                Trunk {
                    headers_to_attributes: [("bad name".to_string(), "a".to_string())].into(),
                    ..trunk(&["+1"])
                },
                Some("headers_to_attributes"),
            ),
        ];
        for (t, want) in cases {
            let got = compile_trunk(&t);
            match want {
                None => assert!(got.is_ok(), "{t:?} → {got:?}"),
                Some(f) => assert_eq!(field_of(got.unwrap_err()), f, "{t:?}"),
            }
        }
    }

    #[test]
    fn every_message_says_how_to_fix() {
        let e = compile_trunk(&trunk(&[])).unwrap_err();
        assert!(e.message().contains("set numbers"), "{e}");
        let e = compile_rule(&Rule::default()).unwrap_err();
        assert!(e.message().contains("dispatch_rule_individual"), "{e}");
    }

    #[test]
    fn rule_validation_table() {
        let with = |kind: RuleKind| Rule {
            kind: Some(kind),
            ..Default::default()
        };
        let direct = |room: &str, pin: &str| {
            with(RuleKind::Direct {
                room_name: room.into(),
                pin: pin.into(),
            })
        };
        assert_eq!(
            field_of(compile_rule(&Rule::default()).unwrap_err()),
            "rule"
        );
        assert_eq!(
            field_of(compile_rule(&direct("", "")).unwrap_err()),
            "room_name"
        );
        assert!(compile_rule(&direct("r", "")).is_ok());
        assert!(compile_rule(&direct("r", "1234")).is_ok());
        assert_eq!(
            field_of(compile_rule(&direct("r", "12a")).unwrap_err()),
            "pin"
        );
        assert_eq!(
            field_of(compile_rule(&direct("r", "12*")).unwrap_err()),
            "pin"
        );
        assert_eq!(
            field_of(compile_rule(&direct("r", "12345678901234567")).unwrap_err()),
            "pin"
        );
        let mut r = direct("r", "");
        r.trunk_ids = vec!["".into()];
        assert_eq!(field_of(compile_rule(&r).unwrap_err()), "trunk_ids");
        let mut r = direct("r", "");
        r.inbound_numbers = vec!["*".into()];
        assert_eq!(field_of(compile_rule(&r).unwrap_err()), "inbound_numbers");
        let individual = with(RuleKind::Individual {
            room_prefix: String::new(),
            pin: String::new(),
            no_randomness: false,
        });
        assert!(compile_rule(&individual).is_ok(), "empty prefix is allowed");
    }

    #[test]
    fn rule_keys_are_normalized_cross_products() {
        let r = Rule {
            kind: Some(RuleKind::Direct {
                room_name: "r".into(),
                pin: "12".into(),
            }),
            trunk_ids: vec!["ST_a".into(), "ST_b".into()],
            numbers: vec!["1 555 0100".into(), "+1555*".into()],
            ..Default::default()
        };
        let c = compile_rule(&r).unwrap();
        let keys = rule_conflict_keys(&r, &c);
        assert_eq!(keys.len(), 4);
        assert!(keys.contains(&"12\u{1f}ST_a\u{1f}\u{1f}+15550100".to_string()));
        assert!(keys.contains(&"12\u{1f}ST_b\u{1f}\u{1f}+1555*".to_string()));
        let first = keys.iter().find(|k| k.ends_with("+15550100")).unwrap();
        assert!(first.contains("ST_a"));
        assert_eq!(
            describe_rule_key(first),
            "trunk ST_a, any caller, called number +15550100, PIN 12"
        );
    }

    #[test]
    fn trunk_conflicts_follow_specificity() {
        let c = |t: Trunk| compile_trunk(&t).unwrap();
        let on = |n: &[&str], callers: &[&str], addrs: &[&str]| {
            c(Trunk {
                numbers: n.iter().map(|s| s.to_string()).collect(),
                allowed_numbers: callers.iter().map(|s| s.to_string()).collect(),
                allowed_addresses: addrs.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            })
        };
        // Same number, no filters: conflict (normalized).
        assert_eq!(
            trunks_conflict(
                &on(&["+15550100"], &[], &[]),
                &on(&["1 555 0100"], &[], &[])
            ),
            Some("+15550100".into())
        );
        // Different source addresses: allowed.
        assert_eq!(
            trunks_conflict(
                &on(&["+1"], &[], &["10.0.0.1"]),
                &on(&["+1"], &[], &["10.0.0.2"])
            ),
            None
        );
        // Overlapping CIDRs: conflict.
        assert!(
            trunks_conflict(
                &on(&["+1"], &[], &["10.0.0.0/8"]),
                &on(&["+1"], &[], &["10.1.0.0/16"])
            )
            .is_some()
        );
        // Caller filter vs none: different specificity, no conflict.
        assert_eq!(
            trunks_conflict(&on(&["+1"], &["+2"], &[]), &on(&["+1"], &[], &[])),
            None
        );
        // Overlapping caller filters: conflict; disjoint: none.
        assert!(
            trunks_conflict(&on(&["+1"], &["+2", "+3"], &[]), &on(&["+1"], &["3"], &[])).is_some()
        );
        assert_eq!(
            trunks_conflict(&on(&["+1"], &["+2"], &[]), &on(&["+1"], &["+3"], &[])),
            None
        );
        // Pattern vs exact: different specificity.
        assert_eq!(
            trunks_conflict(&on(&["+1*"], &[], &[]), &on(&["+1"], &[], &[])),
            None
        );
        // Same pattern: conflict.
        assert_eq!(
            trunks_conflict(&on(&["+1 5*"], &[], &[]), &on(&["+15*"], &[], &[])),
            Some("+15*".into())
        );
        // Two wildcards with overlapping addresses.
        assert_eq!(
            trunks_conflict(&on(&[], &[], &["sip.a.com"]), &on(&[], &[], &["SIP.A.COM"])),
            Some(String::new())
        );
    }
}
