//! The wire messages of the agent protocol (`docs/agent-protocol.md`), as serde types.
//!
//! Every message is one JSON object in a WebSocket text frame, tagged by `type`. There are
//! four directions, one enum each:
//!
//! | enum | connection | direction |
//! |---|---|---|
//! | [`WorkerMessage`] | control (`GET /agent`) | worker → server |
//! | [`ServerMessage`] | control | server → worker |
//! | [`MediaCommand`] | media (`GET /agent/jobs/{id}/media`) | worker → server |
//! | [`MediaServerMessage`] | media | server → worker |
//!
//! Unknown fields are ignored when parsing. Closed sets of strings (reasons, statuses, error
//! codes) are enums with an `Other(String)` fallback, so a newer server's values parse and
//! re-serialize unchanged. Audio is not here: it travels as binary frames of PCM16 LE mono.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Participant or job attributes: string keys to string values.
pub type Attributes = BTreeMap<String, String>;

/// The sample rates a worker may register (`audio.sample_rate`).
pub const SAMPLE_RATES: [u32; 4] = [8000, 16000, 24000, 48000];

/// The allowed range of `max_jobs`.
pub const MAX_JOBS: std::ops::RangeInclusive<u32> = 1..=1000;

/// The largest control message and media frame the server accepts, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

fn is_empty(s: &str) -> bool {
    s.is_empty()
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// The room a job belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Room {
    #[serde(skip_serializing_if = "is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub sid: String,
}

/// A participant of the room (for a job: the caller).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Participant {
    #[serde(skip_serializing_if = "is_empty")]
    pub identity: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub name: String,
    /// `sip` for callers.
    #[serde(skip_serializing_if = "is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub metadata: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// The worker's audio format (`register.audio`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioFormat {
    /// 8000, 16000, 24000 or 48000.
    pub sample_rate: u32,
}

impl Default for AudioFormat {
    fn default() -> Self {
        AudioFormat { sample_rate: 16000 }
    }
}

/// A `ping`/`pong` timestamp: any JSON number, echoed back unchanged.
pub type Timestamp = serde_json::Number;

/// Declares a string enum with known values and an `Other(String)` fallback.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $variant,)*
            /// A value this client does not know (from a newer server).
            #[serde(untagged)]
            Other(String),
        }

        impl $name {
            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $s,)*
                    $name::Other(s) => s,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Why a job ended (`job_ended.reason`).
    JobEndReason {
        CallerHangup => "caller_hangup",
        AgentHangup => "agent_hangup",
        RoomClosed => "room_closed",
        MaxDuration => "max_duration",
        RingingTimeout => "ringing_timeout",
        WorkerLost => "worker_lost",
        MediaClosed => "media_closed",
    }
}

string_enum! {
    /// Why the call hung up (media `hangup.reason`).
    HangupReason {
        CallerHangup => "caller_hangup",
        MaxDuration => "max_duration",
        MediaTimeout => "media_timeout",
        RoomClosed => "room_closed",
    }
}

string_enum! {
    /// The call's state (`call_status.status`).
    CallStatus {
        Ringing => "ringing",
        Active => "active",
        Hangup => "hangup",
    }
}

string_enum! {
    /// How a DTMF digit arrived (`dtmf.source`).
    DtmfSource {
        /// RTP telephone-events.
        Rfc4733 => "rfc4733",
        /// SIP INFO.
        Info => "info",
    }
}

string_enum! {
    /// The `code` of an `error` message.
    ErrorCode {
        /// Not JSON, no `type`, or a field of the wrong type.
        BadMessage => "bad_message",
        /// A `type` the server does not know.
        UnknownType => "unknown_type",
        /// Anything but `register`/`ping` before registering.
        NotRegistered => "not_registered",
        /// A bad `agent_name`, `max_jobs` or `sample_rate`.
        InvalidRegister => "invalid_register",
        /// `accept`/`decline` for a job not offered to this worker, or after its deadline.
        NotYourJob => "not_your_job",
        /// A message over the size limit.
        TooLarge => "too_large",
    }
}

/// An `error` message (on either connection, server → worker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub code: ErrorCode,
    #[serde(default)]
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Control connection

/// `register`: the first message of a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    /// Empty registers for automatic dispatch (rules without agents).
    #[serde(default, skip_serializing_if = "is_empty")]
    pub agent_name: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub version: String,
    #[serde(default = "one")]
    pub max_jobs: u32,
    #[serde(default)]
    pub audio: AudioFormat,
}

