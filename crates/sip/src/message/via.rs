//! Via header values (`SIP/2.0/UDP host:port;branch=z9hG4bK…;rport;received=…`).

use super::span::{Span, find_param, parse_u32};
use super::uri::parse_hostport;

/// Spans of one Via value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ViaSpans {
    pub(crate) raw: Span,
    pub(crate) transport: Span,
    pub(crate) host: Span,
    pub(crate) port: Option<u16>,
    /// Everything after the sent-by, starting at the first `;` (may be empty).
    pub(crate) params: Span,
    pub(crate) branch: Option<Span>,
    /// `None` = no rport; `Some(None)` = `;rport` (asks for it); `Some(Some(p))` = filled.
    pub(crate) rport: Option<Option<u16>>,
    pub(crate) received: Option<Span>,
}

/// Parse one Via value; `None` when the protocol or sent-by is unusable.
pub(crate) fn parse_via(buf: &[u8], raw: Span) -> Option<ViaSpans> {
    let raw = raw.trim(buf);
    let slash1 = raw.find(buf, |c| c == b'/')?;
    let (proto, rest) = raw.split_at(slash1);
    if !proto.trim(buf).bytes(buf).eq_ignore_ascii_case(b"SIP") {
        return None;
    }
    let slash2 = rest.find(buf, |c| c == b'/')?;
    let (version, rest) = rest.split_at(slash2);
    if version.trim(buf).bytes(buf) != b"2.0" {
        return None;
    }
    let rest = rest.trim(buf);
    let t_end = rest
        .find(buf, |c| c == b' ' || c == b'\t' || c == b';')
        .unwrap_or(rest.end());
    let transport = Span::new(rest.start(), t_end);
    if transport.is_empty() || !transport.bytes(buf).iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let after = Span::new(t_end, rest.end());
    let semi = after.find(buf, |c| c == b';').unwrap_or(after.end());
    let (host, port) = parse_hostport(buf, Span::new(after.start(), semi))?;
    let params = Span::new(semi, raw.end());
    let branch = find_param(buf, params, "branch")
        .flatten()
        .filter(|b| !b.is_empty());
    let rport = match find_param(buf, params, "rport") {
        None => None,
        Some(None) => Some(None),
        Some(Some(v)) if v.is_empty() => Some(None),
        Some(Some(v)) => Some(Some(u16::try_from(parse_u32(v.bytes(buf))?).ok()?)),
    };
    let received = find_param(buf, params, "received").flatten();
    Some(ViaSpans {
        raw,
        transport,
        host,
        port,
        params,
        branch,
        rport,
        received,
    })
}
