//! Rooms and the caller participant (SPEC §5): room names, identity, display name,
//! metadata and attributes.
//!
//! Room names and identities use the **normalized** numbers, so a carrier that sends
//! `15551234567` and one that sends `+1 555 123 4567` put the caller in the same room; the
//! `sip.phoneNumber` / `sip.trunkPhoneNumber` attributes carry the raw strings as received.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::call::Call;
use crate::model::{IncludeHeaders, Rule, RuleKind, Trunk};

/// Caller user parts that mean "no caller id" (compared case-insensitively).
const ANONYMOUS: &[&str] = &[
    "anonymous",
    "restricted",
    "private",
    "unavailable",
    "unknown",
];

/// Whether the From user part hides the caller.
pub fn is_anonymous(caller_raw: &str) -> bool {
    let c = caller_raw.trim();
    c.is_empty() || ANONYMOUS.iter().any(|a| c.eq_ignore_ascii_case(a))
}

/// LiveKit's masking: the last 4 characters, or only the last one when there are 4 or fewer.
/// A normalized number's leading `+` is not counted, so short numbers stay masked.
pub fn masked_tail(caller: &str) -> &str {
    let caller = caller.strip_prefix('+').unwrap_or(caller);
    let count = caller.chars().count();
    let keep = if count <= 4 { 1 } else { 4 };
    let start = caller
        .char_indices()
        .nth(count.saturating_sub(keep))
        .map_or(caller.len(), |(i, _)| i);
    &caller[start..]
}

/// `sip_` + the first 16 hex characters of SHA-256 of the raw caller string.
pub fn hidden_identity(caller_raw: &str) -> String {
    let digest = Sha256::digest(caller_raw.as_bytes());
    let mut out = String::with_capacity(20);
    out.push_str("sip_");
    for b in &digest[..8] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Identity and display name of the caller participant.
pub fn caller_participant(rule: &Rule, call: &Call<'_>, caller_norm: &str) -> (String, String) {
    if is_anonymous(call.caller) {
        return (
            format!("sip_anonymous_{}", call.call_id),
            "Phone anonymous".to_string(),
        );
    }
    if rule.hide_phone_number {
        (
            hidden_identity(call.caller),
            format!("Phone {}", masked_tail(caller_norm)),
        )
    } else {
        (format!("sip_{caller_norm}"), format!("Phone {caller_norm}"))
    }
}

/// The caller part used in Individual room names.
fn caller_part<'a>(rule: &Rule, call: &Call<'_>, caller_norm: &'a str) -> &'a str {
    if is_anonymous(call.caller) {
        "anonymous"
    } else if rule.hide_phone_number {
        masked_tail(caller_norm)
    } else {
        caller_norm
    }
}

/// The room a caller of this rule joins (SPEC §5).
pub fn room_name(rule: &Rule, call: &Call<'_>, caller_norm: &str, called_norm: &str) -> String {
    let join = |parts: &[&str]| -> String {
        parts
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("_")
    };
    match &rule.kind {
        Some(RuleKind::Direct { room_name, .. }) => room_name.clone(),
        Some(RuleKind::Individual {
            room_prefix,
            no_randomness,
            ..
        }) => {
            let caller = caller_part(rule, call, caller_norm);
            if *no_randomness {
                join(&[room_prefix, caller])
            } else {
                join(&[room_prefix, caller, call.room_suffix])
            }
        }
        Some(RuleKind::Callee {
            room_prefix,
            randomize,
            ..
        }) => {
            if *randomize {
                join(&[room_prefix, called_norm, call.room_suffix])
            } else {
                join(&[room_prefix, called_norm])
            }
        }
        None => String::new(),
    }
}

/// The caller participant's attributes, in increasing precedence: the rule's attributes,
/// headers copied by `include_headers` (`sip.h.<name>`), headers mapped by
/// `headers_to_attributes`, and finally switchboard's own `sip.*` attributes, which
/// neither a rule nor a carrier header can override.
pub fn attributes(trunk: Option<&Trunk>, rule: &Rule, call: &Call<'_>) -> BTreeMap<String, String> {
    let mut a = rule.attributes.clone();
    if let Some(t) = trunk {
        if t.include_headers != IncludeHeaders::None {
            for (name, value) in call.headers {
                let lower = name.to_ascii_lowercase();
                let wanted = t.include_headers == IncludeHeaders::All || lower.starts_with("x-");
                if wanted {
                    a.entry(format!("sip.h.{lower}"))
                        .or_insert_with(|| value.clone());
                }
            }
        }
        for (header, attr) in &t.headers_to_attributes {
            if let Some((_, v)) = call
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(header))
            {
                a.insert(attr.clone(), v.clone());
            }
        }
    }
    a.insert("sip.callID".into(), call.call_id.to_string());
    a.insert("sip.callIDFull".into(), call.sip_call_id.to_string());
    a.insert(
        "sip.trunkID".into(),
        trunk.map(|t| t.id.clone()).unwrap_or_default(),
    );
    a.insert("sip.ruleID".into(), rule.id.clone());
    a.insert("sip.callStatus".into(), "ringing".into());
    if !rule.hide_phone_number {
        a.insert("sip.phoneNumber".into(), call.caller.to_string());
        a.insert("sip.hostname".into(), call.from_host.to_string());
        a.insert("sip.trunkPhoneNumber".into(), call.called.to_string());
    } else {
        for k in ["sip.phoneNumber", "sip.hostname", "sip.trunkPhoneNumber"] {
            a.remove(k);
        }
    }
    a
}

