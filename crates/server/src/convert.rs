//! Conversions between LiveKit's protobuf messages (what the API stores and returns) and
//! the routing model of `switchboard-dispatch` (what the snapshot is built from).
//!
//! The protobuf message is the stored form, so every field a client sends round-trips even
//! when routing ignores it; the model is derived from it on every snapshot build.

use std::collections::BTreeMap;
use std::time::Duration;

use livekit_protocol as lk;
use switchboard_dispatch as d;

fn duration(p: &Option<pbjson_types::Duration>) -> Option<Duration> {
    p.as_ref().and_then(|d| {
        if d.seconds < 0 || d.nanos < 0 {
            None
        } else {
            Some(Duration::new(d.seconds as u64, d.nanos as u32))
        }
    })
}

fn sorted(m: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn media(m: &Option<lk::SipMediaConfig>) -> Option<d::MediaConfig> {
    m.as_ref().map(|m| d::MediaConfig {
        only_listed_codecs: m.only_listed_codecs,
        codecs: m
            .codecs
            .iter()
            .map(|c| d::Codec {
                name: c.name.clone(),
                rate: c.rate,
            })
            .collect(),
        encryption: m.encryption,
        media_timeout: duration(&m.media_timeout),
    })
}

/// Unix milliseconds of an optional protobuf timestamp (0 when unset).
pub fn millis_of(t: &Option<pbjson_types::Timestamp>) -> i64 {
    t.as_ref()
        .map(|t| t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000))
        .unwrap_or(0)
}

/// A protobuf timestamp for Unix milliseconds.
pub fn timestamp(ms: i64) -> pbjson_types::Timestamp {
    pbjson_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// The metadata key that selects `407` + `Proxy-Authenticate` for a trunk's digest
/// challenge (LiveKit's trunk has no field for it): `{"switchboard.auth_challenge": "proxy"}`.
pub const AUTH_CHALLENGE_KEY: &str = "switchboard.auth_challenge";

/// Whether the trunk's metadata asks for proxy challenges.
fn proxy_challenge(metadata: &str) -> bool {
    if !metadata.contains(AUTH_CHALLENGE_KEY) {
        return false;
    }
    serde_json::from_str::<serde_json::Value>(metadata)
        .ok()
        .and_then(|v| v.get(AUTH_CHALLENGE_KEY).cloned())
        .is_some_and(|v| v == "proxy" || v == "407" || v == 407)
}

/// The routing view of a stored inbound trunk.
pub fn trunk(t: &lk::SipInboundTrunkInfo) -> d::Trunk {
    d::Trunk {
        id: t.sip_trunk_id.clone(),
        name: t.name.clone(),
        metadata: t.metadata.clone(),
        numbers: t.numbers.clone(),
        allowed_addresses: t.allowed_addresses.clone(),
        allowed_numbers: t.allowed_numbers.clone(),
        auth_username: t.auth_username.clone(),
        auth_password: t.auth_password.clone(),
        auth_realm: t.auth_realm.clone(),
        auth_use_proxy_challenge: proxy_challenge(&t.metadata),
        headers: sorted(&t.headers),
        headers_to_attributes: sorted(&t.headers_to_attributes),
        attributes_to_headers: sorted(&t.attributes_to_headers),
        include_headers: match t.include_headers {
            1 => d::IncludeHeaders::XHeaders,
            2 => d::IncludeHeaders::All,
            _ => d::IncludeHeaders::None,
        },
        ringing_timeout: duration(&t.ringing_timeout),
        max_call_duration: duration(&t.max_call_duration),
        media: media(&t.media),
        krisp_enabled: t.krisp_enabled,
        created_at_ms: millis_of(&t.created_at),
        updated_at_ms: millis_of(&t.updated_at),
    }
}

/// The routing kind of a protobuf `SIPDispatchRule`.
pub fn rule_kind(r: &Option<lk::SipDispatchRule>) -> Option<d::RuleKind> {
    use lk::sip_dispatch_rule::Rule as K;
    match r.as_ref()?.rule.as_ref()? {
        K::DispatchRuleDirect(x) => Some(d::RuleKind::Direct {
            room_name: x.room_name.clone(),
            pin: x.pin.clone(),
        }),
        K::DispatchRuleIndividual(x) => Some(d::RuleKind::Individual {
            room_prefix: x.room_prefix.clone(),
            pin: x.pin.clone(),
            no_randomness: x.no_randomness,
        }),
        K::DispatchRuleCallee(x) => Some(d::RuleKind::Callee {
            room_prefix: x.room_prefix.clone(),
            pin: x.pin.clone(),
            randomize: x.randomize,
        }),
    }
}

/// The routing view of a stored dispatch rule.
pub fn rule(r: &lk::SipDispatchRuleInfo) -> d::Rule {
    d::Rule {
        id: r.sip_dispatch_rule_id.clone(),
        name: r.name.clone(),
        metadata: r.metadata.clone(),
        kind: rule_kind(&r.rule),
        trunk_ids: r.trunk_ids.clone(),
        numbers: r.numbers.clone(),
        inbound_numbers: r.inbound_numbers.clone(),
        hide_phone_number: r.hide_phone_number,
        attributes: sorted(&r.attributes),
        room_preset: r.room_preset.clone(),
        room_config: r.room_config.as_ref().map(|c| d::RoomConfig {
            agents: c
                .agents
                .iter()
                .map(|a| d::AgentDispatch {
                    agent_name: a.agent_name.clone(),
                    metadata: a.metadata.clone(),
                    attributes: sorted(&a.attributes),
                })
                .collect(),
        }),
        media: media(&r.media),
        krisp_enabled: r.krisp_enabled,
        created_at_ms: millis_of(&r.created_at),
        updated_at_ms: millis_of(&r.updated_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_challenge_from_metadata() {
        assert!(proxy_challenge(
            r#"{"switchboard.auth_challenge": "proxy"}"#
        ));
        assert!(proxy_challenge(
            r#"{"switchboard.auth_challenge": 407, "x": 1}"#
        ));
        assert!(!proxy_challenge(r#"{"switchboard.auth_challenge": "www"}"#));
        assert!(!proxy_challenge("switchboard.auth_challenge"));
        assert!(!proxy_challenge(""));
    }

    #[test]
    fn timestamps_round_trip() {
        for ms in [0i64, 1, 999, 1_700_000_000_123, -1] {
            assert_eq!(millis_of(&Some(timestamp(ms))), ms);
        }
    }

    #[test]
    fn rule_kinds() {
        use lk::sip_dispatch_rule::Rule as K;
        let r = lk::SipDispatchRuleInfo {
            rule: Some(lk::SipDispatchRule {
                rule: Some(K::DispatchRuleCallee(lk::SipDispatchRuleCallee {
                    room_prefix: "n-".into(),
                    pin: "12".into(),
                    randomize: true,
                })),
            }),
            ..Default::default()
        };
        assert_eq!(
            rule(&r).kind,
            Some(d::RuleKind::Callee {
                room_prefix: "n-".into(),
                pin: "12".into(),
                randomize: true
            })
        );
        assert_eq!(rule(&lk::SipDispatchRuleInfo::default()).kind, None);
    }
}
