//! JSON request files for `sip … create|update FILE`: read from a file (or given inline when
//! the argument starts with `{`), checked for field names the protobuf message does not have
//! (LiveKit's `lk` rejects those too; a typo must not silently drop a setting), then decoded
//! with livekit-protocol's protobuf-JSON mapping (camelCase and snake_case both accepted).
//! Every error names the file and says what is wrong where.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The field names of a protobuf message as its JSON may spell them (snake_case), and for
/// the fields that are messages themselves, their schema.
pub struct Schema {
    pub name: &'static str,
    pub fields: &'static [(&'static str, Option<&'static Schema>)],
}

const RULE_DIRECT: Schema = Schema {
    name: "SIPDispatchRuleDirect",
    fields: &[("room_name", None), ("pin", None)],
};
const RULE_INDIVIDUAL: Schema = Schema {
    name: "SIPDispatchRuleIndividual",
    fields: &[
        ("room_prefix", None),
        ("pin", None),
        ("no_randomness", None),
    ],
};
const RULE_CALLEE: Schema = Schema {
    name: "SIPDispatchRuleCallee",
    fields: &[("room_prefix", None), ("pin", None), ("randomize", None)],
};
const RULE_KIND: Schema = Schema {
    name: "SIPDispatchRule",
    fields: &[
        ("dispatch_rule_direct", Some(&RULE_DIRECT)),
        ("dispatch_rule_individual", Some(&RULE_INDIVIDUAL)),
        ("dispatch_rule_callee", Some(&RULE_CALLEE)),
    ],
};
const AGENT: Schema = Schema {
    name: "RoomAgentDispatch",
    fields: &[
        ("agent_name", None),
        ("metadata", None),
        ("restart_policy", None),
        ("deployment", None),
        ("attributes", None),
    ],
};
const ROOM_CONFIG: Schema = Schema {
    name: "RoomConfiguration",
    fields: &[
        ("name", None),
        ("empty_timeout", None),
        ("departure_timeout", None),
        ("max_participants", None),
        ("metadata", None),
        ("egress", None),
        ("min_playout_delay", None),
        ("max_playout_delay", None),
        ("sync_streams", None),
        ("agents", Some(&AGENT)),
        ("tags", None),
    ],
};
const MEDIA: Schema = Schema {
    name: "SIPMediaConfig",
    fields: &[
        ("only_listed_codecs", None),
        ("codecs", None),
        ("encryption", None),
        ("media_timeout", None),
    ],
};

/// `SIPDispatchRuleInfo`.
pub const RULE_INFO: Schema = Schema {
    name: "SIPDispatchRuleInfo",
    fields: &[
        ("sip_dispatch_rule_id", None),
        ("rule", Some(&RULE_KIND)),
        ("trunk_ids", None),
        ("hide_phone_number", None),
        ("inbound_numbers", None),
        ("numbers", None),
        ("name", None),
        ("metadata", None),
        ("attributes", None),
        ("room_preset", None),
        ("room_config", Some(&ROOM_CONFIG)),
        ("media", Some(&MEDIA)),
        ("krisp_enabled", None),
        ("media_encryption", None),
        ("created_at", None),
        ("updated_at", None),
    ],
};

/// `CreateSIPDispatchRuleRequest`: `dispatch_rule` plus the deprecated flat fields.
pub const CREATE_RULE: Schema = Schema {
    name: "CreateSIPDispatchRuleRequest",
    fields: &[
        ("dispatch_rule", Some(&RULE_INFO)),
        ("rule", Some(&RULE_KIND)),
        ("trunk_ids", None),
        ("hide_phone_number", None),
        ("inbound_numbers", None),
        ("name", None),
        ("metadata", None),
        ("attributes", None),
        ("room_preset", None),
        ("room_config", Some(&ROOM_CONFIG)),
    ],
};

/// `SIPInboundTrunkInfo`.
pub const TRUNK_INFO: Schema = Schema {
    name: "SIPInboundTrunkInfo",
    fields: &[
        ("sip_trunk_id", None),
        ("name", None),
        ("metadata", None),
        ("numbers", None),
        ("allowed_addresses", None),
        ("allowed_numbers", None),
        ("auth_username", None),
        ("auth_password", None),
        ("auth_realm", None),
        ("headers", None),
        ("headers_to_attributes", None),
        ("attributes_to_headers", None),
        ("include_headers", None),
        ("ringing_timeout", None),
        ("ringing_timeout_status", None),
        ("max_call_duration", None),
        ("krisp_enabled", None),
        ("media_encryption", None),
        ("media", Some(&MEDIA)),
        ("created_at", None),
        ("updated_at", None),
    ],
};

/// `CreateSIPInboundTrunkRequest`.
pub const CREATE_TRUNK: Schema = Schema {
    name: "CreateSIPInboundTrunkRequest",
    fields: &[("trunk", Some(&TRUNK_INFO))],
};

/// A JSON document read from a file or given inline.
pub struct JsonInput {
    /// How errors name it: the file path, or "the JSON argument".
    pub label: String,
    pub text: String,
    pub value: Value,
}

