//! The facts of one INVITE that routing looks at (SPEC §3), plus the parameters that keep
//! evaluation pure: the instant, the call id and the random room suffix.

use std::net::IpAddr;

use jiff::Timestamp;

use crate::number::normalize;

/// What the caller has typed at the PIN prompt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pin<'a> {
    /// No PIN prompt yet: PIN rules and open rules both compete.
    #[default]
    NotEntered,
    /// Digits followed by `#`: only PIN rules with exactly this PIN survive.
    Entered(&'a str),
    /// `#` alone: only open rules survive.
    Skipped,
}

/// One call to route.
#[derive(Clone, Debug)]
pub struct Call<'a> {
    /// User part of the From URI, raw.
    pub caller: &'a str,
    /// Host part of the From URI.
    pub from_host: &'a str,
    /// User part of the To URI, raw (not the Request-URI).
    pub called: &'a str,
    /// Transport source address; `None` when unknown (matches no IP entry).
    pub source_ip: Option<IpAddr>,
    pub pin: Pin<'a>,
    /// The instant schedules are evaluated at.
    pub at: Timestamp,
    /// switchboard's call id (`SCL_…`).
    pub call_id: &'a str,
    /// The SIP `Call-ID` header.
    pub sip_call_id: &'a str,
    /// INVITE headers (name, value) in arrival order, for header-derived attributes.
    pub headers: &'a [(String, String)],
    /// 12 base57 characters used where a room name needs a random part.
    pub room_suffix: &'a str,
}

impl<'a> Call<'a> {
    /// A call with only the routing facts set; the rest empty. Handy in tests and benches.
    pub fn new(caller: &'a str, called: &'a str, at: Timestamp) -> Self {
        Call {
            caller,
            from_host: "",
            called,
            source_ip: None,
            pin: Pin::NotEntered,
            at,
            call_id: "",
            sip_call_id: "",
            headers: &[],
            room_suffix: "",
        }
    }
}

/// The call's numbers and host in the form matching compares.
#[derive(Clone, Debug)]
pub struct Prepared<'a> {
    pub caller: std::borrow::Cow<'a, str>,
    pub called: std::borrow::Cow<'a, str>,
    pub host_lower: std::borrow::Cow<'a, str>,
}

impl<'a> Prepared<'a> {
    pub fn new(call: &Call<'a>) -> Self {
        let host_lower = if call.from_host.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(call.from_host.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(call.from_host)
        };
        Prepared {
            caller: normalize(call.caller),
            called: normalize(call.called),
            host_lower,
        }
    }
}
