//! Call records and the types of their queries.
//!
//! A call record is one row per INVITE dialog (SPEC §8): written when the INVITE arrives,
//! updated as the call progresses, closed with a [`FinalStatus`] when it ends. The server
//! batches writes ([`Store::save_calls`](crate::Store::save_calls)); each write carries the
//! record's `updated_at_ms`, and the store never replaces a stored record with one whose
//! `updated_at_ms` is older, so batches that reach the database out of order are harmless.
//!
//! States and final statuses are stored as stable lowercase names (`"active"`,
//! `"completed"`, ...), never as numbers, so the database stays readable and a new variant
//! does not renumber the old ones.

use std::fmt;
use std::str::FromStr;

use crate::StoreError;

/// Where a call is in its life. Stored as [`CallState::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallState {
    /// The INVITE arrived; matching, auth and capacity checks are running.
    Incoming,
    /// Waiting for an agent to accept.
    Ringing,
    /// Answered, collecting the caller's PIN.
    Pin,
    /// Connected to an agent.
    Active,
    /// Over; the record has a [`FinalStatus`].
    Ended,
}

impl CallState {
    pub const ALL: [CallState; 5] = [
        CallState::Incoming,
        CallState::Ringing,
        CallState::Pin,
        CallState::Active,
        CallState::Ended,
    ];

    /// The stable name stored in the database and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Incoming => "incoming",
            CallState::Ringing => "ringing",
            CallState::Pin => "pin",
            CallState::Active => "active",
            CallState::Ended => "ended",
        }
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CallState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        CallState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "unknown call state {s:?}; expected one of incoming, ringing, pin, active, \
                     ended"
                ))
            })
    }
}

/// How a call ended. Stored as [`FinalStatus::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FinalStatus {
    /// Answered and connected, then hung up by someone.
    Completed,
    /// Refused with a final SIP error (no trunk, no rule, after hours, busy, auth, ...).
    Rejected,
    /// The caller cancelled before the call was answered.
    Cancelled,
    /// Setup or media failed on our side (no agent, no common codec, media timeout, ...).
    Failed,
    /// Cut by a crash or restart of the node handling it; closed by
    /// [`Store::close_interrupted`](crate::Store::close_interrupted).
    Interrupted,
}

impl FinalStatus {
    pub const ALL: [FinalStatus; 5] = [
        FinalStatus::Completed,
        FinalStatus::Rejected,
        FinalStatus::Cancelled,
        FinalStatus::Failed,
        FinalStatus::Interrupted,
    ];

    /// The stable name stored in the database and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            FinalStatus::Completed => "completed",
            FinalStatus::Rejected => "rejected",
            FinalStatus::Cancelled => "cancelled",
            FinalStatus::Failed => "failed",
            FinalStatus::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for FinalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FinalStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        FinalStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "unknown final status {s:?}; expected one of completed, rejected, \
                     cancelled, failed, interrupted"
                ))
            })
    }
}

/// The `status` filter of [`CallFilter`]: either "still live" or one final status.
///
/// `Live` means "has no final status yet" (any [`CallState`] but, normally, `Ended`); the
/// others match [`CallRecord::final_status`] exactly. Parses from and prints as `live`,
/// `completed`, `rejected`, `cancelled`, `failed`, `interrupted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallStatus {
    Live,
    Final(FinalStatus),
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Live => "live",
            CallStatus::Final(status) => status.as_str(),
        }
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CallStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        if s == "live" {
            return Ok(CallStatus::Live);
        }
        s.parse().map(CallStatus::Final).map_err(|_| {
            StoreError::InvalidArgument(format!(
                "unknown call status {s:?}; expected one of live, completed, rejected, \
                 cancelled, failed, interrupted"
            ))
        })
    }
}

/// One call (one INVITE dialog), as stored. Times are Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// The switchboard call id (`SCL_…`); the primary key.
    pub id: String,
    /// The SIP `Call-ID` header.
    pub sip_call_id: String,
    /// The node handling the call (its calls are closed as interrupted when it restarts).
    pub node_id: String,
    pub trunk_id: Option<String>,
    /// The dispatch rule that handles the call.
    pub rule_id: Option<String>,
    /// The rule that matched first, when a route policy sent the call on to `rule_id`
    /// (after hours or over capacity).
    pub routed_from_rule_id: Option<String>,
    pub room_name: Option<String>,
    /// The user part of the From URI, as received.
    pub caller: String,
    /// The user part of the To URI, as received.
    pub called: String,
    pub source_ip: String,
    /// `"udp"` or `"tcp"`.
    pub transport: String,
    pub state: CallState,
    /// `None` while the call is live.
    pub final_status: Option<FinalStatus>,
    /// The final SIP status sent (e.g. 404, 486, or 200 for an answered call).
    pub sip_status: Option<u16>,
    /// A stable code: `no_trunk`, `no_rule`, `after_hours`, `over_capacity`, `auth_failed`,
    /// `invalid_pin`, `no_agent`, `media_timeout`, `caller_bye`, `server_bye`,
    /// `max_duration`, `cancelled`, `overloaded`, `no_common_codec`, `interrupted`, ...
    pub reason: Option<String>,
    /// `"caller"`, `"server"` or `"agent"`.
    pub hangup_by: Option<String>,
    pub pin_attempts: u32,
    pub created_at_ms: i64,
    pub answered_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    /// Orders the writes of one record: a stored record is never replaced by an older one.
    pub updated_at_ms: i64,
}