fn one() -> u32 {
    1
}

/// `registered`: the server's answer to `register`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// `AW_…`.
    pub worker_id: String,
    #[serde(default = "default_ping_interval")]
    pub ping_interval_ms: u64,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub server_version: String,
}

fn default_ping_interval() -> u64 {
    10_000
}

/// `offer`: a job for this worker; answer with `accept` or `decline` within `deadline_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// `AJ_…`.
    pub job_id: String,
    #[serde(default)]
    pub agent_name: String,
    #[serde(default)]
    pub room: Room,
    /// The caller.
    #[serde(default)]
    pub participant: Participant,
    /// The dispatch entry's `metadata`, verbatim.
    #[serde(default)]
    pub metadata: String,
    /// The dispatch entry's `attributes`.
    #[serde(default)]
    pub attributes: Attributes,
    #[serde(default = "default_deadline")]
    pub deadline_ms: u64,
}

fn default_deadline() -> u64 {
    10_000
}

/// `assignment`: the answer to `accept`; open the media channel with it within 30 s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub job_id: String,
    /// `ws://…/agent/jobs/<job_id>/media`.
    pub media_url: String,
    /// Single-use bearer token for the media channel.
    pub media_token: String,
}

/// Control messages from the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerMessage {
    Register(Register),
    Ping {
        ts: Timestamp,
    },
    Pong {
        ts: Timestamp,
    },
    /// Between 0 (idle) and 1 (full).
    Load {
        load: f64,
    },
    Accept {
        job_id: String,
    },
    Decline {
        job_id: String,
        #[serde(default, skip_serializing_if = "is_empty")]
        reason: String,
    },
}

/// Control messages from the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Registered(Registered),
    Ping {
        ts: Timestamp,
    },
    Pong {
        ts: Timestamp,
    },
    Offer(Offer),
    Assignment(Assignment),
    JobEnded {
        job_id: String,
        reason: JobEndReason,
    },
    Error(ErrorMessage),
}

// ---------------------------------------------------------------------------------------------
// Media channel

/// `start`: the first event of a media channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Start {
    pub job_id: String,
    /// The rate of the PCM both ways (the worker's registered rate).
    pub sample_rate: u32,
    /// The call's `SCL_…` id.
    pub call_id: String,
    pub room: Room,
    /// The caller.
    pub participant: Participant,
    pub metadata: String,
    pub attributes: Attributes,
}

/// Events on the media channel (text frames, server → worker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaServerMessage {
    Start(Start),
    ParticipantJoined {
        participant: Participant,
    },
    ParticipantLeft {
        identity: String,
    },
    CallStatus {
        status: CallStatus,
    },
    Dtmf {
        digit: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<DtmfSource>,
        /// The room identity of the caller who pressed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<String>,
    },
    /// The agent audio queued before the `mark` command of this name has been played.
    Mark {
        name: String,
    },
    Hangup {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<HangupReason>,
    },
    Error(ErrorMessage),
}

/// Commands on the media channel (text frames, worker → server).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaCommand {
    /// The agent can talk: the first ready agent answers the call.
    Ready,
    /// A marker in the outgoing audio queue, reported back when played.
    Mark { name: String },
    /// Drop the queued agent audio (barge-in).
    Clear,
    /// Play digits to the caller as RFC 4733 events.
    SendDtmf { digits: String },
    /// End the call.
    Hangup,
    /// Set attributes on the agent's participant.
    SetAttributes { attributes: Attributes },
}

// ---------------------------------------------------------------------------------------------
// Audio helpers