/// The identity to use when `base` may already be in the room: `base`, then `base_2`,
/// `base_3`, … (SPEC §5).
pub fn unique_identity(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2u32..)
        .map(|n| format!("{base}_{n}"))
        .find(|c| !taken(c))
        .unwrap_or_else(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn rule(kind: RuleKind) -> Rule {
        Rule {
            id: "SDR_rule".into(),
            kind: Some(kind),
            ..Default::default()
        }
    }

    fn call<'a>(caller: &'a str, called: &'a str) -> Call<'a> {
        Call {
            call_id: "SCL_abcdefghijkm",
            room_suffix: "RANDOM123456",
            ..Call::new(caller, called, Timestamp::UNIX_EPOCH)
        }
    }

    fn norm(s: &str) -> String {
        crate::number::normalize(s).into_owned()
    }

    #[test]
    fn room_names_table() {
        let ind = |p: &str, nr: bool| {
            rule(RuleKind::Individual {
                room_prefix: p.into(),
                pin: String::new(),
                no_randomness: nr,
            })
        };
        let cal = |p: &str, r: bool| {
            rule(RuleKind::Callee {
                room_prefix: p.into(),
                pin: String::new(),
                randomize: r,
            })
        };
        let direct = rule(RuleKind::Direct {
            room_name: "open-room".into(),
            pin: String::new(),
        });
        let c = call("1 555 123 4567", "15550100");
        let (cn, dn) = (norm(c.caller), norm(c.called));
        let cases = [
            (direct, "open-room"),
            (ind("call-", false), "call-_+15551234567_RANDOM123456"),
            (ind("", false), "+15551234567_RANDOM123456"),
            (ind("call", true), "call_+15551234567"),
            (ind("", true), "+15551234567"),
            (cal("number-", false), "number-_+15550100"),
            (cal("", false), "+15550100"),
            (cal("n", true), "n_+15550100_RANDOM123456"),
            (cal("", true), "+15550100_RANDOM123456"),
        ];
        for (r, want) in cases {
            assert_eq!(room_name(&r, &c, &cn, &dn), want, "{:?}", r.kind);
        }
        let mut hidden = ind("p", true);
        hidden.hide_phone_number = true;
        assert_eq!(room_name(&hidden, &c, &cn, &dn), "p_4567");
        let anon = call("Anonymous", "+1");
        assert_eq!(
            room_name(&ind("p", true), &anon, "Anonymous", "+1"),
            "p_anonymous"
        );
    }

    #[test]
    fn identities_and_names() {
        let r = rule(RuleKind::Direct {
            room_name: "r".into(),
            pin: String::new(),
        });
        let c = call("+1 555 123 4567", "+1");
        assert_eq!(
            caller_participant(&r, &c, &norm(c.caller)),
            ("sip_+15551234567".into(), "Phone +15551234567".into())
        );
        let mut h = r.clone();
        h.hide_phone_number = true;
        let c = call("+11112222", "+1");
        assert_eq!(
            caller_participant(&h, &c, &norm(c.caller)),
            ("sip_c15a31c71649a522".into(), "Phone 2222".into()),
            "LiveKit's hashing vector"
        );
        let c = call("1234", "+1");
        assert_eq!(caller_participant(&h, &c, &norm(c.caller)).1, "Phone 4");
        for anon in [
            "",
            "anonymous",
            "RESTRICTED",
            "Private",
            "unavailable",
            "Unknown",
        ] {
            let c = call(anon, "+1");
            assert_eq!(
                caller_participant(&h, &c, anon),
                (
                    "sip_anonymous_SCL_abcdefghijkm".into(),
                    "Phone anonymous".into()
                ),
                "{anon:?}"
            );
        }
        assert_eq!(masked_tail("ab"), "b");
        assert_eq!(masked_tail("ñandú12345"), "2345");
        assert_eq!(masked_tail(""), "");
    }

    #[test]
    fn attributes_precedence_and_hiding() {
        let trunk = Trunk {
            id: "ST_t".into(),
            include_headers: IncludeHeaders::XHeaders,
            headers_to_attributes: [
                ("X-Customer".to_string(), "customer".to_string()),
                ("X-Evil".to_string(), "sip.phoneNumber".to_string()),
            ]
            .into(),
            ..Default::default()
        };
        let mut r = rule(RuleKind::Direct {
            room_name: "r".into(),
            pin: String::new(),
        });
        r.attributes = [
            ("team".to_string(), "support".to_string()),
            ("sip.callID".to_string(), "spoof".to_string()),
        ]
        .into();
        let headers = vec![
            ("x-customer".to_string(), "42".to_string()),
            ("X-Evil".to_string(), "+666".to_string()),
            ("User-Agent".to_string(), "carrier".to_string()),
        ];
        let mut c = call("+15550001", "+15550100");
        c.from_host = "sip.carrier.net";
        c.sip_call_id = "abc@host";
        c.headers = &headers;
        let a = attributes(Some(&trunk), &r, &c);
        assert_eq!(a["team"], "support");
        assert_eq!(a["customer"], "42");
        assert_eq!(a["sip.h.x-customer"], "42");
        assert!(!a.contains_key("sip.h.user-agent"));
        assert_eq!(a["sip.callID"], "SCL_abcdefghijkm");
        assert_eq!(a["sip.callIDFull"], "abc@host");
        assert_eq!(a["sip.trunkID"], "ST_t");
        assert_eq!(a["sip.ruleID"], "SDR_rule");
        assert_eq!(a["sip.callStatus"], "ringing");
        assert_eq!(
            a["sip.phoneNumber"], "+15550001",
            "headers cannot spoof sip.*"
        );
        assert_eq!(a["sip.hostname"], "sip.carrier.net");
        assert_eq!(a["sip.trunkPhoneNumber"], "+15550100");
        r.hide_phone_number = true;
        let a = attributes(Some(&trunk), &r, &c);
        assert!(!a.contains_key("sip.phoneNumber"));
        assert!(!a.contains_key("sip.hostname"));
        assert!(!a.contains_key("sip.trunkPhoneNumber"));
    }

    #[test]
    fn identity_collisions_get_suffixes() {
        let taken = ["sip_+1", "sip_+1_2"];
        assert_eq!(
            unique_identity("sip_+1", |c| taken.contains(&c)),
            "sip_+1_3"
        );
        assert_eq!(unique_identity("sip_+2", |c| taken.contains(&c)), "sip_+2");
    }
}