/// What [`Store::list_calls`](crate::Store::list_calls) returns. All set fields must match.
///
/// **Order.** Without `updated_after_ms`: newest first, by `(created_at_ms, id)` descending.
/// With `updated_after_ms` (for `calls tail`): calls whose `updated_at_ms` is strictly
/// greater, oldest change first, by `(updated_at_ms, id)` ascending.
///
/// **Pages.** At most `limit` calls (unset or 0: 50; capped at 1,000). Pass the returned
/// [`CallPage::next_page_token`] back as `page_token`, with the same filter, for the next
/// page; a token from another filter or a malformed one is refused with
/// [`StoreError::InvalidArgument`]. Paging is by key (the last `(time, id)` seen), so
/// inserts during paging neither repeat nor skip older calls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// The handling rule ([`CallRecord::rule_id`]; not `routed_from_rule_id`).
    pub rule_id: Option<String>,
    pub trunk_id: Option<String>,
    pub status: Option<CallStatus>,
    /// Matches `caller` or `called`, exactly as stored.
    pub number: Option<String>,
    /// `created_at_ms >= since_ms`.
    pub since_ms: Option<i64>,
    /// `created_at_ms < until_ms`.
    pub until_ms: Option<i64>,
    /// `updated_at_ms > updated_after_ms`, and switches to ascending change order.
    pub updated_after_ms: Option<i64>,
    pub limit: Option<u32>,
    pub page_token: Option<String>,
}

/// Page size when [`CallFilter::limit`] is unset (or 0).
pub const DEFAULT_CALL_PAGE: u32 = 50;
/// The largest page [`Store::list_calls`](crate::Store::list_calls) returns.
pub const MAX_CALL_PAGE: u32 = 1000;

/// One page of calls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallPage {
    pub calls: Vec<CallRecord>,
    /// Newest-first order: `Some` when there may be more calls, `None` at the end.
    ///
    /// Change order (`updated_after_ms`): always a resume point when any call was
    /// returned (or a token was given), so a tail can poll with it forever; a page shorter
    /// than the limit means "caught up for now".
    pub next_page_token: Option<String>,
}

/// Per-rule call counts for the dashboard ([`Store::call_counts`](crate::Store::call_counts)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    pub rule_id: String,
    /// Calls without a final status.
    pub live: u64,
    /// Calls with final status `completed`.
    pub completed: u64,
    /// All calls of the rule, live or ended.
    pub total: u64,
}

// ---------------------------------------------------------------------------------------
// Page tokens

/// Which order a page token continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageOrder {
    /// `(created_at_ms, id)` descending.
    Newest,
    /// `(updated_at_ms, id)` ascending.
    Changes,
}

/// A decoded page token: the last `(time, id)` of the previous page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub time_ms: i64,
    pub id: String,
}

impl PageOrder {
    /// The order's letter in a page token.
    fn tag(self) -> u8 {
        match self {
            PageOrder::Newest => b'n',
            PageOrder::Changes => b'c',
        }
    }
}

impl CallFilter {
    pub(crate) fn order(&self) -> PageOrder {
        if self.updated_after_ms.is_some() {
            PageOrder::Changes
        } else {
            PageOrder::Newest
        }
    }

    /// The page size to use.
    pub(crate) fn page_size(&self) -> u32 {
        match self.limit {
            None | Some(0) => DEFAULT_CALL_PAGE,
            Some(n) => n.min(MAX_CALL_PAGE),
        }
    }

    /// A hash of the cursor and of everything in the filter but the paging fields, so that
    /// a token is only accepted whole and with the filter that produced it.
    fn checksum(&self, mode: u8, time_ms: i64, id: &str) -> u64 {
        let mut h = Fnv64::new();
        h.bytes(&[mode]);
        h.opt_i64(Some(time_ms));
        h.opt_str(Some(id));
        for text in [&self.rule_id, &self.trunk_id, &self.number] {
            h.opt_str(text.as_deref());
        }
        h.opt_str(self.status.map(CallStatus::as_str));
        for time in [self.since_ms, self.until_ms, self.updated_after_ms] {
            h.opt_i64(time);
        }
        h.finish()
    }

    /// The token that continues after `last`.
    pub(crate) fn token_after(&self, time_ms: i64, id: &str) -> String {
        let mode = self.order().tag();
        let checksum = self.checksum(mode, time_ms, id);
        let plain = format!("1{}{checksum:016x}{time_ms}.{id}", mode as char);
        hex_encode(plain.as_bytes())
    }

