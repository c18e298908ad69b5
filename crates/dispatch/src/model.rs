//! The configuration the router works from: inbound trunks, dispatch rules and route policies.
//!
//! These are plain Rust types of our own, shaped after LiveKit's `SIPInboundTrunkInfo` and
//! `SIPDispatchRuleInfo` so that the server can convert to and from the protobuf messages
//! losslessly for everything routing depends on. Nothing here validates or normalizes: that
//! is the job of [`crate::validate`], and the [`crate::Snapshot`] only ever holds values that
//! passed it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::policy::RoutePolicy;

/// An inbound SIP trunk: which calls are admitted, and how they are authenticated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trunk {
    /// `ST_` + 12 base57 characters, assigned by the server.
    pub id: String,
    pub name: String,
    /// Stored only; never copied to participants (LiveKit's behaviour).
    pub metadata: String,
    /// Called numbers (To user part) this trunk serves; exact numbers or `+1555*` prefix
    /// patterns. Empty = wildcard trunk.
    pub numbers: Vec<String>,
    /// Source filter: IP literals, CIDR prefixes, or From-URI host names. Empty = any source.
    pub allowed_addresses: Vec<String>,
    /// Caller allow-list (From user part), compared normalized. Empty = any caller.
    pub allowed_numbers: Vec<String>,
    pub auth_username: String,
    pub auth_password: String,
    /// Digest realm; empty means `switchboard`.
    pub auth_realm: String,
    /// Challenge with `407 Proxy-Authenticate` instead of `401 WWW-Authenticate`.
    pub auth_use_proxy_challenge: bool,
    /// Extra headers added to the 200 OK.
    pub headers: BTreeMap<String, String>,
    /// INVITE header name → participant attribute name.
    pub headers_to_attributes: BTreeMap<String, String>,
    /// Participant attribute name → header name on 200 OK / BYE.
    pub attributes_to_headers: BTreeMap<String, String>,
    pub include_headers: IncludeHeaders,
    /// How long the caller may ring while waiting for an agent. `None` = 3 minutes.
    pub ringing_timeout: Option<Duration>,
    /// `None` (or more than 24 h) = 24 h.
    pub max_call_duration: Option<Duration>,
    pub media: Option<MediaConfig>,
    pub krisp_enabled: bool,
    /// Unix milliseconds; kept by the store.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl Trunk {
    /// Digest auth is required when both a username and a password are set.
    pub fn requires_auth(&self) -> bool {
        !self.auth_username.is_empty() && !self.auth_password.is_empty()
    }

    /// The realm sent in challenges.
    pub fn realm(&self) -> &str {
        if self.auth_realm.is_empty() {
            crate::DEFAULT_REALM
        } else {
            &self.auth_realm
        }
    }
}

/// Which INVITE headers become `sip.h.<name>` attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncludeHeaders {
    #[default]
    None,
    /// Headers whose lower-cased name starts with `x-`.
    XHeaders,
    All,
}

/// Media settings of a trunk or rule; a rule's settings are merged over its trunk's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MediaConfig {
    pub only_listed_codecs: bool,
    pub codecs: Vec<Codec>,
    /// LiveKit's `SIPMediaEncryption` value, when set.
    pub encryption: Option<i32>,
    pub media_timeout: Option<Duration>,
}

/// A codec named in a [`MediaConfig`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Codec {
    pub name: String,
    pub rate: u32,
}

/// A dispatch rule: which calls it takes and which room and agents they go to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rule {
    /// `SDR_` + 12 base57 characters, assigned by the server.
    pub id: String,
    pub name: String,
    /// Becomes the caller participant's metadata.
    pub metadata: String,
    /// `None` is refused by validation; it exists so that a malformed write can be described.
    pub kind: Option<RuleKind>,
    /// Trunks this rule applies to; empty = every trunk (a wildcard rule).
    pub trunk_ids: Vec<String>,
    /// Called-number filter (exact or `*` prefix patterns); empty = any.
    pub numbers: Vec<String>,
    /// Caller-number filter (exact or `*` prefix patterns); empty = any.
    pub inbound_numbers: Vec<String>,
    pub hide_phone_number: bool,
    /// Inherited by the caller participant (lowest precedence).
    pub attributes: BTreeMap<String, String>,
    pub room_preset: String,
    pub room_config: Option<RoomConfig>,
    pub media: Option<MediaConfig>,
    pub krisp_enabled: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl Rule {
    /// The PIN of the rule, empty for an open rule.
    pub fn pin(&self) -> &str {
        match &self.kind {
            Some(RuleKind::Direct { pin, .. })
            | Some(RuleKind::Individual { pin, .. })
            | Some(RuleKind::Callee { pin, .. }) => pin,
            None => "",
        }
    }

    /// The room name (Direct) or room prefix (Individual, Callee): LiveKit's tie-breaker.
    pub fn room_key(&self) -> &str {
        match &self.kind {
            Some(RuleKind::Direct { room_name, .. }) => room_name,
            Some(RuleKind::Individual { room_prefix, .. })
            | Some(RuleKind::Callee { room_prefix, .. }) => room_prefix,
            None => "",
        }
    }

    /// Agents named in `room_config.agents` (empty = automatic dispatch).
    pub fn agents(&self) -> &[AgentDispatch] {
        self.room_config
            .as_ref()
            .map(|c| c.agents.as_slice())
            .unwrap_or(&[])
    }
}

/// The three kinds of dispatch rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum RuleKind {
    /// Every caller joins `room_name`.
    Direct {
        room_name: String,
        #[serde(default)]
        pin: String,
    },
    /// A room per caller: `<prefix>_<caller>_<random>` (`no_randomness` drops the suffix).
    Individual {
        #[serde(default)]
        room_prefix: String,
        #[serde(default)]
        pin: String,
        #[serde(default)]
        no_randomness: bool,
    },
    /// A room per called number: `<prefix>_<called>` (`randomize` adds a suffix).
    Callee {
        #[serde(default)]
        room_prefix: String,
        #[serde(default)]
        pin: String,
        #[serde(default)]
        randomize: bool,
    },
}

impl RuleKind {
    /// The kind term of the priority: Direct 0, Individual 1, Callee 2.
    pub fn rank(&self) -> u32 {
        match self {
            RuleKind::Direct { .. } => 0,
            RuleKind::Individual { .. } => 1,
            RuleKind::Callee { .. } => 2,
        }
    }

    /// Short lower-case name, as used in traces and the CLI.
    pub fn label(&self) -> &'static str {
        match self {
            RuleKind::Direct { .. } => "direct",
            RuleKind::Individual { .. } => "individual",
            RuleKind::Callee { .. } => "callee",
        }
    }
}

/// The part of LiveKit's `RoomConfiguration` that routing uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomConfig {
    pub agents: Vec<AgentDispatch>,
}

/// One agent to dispatch into the room, with its job metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentDispatch {
    pub agent_name: String,
    /// Given to the agent's job verbatim (SIPHON puts `{"agent_config": …}` here).
    pub metadata: String,
    pub attributes: BTreeMap<String, String>,
}

/// Everything the router needs: the input of [`crate::Snapshot::build`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub trunks: Vec<Trunk>,
    pub rules: Vec<Rule>,
    pub policies: Vec<RoutePolicy>,
    pub options: RouterOptions,
}

/// Node-wide routing options (from the server's configuration file).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouterOptions {
    /// LiveKit's behaviour: a call that matches no trunk may still reach wildcard rules.
    pub accept_trunkless_calls: bool,
}
