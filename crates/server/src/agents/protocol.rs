//! The wire format of the agent protocol (`docs/agent-protocol.md`): JSON text messages with
//! a `type` field, parsed into typed messages or a protocol error (§5) — no I/O here.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::MAX_MESSAGE_BYTES;

/// The sample rates a worker may register (§1.1).
pub const SAMPLE_RATES: [u32; 4] = [8000, 16000, 24000, 48000];
/// The largest `max_jobs` (§1.1).
pub const MAX_JOBS_LIMIT: i64 = 1000;
/// The longest `agent_name`, in bytes.
pub const MAX_AGENT_NAME_BYTES: usize = 128;

/// A participant as the protocol shows it (offer, `start`, `participant_joined`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ParticipantInfo {
    pub identity: String,
    pub name: String,
    /// `sip` for callers.
    pub kind: String,
    pub metadata: String,
    pub attributes: BTreeMap<String, String>,
}

/// An error message (§5), sent as `{"type": "error", "code", "message"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtoError {
    pub code: &'static str,
    pub message: String,
}

impl ProtoError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ProtoError {
        ProtoError {
            code,
            message: message.into(),
        }
    }

    pub fn bad(message: impl Into<String>) -> ProtoError {
        ProtoError::new("bad_message", message)
    }

    /// The JSON text of the error message.
    pub fn to_json(&self) -> String {
        serde_json::json!({"type": "error", "code": self.code, "message": self.message}).to_string()
    }
}

/// `audio` of a register message.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AudioSpec {
    pub sample_rate: Option<i64>,
}

/// `register` as received (validated by [`Register::validate`]).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Register {
    #[serde(default)]
    pub agent_name: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub max_jobs: Option<i64>,
    #[serde(default)]
    pub audio: Option<AudioSpec>,
}

/// A valid registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub agent_name: String,
    pub version: String,
    pub max_jobs: u32,
    pub sample_rate: u32,
}

impl Register {
    pub fn validate(self) -> Result<Registration, ProtoError> {
        let invalid = |m: String| ProtoError::new("invalid_register", m);
        let agent_name = self.agent_name.unwrap_or_default();
        if agent_name.len() > MAX_AGENT_NAME_BYTES || agent_name.chars().any(char::is_control) {
            return Err(invalid(format!(
                "agent_name must be at most {MAX_AGENT_NAME_BYTES} bytes without control characters (empty registers for automatic dispatch)"
            )));
        }
        let max_jobs = self.max_jobs.unwrap_or(1);
        if !(1..=MAX_JOBS_LIMIT).contains(&max_jobs) {
            return Err(invalid(format!(
                "max_jobs={max_jobs} is out of range; use 1 to {MAX_JOBS_LIMIT}"
            )));
        }
        let sample_rate = self.audio.and_then(|a| a.sample_rate).unwrap_or(16000);
        let Some(sample_rate) = SAMPLE_RATES
            .iter()
            .copied()
            .find(|r| i64::from(*r) == sample_rate)
        else {
            return Err(invalid(format!(
                "audio.sample_rate={sample_rate} is not supported; use 8000, 16000, 24000 or 48000"
            )));
        };
        let mut version = self.version.unwrap_or_default();
        if version.len() > MAX_AGENT_NAME_BYTES {
            version.truncate(
                (0..=MAX_AGENT_NAME_BYTES)
                    .rev()
                    .find(|i| version.is_char_boundary(*i))
                    .unwrap_or(0),
            );
        }
        Ok(Registration {
            agent_name,
            version,
            max_jobs: max_jobs as u32,
            sample_rate,
        })
    }
}

#[derive(Deserialize)]
struct Ts {
    #[serde(default)]
    ts: Value,
}

#[derive(Deserialize)]
struct LoadMsg {
    load: f64,
}

#[derive(Deserialize)]
struct JobRef {
    job_id: String,
}

#[derive(Deserialize)]
struct DeclineMsg {
    job_id: String,
    #[serde(default)]
    reason: Option<String>,
}

/// A message of the control connection (worker → server).
#[derive(Clone, Debug)]
pub enum FromWorker {
    Register(Register),
    Ping(Value),
    Pong,
    Load(f64),
    Accept(String),
    Decline { job_id: String, reason: String },
}

/// A command of the media channel (worker → server, §2.2).
#[derive(Clone, Debug, PartialEq)]
pub enum MediaCommand {
    Ready,
    Mark(String),
    Clear,
    SendDtmf(String),
    Hangup,
    SetAttributes(BTreeMap<String, String>),
    Ping(Value),
    Pong,
}

#[derive(Deserialize)]
struct NameMsg {
    name: String,
}

#[derive(Deserialize)]
struct DigitsMsg {
    digits: String,
}

#[derive(Deserialize)]
struct AttributesMsg {
    attributes: BTreeMap<String, String>,
}

/// The most DTMF digits one `send_dtmf` may carry.
pub const MAX_DTMF_DIGITS: usize = 64;

/// Splits a text message into its object and `type`.
fn envelope(text: &str) -> Result<(String, Map<String, Value>), ProtoError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ProtoError::new(
            "too_large",
            format!(
                "the message has {} bytes; the limit is {MAX_MESSAGE_BYTES}",
                text.len()
            ),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ProtoError::bad(format!("the message is not JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ProtoError::bad(
            "the message must be a JSON object with a \"type\" field",
        ));
    };
    let Some(Value::String(ty)) = map.get("type") else {
        return Err(ProtoError::bad("the message has no \"type\" string field"));
    };
    Ok((ty.clone(), map))
}