impl JsonInput {
    /// Reads `arg`: inline JSON when it starts with `{`, else a file path.
    pub fn read(arg: &str) -> Result<JsonInput, String> {
        let (label, text) = if arg.trim_start().starts_with('{') {
            ("the JSON argument".to_string(), arg.to_string())
        } else {
            let text = std::fs::read_to_string(arg).map_err(|e| {
                format!("cannot read {arg}: {e}; give the path of a JSON file (or the JSON itself, starting with {{)")
            })?;
            (arg.to_string(), text)
        };
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{label} is not valid JSON: {e}"))?;
        if !value.is_object() {
            return Err(format!(
                "{label} must hold a JSON object ({{...}}), not {}",
                kind(&value)
            ));
        }
        Ok(JsonInput { label, text, value })
    }

    /// Whether the top-level object has `field` (snake_case), in either spelling.
    pub fn has(&self, field: &str) -> bool {
        self.value
            .as_object()
            .is_some_and(|m| m.keys().any(|k| snake(k) == field))
    }

    /// The snake_case names of the top-level fields.
    pub fn fields(&self) -> Vec<String> {
        self.value
            .as_object()
            .map(|m| m.keys().map(|k| snake(k)).collect())
            .unwrap_or_default()
    }

    /// Checks the field names against `schema`, then decodes.
    pub fn decode<T: DeserializeOwned>(&self, schema: &Schema) -> Result<T, String> {
        check(&self.value, schema, "").map_err(|e| format!("{}: {e}", self.label))?;
        serde_json::from_str(&self.text)
            .map_err(|e| format!("{} is not a valid {}: {e}", self.label, schema.name))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `roomPrefix` → `room_prefix`; snake_case names stay as they are.
pub fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for ch in name.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn check(v: &Value, schema: &Schema, path: &str) -> Result<(), String> {
    let Some(map) = v.as_object() else {
        return Ok(());
    };
    for (key, value) in map {
        let name = snake(key);
        let at = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let Some((_, sub)) = schema.fields.iter().find(|(f, _)| *f == name) else {
            let known: Vec<&str> = schema.fields.iter().map(|(f, _)| *f).collect();
            return Err(format!(
                "unknown field {at:?}: {} has no such field (it has {})",
                schema.name,
                known.join(", ")
            ));
        };
        if let Some(sub) = sub {
            match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        check(item, sub, &format!("{at}[{i}]"))?;
                    }
                }
                other => check(other, sub, &at)?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_protocol as lk;

    fn input(text: &str) -> JsonInput {
        JsonInput::read(text).unwrap()
    }

    #[test]
    fn camel_and_snake_case_decode() {
        let r: lk::CreateSipDispatchRuleRequest = input(
            r#"{"dispatch_rule": {"rule": {"dispatchRuleIndividual": {"roomPrefix": "call-"}},
               "roomConfig": {"agents": [{"agentName": "a", "metadata": "m"}]}}}"#,
        )
        .decode(&CREATE_RULE)
        .unwrap();
        let info = r.dispatch_rule.unwrap();
        assert_eq!(info.room_config.unwrap().agents[0].agent_name, "a");
    }

    #[test]
    fn typos_are_named_with_their_path() {
        let e = input(r#"{"dispatch_rule": {"rule": {"dispatchRuleIndivdual": {}}}}"#)
            .decode::<lk::CreateSipDispatchRuleRequest>(&CREATE_RULE)
            .unwrap_err();
        assert!(
            e.starts_with(
                "the JSON argument: unknown field \"dispatch_rule.rule.dispatchRuleIndivdual\""
            ),
            "{e}"
        );
        let e = input(r#"{"roomConfig": {"agents": [{"agent": "x"}]}}"#)
            .decode::<lk::SipDispatchRuleInfo>(&RULE_INFO)
            .unwrap_err();
        assert!(e.contains("roomConfig.agents[0].agent"), "{e}");
    }

    #[test]
    fn syntax_and_type_errors_say_where() {
        let e = JsonInput::read("{\"name\": }").err().unwrap();
        assert!(
            e.starts_with("the JSON argument is not valid JSON: "),
            "{e}"
        );
        assert!(e.contains("line 1"), "{e}");
        let e = input(r#"{"name": 5}"#)
            .decode::<lk::SipDispatchRuleInfo>(&RULE_INFO)
            .unwrap_err();
        assert!(e.contains("not a valid SIPDispatchRuleInfo"), "{e}");
        let e = JsonInput::read("/nonexistent/x.json").err().unwrap();
        assert!(e.starts_with("cannot read /nonexistent/x.json"), "{e}");
    }

    #[test]
    fn field_presence() {
        let i = input(r#"{"trunkIds": [], "name": "x"}"#);
        assert!(i.has("trunk_ids"));
        assert!(!i.has("metadata"));
        assert_eq!(snake("sipDispatchRuleId"), "sip_dispatch_rule_id");
    }
}