/// Encodes samples as PCM16 little-endian bytes (a binary media frame).
pub fn encode_pcm16(samples: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Decodes a binary media frame (PCM16 little-endian); a trailing odd byte is ignored.
pub fn decode_pcm16(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    /// Parses `v` as `T`, re-serializes it and checks nothing changed.
    fn round_trip<T: Serialize + DeserializeOwned + std::fmt::Debug>(v: &Value) -> T {
        let parsed: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| {
            panic!("{v} does not parse as {}: {e}", std::any::type_name::<T>())
        });
        let back = serde_json::to_value(&parsed).unwrap();
        assert_eq!(
            strip_empty(&back),
            strip_empty(v),
            "{v} re-serialized differently: {back}"
        );
        parsed
    }

    /// Leaves out empty strings and empty objects in nested objects: the serializer omits
    /// empty optional fields, which the parser reads back as empty.
    fn strip_empty(v: &Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.iter()
                    .filter(|(_, x)| !matches!(x, Value::String(s) if s.is_empty()))
                    .map(|(k, x)| (k.clone(), strip_empty(x)))
                    .filter(|(_, x)| !matches!(x, Value::Object(o) if o.is_empty()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    #[test]
    fn control_messages_round_trip() {
        let m: WorkerMessage =
            round_trip(&json!({"type": "register", "agent_name": "support-agent",
            "version": "1.4.2", "max_jobs": 4, "audio": {"sample_rate": 16000}}));
        assert_eq!(
            m,
            WorkerMessage::Register(Register {
                agent_name: "support-agent".into(),
                version: "1.4.2".into(),
                max_jobs: 4,
                audio: AudioFormat { sample_rate: 16000 },
            })
        );
        let m: ServerMessage = round_trip(&json!({"type": "registered", "worker_id": "AW_1",
            "ping_interval_ms": 10000, "server_version": "0.1.0"}));
        assert!(
            matches!(m, ServerMessage::Registered(r) if r.worker_id == "AW_1" && r.ping_interval_ms == 10000)
        );
        let m: WorkerMessage = round_trip(&json!({"type": "ping", "ts": 1712345678901u64}));
        assert_eq!(
            m,
            WorkerMessage::Ping {
                ts: 1712345678901u64.into()
            }
        );
        let m: ServerMessage = round_trip(&json!({"type": "pong", "ts": 12.5}));
        assert!(matches!(m, ServerMessage::Pong { ts } if ts.as_f64() == Some(12.5)));
        round_trip::<ServerMessage>(&json!({"type": "ping", "ts": -3}));
        round_trip::<WorkerMessage>(&json!({"type": "pong", "ts": 7}));
        let m: WorkerMessage = round_trip(&json!({"type": "load", "load": 0.5}));
        assert_eq!(m, WorkerMessage::Load { load: 0.5 });
        let m: ServerMessage = round_trip(&json!({"type": "offer", "job_id": "AJ_1",
            "agent_name": "support-agent",
            "room": {"name": "call-_+15551234567_abc", "sid": "RM_1"},
            "participant": {"identity": "sip_+15551234567", "name": "Phone +15551234567",
                            "kind": "sip", "metadata": "m", "attributes": {"sip.callID": "SCL_1"}},
            "metadata": "{\"agent_config\": {\"voice\": \"x\"}}",
            "attributes": {"tier": "gold"},
            "deadline_ms": 10000}));
        let ServerMessage::Offer(o) = m else {
            panic!("not an offer")
        };
        assert_eq!(o.participant.attributes["sip.callID"], "SCL_1");
        assert_eq!(o.metadata, r#"{"agent_config": {"voice": "x"}}"#);
        round_trip::<WorkerMessage>(&json!({"type": "accept", "job_id": "AJ_1"}));
        let m: WorkerMessage =
            round_trip(&json!({"type": "decline", "job_id": "AJ_1", "reason": "busy"}));
        assert_eq!(
            m,
            WorkerMessage::Decline {
                job_id: "AJ_1".into(),
                reason: "busy".into()
            }
        );
        round_trip::<ServerMessage>(&json!({"type": "assignment", "job_id": "AJ_1",
            "media_url": "ws://127.0.0.1:7880/agent/jobs/AJ_1/media", "media_token": "t"}));
        let m: ServerMessage =
            round_trip(&json!({"type": "job_ended", "job_id": "AJ_1", "reason": "worker_lost"}));
        assert!(matches!(
            m,
            ServerMessage::JobEnded {
                reason: JobEndReason::WorkerLost,
                ..
            }
        ));
        let m: ServerMessage =
            round_trip(&json!({"type": "error", "code": "not_your_job", "message": "too late"}));
        assert!(matches!(m, ServerMessage::Error(e) if e.code == ErrorCode::NotYourJob));
    }

    #[test]
    fn media_messages_round_trip() {
        let m: MediaServerMessage = round_trip(&json!({"type": "start", "job_id": "AJ_1",
            "sample_rate": 16000, "call_id": "SCL_1", "room": {"name": "r", "sid": "RM_1"},
            "participant": {"identity": "sip_1", "kind": "sip"}, "metadata": "m",
            "attributes": {"a": "b"}}));
        assert!(
            matches!(m, MediaServerMessage::Start(s) if s.sample_rate == 16000 && s.call_id == "SCL_1")
        );
        let m: MediaServerMessage = round_trip(&json!({"type": "participant_joined",
            "participant": {"identity": "sip_2", "name": "n", "kind": "sip", "metadata": "",
                            "attributes": {}}}));
        assert!(
            matches!(m, MediaServerMessage::ParticipantJoined { participant } if participant.identity == "sip_2")
        );
        round_trip::<MediaServerMessage>(&json!({"type": "participant_left", "identity": "sip_2"}));
        let m: MediaServerMessage = round_trip(&json!({"type": "call_status", "status": "active"}));
        assert_eq!(
            m,
            MediaServerMessage::CallStatus {
                status: CallStatus::Active
            }
        );
        let m: MediaServerMessage = round_trip(
            &json!({"type": "dtmf", "digit": "5", "source": "rfc4733", "participant": "sip_1"}),
        );
        assert_eq!(
            m,
            MediaServerMessage::Dtmf {
                digit: "5".into(),
                source: Some(DtmfSource::Rfc4733),
                participant: Some("sip_1".into()),
            }
        );
        round_trip::<MediaServerMessage>(&json!({"type": "mark", "name": "greeting-done"}));
        let m: MediaServerMessage =
            round_trip(&json!({"type": "hangup", "reason": "caller_hangup"}));
        assert_eq!(
            m,
            MediaServerMessage::Hangup {
                reason: Some(HangupReason::CallerHangup)
            }
        );
        for (v, c) in [
            (json!({"type": "ready"}), MediaCommand::Ready),
            (
                json!({"type": "mark", "name": "greeting-done"}),
                MediaCommand::Mark {
                    name: "greeting-done".into(),
                },
            ),
            (json!({"type": "clear"}), MediaCommand::Clear),
            (
                json!({"type": "send_dtmf", "digits": "123#"}),
                MediaCommand::SendDtmf {
                    digits: "123#".into(),
                },
            ),
            (json!({"type": "hangup"}), MediaCommand::Hangup),
            (
                json!({"type": "set_attributes", "attributes": {"agent.state": "listening"}}),
                MediaCommand::SetAttributes {
                    attributes: [("agent.state".to_string(), "listening".to_string())].into(),
                },
            ),
        ] {
            assert_eq!(round_trip::<MediaCommand>(&v), c);
        }
    }

    #[test]
    fn unknown_fields_are_ignored_and_unknown_values_kept() {
        let m: ServerMessage = serde_json::from_value(json!({"type": "registered",
            "worker_id": "AW_1", "ping_interval_ms": 5000, "future": {"x": 1}}))
        .unwrap();
        assert!(matches!(m, ServerMessage::Registered(r) if r.ping_interval_ms == 5000));
        let m: ServerMessage = round_trip(
            &json!({"type": "job_ended", "job_id": "AJ_1", "reason": "some_new_reason"}),
        );
        assert!(
            matches!(m, ServerMessage::JobEnded { reason: JobEndReason::Other(r), .. } if r == "some_new_reason")
        );
        let m: MediaServerMessage =
            serde_json::from_str(r##"{"type":"dtmf","digit":"#","extra":true}"##).unwrap();
        assert_eq!(
            m,
            MediaServerMessage::Dtmf {
                digit: "#".into(),
                source: None,
                participant: None,
            }
        );
        assert!(serde_json::from_str::<ServerMessage>(r#"{"type":"nope"}"#).is_err());
    }

    #[test]
    fn pcm16_is_little_endian() {
        let b = encode_pcm16(&[1, -2, 0x1234]);
        assert_eq!(b, [1, 0, 0xfe, 0xff, 0x34, 0x12]);
        assert_eq!(decode_pcm16(&b), [1, -2, 0x1234]);
        assert_eq!(decode_pcm16(&[1, 0, 9]), [1]);
    }

    // -----------------------------------------------------------------------------------------
    // The examples in docs/agent-protocol.md

    /// Every JSON object in the doc's ```json blocks and in inline code spans starting with
    /// `{"type"`, with the doc's placeholders made concrete: `{…}` → `{}`, `<any number>` → a
    /// number, and `"a" | "b"` alternatives expanded into one message each.
    fn doc_examples() -> Vec<(String, Value)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/agent-protocol.md");
        let doc = std::fs::read_to_string(path).expect("read docs/agent-protocol.md");
        let mut sources = Vec::new();
        let mut in_json = false;
        let mut block = String::new();
        for line in doc.lines() {
            if in_json {
                if line.trim_start().starts_with("```") {
                    in_json = false;
                    sources.push(std::mem::take(&mut block));
                } else {
                    block.push_str(line);
                    block.push('\n');
                }
            } else if line.trim_start().starts_with("```json") {
                in_json = true;
            }
        }
        // Inline spans may wrap lines: join the text outside code blocks into one string.
        let mut prose = String::new();
        let mut in_block = false;
        for line in doc.lines() {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
                continue;
            }
            if !in_block {
                prose.push_str(line);
                prose.push(' ');
            }
        }
        for span in prose.split('`').skip(1).step_by(2) {
            if span.starts_with("{\"type\"") {
                sources.push(span.to_string());
            }
        }
        let mut out = Vec::new();
        for src in sources {
            for obj in split_objects(&src) {
                let obj = number_placeholders(&obj.replace("{…}", "{}"));
                for text in expand_alternatives(&obj) {
                    let v: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("doc example is not JSON: {text}: {e}"));
                    out.push((text, v));
                }
            }
        }
        out
    }

    /// `"ts": <any number>` → `"ts": 12345` (unquoted `<…>` placeholders stand for numbers).
    fn number_placeholders(s: &str) -> String {
        let mut out = s.to_string();
        while let Some(i) = out.find(": <") {
            let end = i + out[i..].find('>').unwrap();
            out.replace_range(i..=end, ": 12345");
        }
        out
    }

    /// Splits text into its top-level `{…}` objects (braces inside strings are skipped).
    fn split_objects(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let (mut depth, mut start, mut in_str, mut esc) = (0, 0, false, false);
        for (i, c) in s.char_indices() {
            if in_str {
                match (esc, c) {
                    (true, _) => esc = false,
                    (false, '\\') => esc = true,
                    (false, '"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_str = true,
                '{' => {
                    if depth == 0 {
                        start = i;
                    }
                    depth += 1;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(s[start..=i].to_string());
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// `"a" | "b" | "c"` → three copies, one with each string.
    fn expand_alternatives(s: &str) -> Vec<String> {
        let Some(bar) = s.find("\" | \"") else {
            return vec![s.to_string()];
        };
        let first_start = s[..bar].rfind('"').unwrap();
        let mut end = bar + 1;
        let mut alts = vec![s[first_start..=bar].to_string()];
        while s[end..].starts_with(" | \"") {
            let open = end + 3;
            let close = open + 1 + s[open + 1..].find('"').unwrap();
            alts.push(s[open..=close].to_string());
            end = close + 1;
        }
        alts.into_iter()
            .flat_map(|a| expand_alternatives(&format!("{}{}{}", &s[..first_start], a, &s[end..])))
            .collect()
    }

    /// Parses as `T` and checks the re-serialization is the same JSON; returns the `type`.
    fn try_round_trip<T: Serialize + DeserializeOwned>(v: &Value) -> Option<String> {
        let parsed: T = serde_json::from_value(v.clone()).ok()?;
        let back = serde_json::to_value(&parsed).unwrap();
        (strip_empty(&back) == strip_empty(v)).then(|| v["type"].as_str().unwrap().to_string())
    }

    #[test]
    fn every_doc_example_parses_and_reserializes() {
        use std::collections::BTreeSet;
        let examples = doc_examples();
        assert!(
            examples.len() > 30,
            "found only {} examples",
            examples.len()
        );
        let mut seen: [BTreeSet<String>; 4] = Default::default();
        for (text, v) in &examples {
            let hits = [
                try_round_trip::<WorkerMessage>(v),
                try_round_trip::<ServerMessage>(v),
                try_round_trip::<MediaCommand>(v),
                try_round_trip::<MediaServerMessage>(v),
            ];
            assert!(
                hits.iter().any(Option::is_some),
                "doc example does not round-trip as any message: {text}"
            );
            for (set, hit) in seen.iter_mut().zip(hits) {
                set.extend(hit);
            }
        }
        // ...and every message type of every direction has an example in the doc.
        let want: [&[&str]; 4] = [
            &["register", "ping", "pong", "load", "accept", "decline"],
            &[
                "registered",
                "ping",
                "pong",
                "offer",
                "assignment",
                "job_ended",
                "error",
            ],
            &[
                "ready",
                "mark",
                "clear",
                "send_dtmf",
                "hangup",
                "set_attributes",
            ],
            &[
                "start",
                "participant_joined",
                "participant_left",
                "call_status",
                "dtmf",
                "mark",
                "hangup",
                "error",
            ],
        ];
        for (i, (set, want)) in seen.iter().zip(want).enumerate() {
            for t in want {
                assert!(set.contains(*t), "direction {i}: no doc example of {t:?}");
            }
        }
    }
}