fn fields<T: DeserializeOwned>(ty: &str, map: Map<String, Value>) -> Result<T, ProtoError> {
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ProtoError::bad(format!("bad {ty:?} message: {e}")))
}

/// Parses a control-connection text message.
pub fn parse_control(text: &str) -> Result<FromWorker, ProtoError> {
    let (ty, map) = envelope(text)?;
    Ok(match ty.as_str() {
        "register" => FromWorker::Register(fields(&ty, map)?),
        "ping" => FromWorker::Ping(fields::<Ts>(&ty, map)?.ts),
        "pong" => FromWorker::Pong,
        "load" => {
            let l = fields::<LoadMsg>(&ty, map)?.load;
            if !(0.0..=1.0).contains(&l) {
                return Err(ProtoError::bad(format!(
                    "load={l} is out of range; report 0 (idle) to 1 (full)"
                )));
            }
            FromWorker::Load(l)
        }
        "accept" => FromWorker::Accept(fields::<JobRef>(&ty, map)?.job_id),
        "decline" => {
            let d = fields::<DeclineMsg>(&ty, map)?;
            FromWorker::Decline {
                job_id: d.job_id,
                reason: d.reason.unwrap_or_default(),
            }
        }
        other => {
            return Err(ProtoError::new(
                "unknown_type",
                format!(
                    "unknown message type {other:?} on the control connection; expected register, ping, pong, load, accept or decline"
                ),
            ));
        }
    })
}

/// Parses a media-channel text message.
pub fn parse_media(text: &str) -> Result<MediaCommand, ProtoError> {
    let (ty, map) = envelope(text)?;
    Ok(match ty.as_str() {
        "ready" => MediaCommand::Ready,
        "mark" => MediaCommand::Mark(fields::<NameMsg>(&ty, map)?.name),
        "clear" => MediaCommand::Clear,
        "send_dtmf" => {
            let digits = fields::<DigitsMsg>(&ty, map)?.digits;
            if digits.is_empty()
                || digits.len() > MAX_DTMF_DIGITS
                || !digits
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'))
            {
                return Err(ProtoError::bad(format!(
                    "send_dtmf digits must be 1 to {MAX_DTMF_DIGITS} of 0-9, *, #, A-D"
                )));
            }
            MediaCommand::SendDtmf(digits)
        }
        "hangup" => MediaCommand::Hangup,
        "set_attributes" => {
            MediaCommand::SetAttributes(fields::<AttributesMsg>(&ty, map)?.attributes)
        }
        "ping" => MediaCommand::Ping(fields::<Ts>(&ty, map)?.ts),
        "pong" => MediaCommand::Pong,
        other => {
            return Err(ProtoError::new(
                "unknown_type",
                format!(
                    "unknown command type {other:?} on the media channel; expected ready, mark, clear, send_dtmf, hangup or set_attributes"
                ),
            ));
        }
    })
}

/// `{"type": "pong", "ts": …}`.
pub fn pong(ts: &Value) -> String {
    serde_json::json!({"type": "pong", "ts": ts}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_parse_or_get_the_documented_code() {
        assert!(matches!(
            parse_control(r#"{"type":"accept","job_id":"AJ_1","extra":1}"#),
            Ok(FromWorker::Accept(j)) if j == "AJ_1"
        ));
        let code = |t: &str| parse_control(t).err().map(|e| e.code);
        assert_eq!(code("nope"), Some("bad_message"));
        assert_eq!(code("[1]"), Some("bad_message"));
        assert_eq!(code(r#"{"type":5}"#), Some("bad_message"));
        assert_eq!(code(r#"{"type":"accept"}"#), Some("bad_message"));
        assert_eq!(code(r#"{"type":"load","load":2}"#), Some("bad_message"));
        assert_eq!(code(r#"{"type":"dance"}"#), Some("unknown_type"));
        let big = format!(
            r#"{{"type":"ping","ts":"{}"}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        assert_eq!(code(&big), Some("too_large"));
    }

    #[test]
    fn register_validation() {
        let reg = |t: &str| match parse_control(t) {
            Ok(FromWorker::Register(r)) => r.validate(),
            other => panic!("{other:?}"),
        };
        let ok = reg(r#"{"type":"register"}"#).unwrap();
        assert_eq!(
            (ok.agent_name.as_str(), ok.max_jobs, ok.sample_rate),
            ("", 1, 16000)
        );
        let ok = reg(
            r#"{"type":"register","agent_name":"a","max_jobs":1000,"audio":{"sample_rate":48000}}"#,
        )
        .unwrap();
        assert_eq!((ok.max_jobs, ok.sample_rate), (1000, 48000));
        for bad in [
            r#"{"type":"register","audio":{"sample_rate":11025}}"#,
            r#"{"type":"register","max_jobs":0}"#,
            r#"{"type":"register","max_jobs":1001}"#,
            r#"{"type":"register","agent_name":"a\nb"}"#,
        ] {
            assert_eq!(reg(bad).unwrap_err().code, "invalid_register", "{bad}");
        }
    }

    #[test]
    fn media_commands() {
        assert_eq!(parse_media(r#"{"type":"ready"}"#), Ok(MediaCommand::Ready));
        assert_eq!(
            parse_media(r#"{"type":"send_dtmf","digits":"12#"}"#),
            Ok(MediaCommand::SendDtmf("12#".into()))
        );
        assert_eq!(
            parse_media(r#"{"type":"send_dtmf","digits":"x"}"#)
                .unwrap_err()
                .code,
            "bad_message"
        );
        assert_eq!(
            parse_media(r#"{"type":"accept","job_id":"x"}"#)
                .unwrap_err()
                .code,
            "unknown_type"
        );
    }
}
