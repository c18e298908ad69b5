//! The facts of one INVITE that routing looks at (SPEC §3), plus the parameters that keep
//! evaluation pure: the instant, the call id and the random room suffix.

use std::net::IpAddr;

use jiff::Timestamp;

use crate::number::{digits_to_normalize, normal_digits, normalize};

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
    pub caller: Normalized<'a>,
    pub called: Normalized<'a>,
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
            caller: Normalized::of(call.caller),
            called: Normalized::of(call.called),
            host_lower,
        }
    }
}

/// Bytes a [`Normalized`] number holds without allocating (E.164 needs at most 16).
const INLINE: usize = 30;

/// A number as [`normalize`] writes it, without allocating on the call path: the raw text
/// when it is already normalized, else written inline (or on the heap when longer than any
/// phone number).
#[derive(Clone)]
pub enum Normalized<'a> {
    Borrowed(&'a str),
    /// `buf[..len]`: a `+` and ASCII digits.
    Inline {
        len: u8,
        buf: [u8; INLINE],
    },
    Owned(String),
}

impl<'a> Normalized<'a> {
    /// [`normalize`]`(raw)`.
    pub fn of(raw: &'a str) -> Normalized<'a> {
        match digits_to_normalize(raw) {
            None => Normalized::Borrowed(raw),
            Some(digits) if digits < INLINE => {
                let mut buf = [0u8; INLINE];
                buf[0] = b'+';
                for (slot, d) in buf[1..].iter_mut().zip(normal_digits(raw)) {
                    *slot = d;
                }
                Normalized::Inline {
                    len: (digits + 1) as u8,
                    buf,
                }
            }
            Some(_) => Normalized::Owned(normalize(raw).into_owned()),
        }
    }
}

impl std::ops::Deref for Normalized<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Normalized::Borrowed(s) => s,
            // Only ASCII is ever written inline; the fallback is unreachable.
            Normalized::Inline { len, buf } => {
                std::str::from_utf8(&buf[..*len as usize]).unwrap_or_default()
            }
            Normalized::Owned(s) => s,
        }
    }
}

impl std::fmt::Display for Normalized<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl std::fmt::Debug for Normalized<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalized_is_normalize_without_allocating_for_phone_numbers() {
        for raw in [
            "+15551234567",
            "15551234567",
            "+1 (555) 123-4567",
            "1-555-123-4567",
            "alice",
            "anonymous",
            "",
            "+",
            "(((",
            "12345678901234567890123456789012345",
        ] {
            assert_eq!(&*Normalized::of(raw), &*normalize(raw), "{raw:?}");
        }
        assert!(matches!(
            Normalized::of("+1 (555) 123-4567"),
            Normalized::Inline { .. }
        ));
        assert!(matches!(
            Normalized::of("+15551234567"),
            Normalized::Borrowed(_)
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn normalized_agrees_with_normalize(raw in "[+0-9 ()a#*-]{0,40}") {
            prop_assert_eq!(&*Normalized::of(&raw), &*normalize(&raw));
        }
    }
}