    /// Decodes [`page_token`](Self::page_token), refusing a malformed one or one made for
    /// another filter.
    pub(crate) fn cursor(&self) -> Result<Option<Cursor>, StoreError> {
        let Some(token) = self.page_token.as_deref() else {
            return Ok(None);
        };
        if token.is_empty() {
            return Ok(None);
        }
        let invalid = |why: &str| {
            StoreError::InvalidArgument(format!(
                "invalid page_token: {why}; pass the next_page_token of the previous page \
                 unchanged, with the same filters"
            ))
        };
        let plain = hex_decode(token)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| invalid("it is not a page token"))?;
        let rest = plain
            .strip_prefix('1')
            .ok_or_else(|| invalid("it is not a page token"))?;
        let mode = *rest
            .as_bytes()
            .first()
            .ok_or_else(|| invalid("it is not a page token"))?;
        let rest = &rest[1..];
        if rest.len() < 16 || !rest.is_char_boundary(16) {
            return Err(invalid("it is not a page token"));
        }
        let (checksum, rest) = rest.split_at(16);
        let checksum =
            u64::from_str_radix(checksum, 16).map_err(|_| invalid("it is not a page token"))?;
        let (time, id) = rest
            .split_once('.')
            .ok_or_else(|| invalid("it is not a page token"))?;
        let time_ms: i64 = time
            .parse()
            .map_err(|_| invalid("it is not a page token"))?;
        if mode != self.order().tag() || checksum != self.checksum(mode, time_ms, id) {
            return Err(invalid(
                "it is damaged or belongs to a query with other filters",
            ));
        }
        Ok(Some(Cursor {
            time_ms,
            id: id.to_owned(),
        }))
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    digits
        .chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// FNV-1a, 64 bits: stable across builds and platforms (unlike `std`'s hasher).
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn opt_str(&mut self, text: Option<&str>) {
        match text {
            None => self.bytes(&[0]),
            Some(text) => {
                self.bytes(&[1]);
                self.bytes(&(text.len() as u64).to_le_bytes());
                self.bytes(text.as_bytes());
            }
        }
    }

    fn opt_i64(&mut self, value: Option<i64>) {
        match value {
            None => self.bytes(&[0]),
            Some(value) => {
                self.bytes(&[1]);
                self.bytes(&value.to_le_bytes());
            }
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// FNV-1a, 32 bits, of `text`: the per-rule key of the capacity lock on PostgreSQL. Stable
/// across nodes and versions, which the lock needs (every node must compute the same key).
pub(crate) fn fnv1a_32(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in text.as_bytes() {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in CallState::ALL {
            assert_eq!(state.as_str().parse::<CallState>().ok(), Some(state));
        }
        for status in FinalStatus::ALL {
            assert_eq!(status.as_str().parse::<FinalStatus>().ok(), Some(status));
            let filter = CallStatus::Final(status);
            assert_eq!(filter.to_string().parse::<CallStatus>().ok(), Some(filter));
        }
        assert_eq!("live".parse::<CallStatus>().ok(), Some(CallStatus::Live));
        assert!("Live".parse::<CallStatus>().is_err());
        assert!("ended".parse::<CallStatus>().is_err());
    }

    #[test]
    fn tokens_round_trip_and_bind_to_their_filter() {
        let filter = CallFilter {
            rule_id: Some("SDR_x".into()),
            ..CallFilter::default()
        };
        let token = filter.token_after(-5, "SCL_a.b");
        let with_token = CallFilter {
            page_token: Some(token.clone()),
            limit: Some(7),
            ..filter.clone()
        };
        assert_eq!(
            with_token.cursor().expect("valid"),
            Some(Cursor {
                time_ms: -5,
                id: "SCL_a.b".into()
            })
        );
        let other = CallFilter {
            rule_id: Some("SDR_y".into()),
            page_token: Some(token.clone()),
            ..CallFilter::default()
        };
        assert!(matches!(
            other.cursor(),
            Err(StoreError::InvalidArgument(_))
        ));
        let tail = CallFilter {
            updated_after_ms: Some(0),
            page_token: Some(token),
            ..filter
        };
        assert!(matches!(tail.cursor(), Err(StoreError::InvalidArgument(_))));
        let truncated = with_token.page_token.as_deref().unwrap_or_default();
        let truncated = &truncated[..truncated.len() - 2];
        for bad in [
            "zz",
            "0",
            "31",
            "316e",
            "é",
            &hex_encode(b"1n0123456789abcdef12.x"),
            truncated,
        ] {
            let f = CallFilter {
                page_token: Some(bad.to_owned()),
                ..CallFilter::default()
            };
            assert!(
                matches!(f.cursor(), Err(StoreError::InvalidArgument(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a_32(""), 0x811c_9dc5);
        assert_eq!(fnv1a_32("a"), 0xe40c_292c);
    }
}
