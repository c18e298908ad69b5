//! SIP URIs and name-addr values (`"Alice" <sip:alice@host:5060;transport=udp>;tag=x`),
//! parsed into spans: display name, URI, user, host, port, header parameters, `tag`.

use super::span::{Span, find_param, split_list, unquote};

/// Spans of a URI (`scheme:user@host:port;params`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UriSpans {
    pub(crate) raw: Span,
    pub(crate) scheme: Span,
    pub(crate) user: Option<Span>,
    pub(crate) host: Span,
    pub(crate) port: Option<u16>,
}

/// Spans of a name-addr / addr-spec header value (From, To, Contact).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct NameAddrSpans {
    pub(crate) raw: Span,
    pub(crate) display: Option<Span>,
    pub(crate) uri: UriSpans,
    pub(crate) params: Span,
    pub(crate) tag: Option<Span>,
}

/// Parse a URI. `sip`/`sips` need a host; other schemes (`tel:`…) keep the part after
/// the colon as "user" and have an empty host.
pub(crate) fn parse_uri(buf: &[u8], raw: Span) -> Option<UriSpans> {
    let raw = raw.trim(buf);
    let colon = raw.find(buf, |c| c == b':')?;
    let (scheme, rest) = raw.split_at(colon);
    let sb = scheme.bytes(buf);
    if sb.is_empty()
        || !sb.first().is_some_and(u8::is_ascii_alphabetic)
        || !sb
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let is_sip = sb.eq_ignore_ascii_case(b"sip") || sb.eq_ignore_ascii_case(b"sips");
    // The URI's own headers (`?…`) are not part of user/host.
    let rest = match rest.find(buf, |c| c == b'?') {
        Some(q) => rest.split_at(q).0,
        None => rest,
    };
    if !is_sip {
        let user_end = rest.find(buf, |c| c == b';').unwrap_or(rest.end());
        let user = Span::new(rest.start(), user_end);
        return Some(UriSpans {
            raw,
            scheme,
            user: (!user.is_empty()).then_some(user),
            host: Span::new(rest.end(), rest.end()),
            port: None,
        });
    }
    // userinfo ends at the last '@' (a user part may carry ';' parameters).
    let at = rest
        .bytes(buf)
        .iter()
        .rposition(|c| *c == b'@')
        .map(|i| i + rest.start());
    let (user, hostport) = match at {
        Some(at) => {
            let (userinfo, hp) = rest.split_at(at);
            let user_end = userinfo.find(buf, |c| c == b':').unwrap_or(userinfo.end());
            (Some(Span::new(userinfo.start(), user_end)), hp)
        }
        None => (None, rest),
    };
    let hp_end = hostport.find(buf, |c| c == b';').unwrap_or(hostport.end());
    let hostport = Span::new(hostport.start(), hp_end);
    let (host, port) = parse_hostport(buf, hostport)?;
    Some(UriSpans {
        raw,
        scheme,
        user,
        host,
        port,
    })
}

/// `host[:port]`, IPv6 references in brackets (the host span keeps the brackets).
pub(crate) fn parse_hostport(buf: &[u8], hp: Span) -> Option<(Span, Option<u16>)> {
    let hp = hp.trim(buf);
    let b = hp.bytes(buf);
    let host_end = if b.first() == Some(&b'[') {
        hp.find(buf, |c| c == b']')? + 1
    } else {
        hp.find(buf, |c| c == b':').unwrap_or(hp.end())
    };
    let host = Span::new(hp.start(), host_end);
    if host.is_empty() {
        return None;
    }
    let hb = host.bytes(buf);
    if hb.first() != Some(&b'[')
        && !hb
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
    {
        return None;
    }
    let port_part = Span::new(host_end, hp.end());
    let port = match port_part.bytes(buf) {
        [] => None,
        [b':', digits @ ..] => {
            let p = super::span::parse_u32(digits)?;
            Some(u16::try_from(p).ok()?)
        }
        _ => return None,
    };
    Some((host, port))
}

/// Parse one name-addr or addr-spec value.
pub(crate) fn parse_name_addr(buf: &[u8], value: Span) -> Option<NameAddrSpans> {
    let value = value.trim(buf);
    if value.is_empty() {
        return None;
    }
    // Find '<' outside quotes.
    let bytes = value.bytes(buf);
    let mut in_quote = false;
    let mut escaped = false;
    let mut lt = None;
    for (i, &c) in bytes.iter().enumerate() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_quote = false;
            }
        } else if c == b'"' {
            in_quote = true;
        } else if c == b'<' {
            lt = Some(value.start() + i);
            break;
        }
    }
    let (display, uri_span, params) = match lt {
        Some(lt) => {
            let after = Span::new(lt + 1, value.end());
            let gt = after.find(buf, |c| c == b'>')?;
            let display = unquote(buf, Span::new(value.start(), lt).trim(buf));
            (
                (!display.is_empty()).then_some(display),
                Span::new(lt + 1, gt),
                Span::new(gt + 1, value.end()),
            )
        }
        None => {
            if in_quote {
                return None;
            }
            let semi = value.find(buf, |c| c == b';').unwrap_or(value.end());
            (
                None,
                Span::new(value.start(), semi),
                Span::new(semi, value.end()),
            )
        }
    };
    let uri = parse_uri(buf, uri_span)?;
    let tag = find_param(buf, params, "tag")
        .flatten()
        .filter(|t| !t.is_empty());
    Some(NameAddrSpans {
        raw: value,
        display,
        uri,
        params,
        tag,
    })
}

/// First value of a comma-separated name-addr list (Contact may carry several).
pub(crate) fn first_list_value(buf: &[u8], value: Span) -> Span {
    split_list(buf, value, b',').next().unwrap_or(value)
}
