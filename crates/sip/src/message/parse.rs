//! The parser: one pass over the header area, every value stored as a span into the
//! buffer, the well-known headers indexed and pre-parsed, and the first reason for a
//! `400 Bad Request` recorded (see [`super::Message::bad_request`]).
//!
//! Two outcomes are distinguished:
//! * [`ParseError`]: nothing we could answer (not SIP, no start line, no usable Via on a
//!   request). The caller drops the datagram and counts it.
//! * `Ok(message)` with `message.bad_request() == Some(reason)`: answerable, the request
//!   gets `400 <reason>`.
//!
//! Folded header lines (obsolete line folding, RFC 3261 §7.3.1) are rare; when present the
//! buffer is copied once and the folding line breaks are overwritten with spaces, which
//! keeps every offset valid.

use bytes::Bytes;
use smallvec::SmallVec;

use super::header::HeaderKind;
use super::method::Method;
use super::span::{Span, parse_u32, split_list};
use super::uri::{first_list_value, parse_name_addr, parse_uri};
use super::via::parse_via;
use super::{CSeqSpans, HeaderEntry, Message, StartLine};

/// Largest message accepted (a UDP datagram cannot be bigger; TCP frames are capped by the
/// framer at the same size).
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;
/// Largest header area accepted.
pub const MAX_HEADER_LEN: usize = 16 * 1024;
/// Most header lines accepted.
const MAX_HEADER_LINES: usize = 256;

/// Why a message could not be used at all (not even answered with 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError(pub &'static str);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ParseError {}

fn find_head_end(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < b.len() {
        if b.get(i) == Some(&b'\n') {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(b'\n'), _) => return Some((i, i + 2)),
                (Some(b'\r'), Some(b'\n')) => return Some((i, i + 3)),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

fn has_folding(head: &[u8]) -> bool {
    head.windows(2)
        .any(|w| w.first() == Some(&b'\n') && matches!(w.get(1), Some(b' ' | b'\t')))
}

fn unfold(data: &[u8], head_end: usize) -> Bytes {
    let mut v = data.to_vec();
    let mut i = 0;
    while i + 1 < head_end {
        if v.get(i) == Some(&b'\n') && matches!(v.get(i + 1), Some(b' ' | b'\t')) {
            if let Some(c) = v.get_mut(i) {
                *c = b' ';
            }
            if i > 0
                && v.get(i - 1) == Some(&b'\r')
                && let Some(c) = v.get_mut(i - 1)
            {
                *c = b' ';
            }
        }
        i += 1;
    }
    Bytes::from(v)
}

fn is_token(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(c))
}

/// Parse one SIP message (a UDP datagram or a frame cut by [`super::Framer`]).
pub fn parse(data: Bytes) -> Result<Message, ParseError> {
    if data.len() > MAX_MESSAGE_LEN {
        return Err(ParseError("message too large"));
    }
    let lead = data
        .iter()
        .take_while(|c| matches!(c, b'\r' | b'\n'))
        .count();
    if lead >= data.len() {
        return Err(ParseError("empty message"));
    }
    // `head_end` is the position of the '\n' ending the last header line.
    let (head_end, body_start) = match data.get(lead..).and_then(find_head_end) {
        Some((h, b)) => (h + lead, b + lead),
        None => (data.len(), data.len()),
    };
    if head_end - lead > MAX_HEADER_LEN {
        return Err(ParseError("header area too large"));
    }
    let buf = match data.get(lead..head_end) {
        Some(head) if has_folding(head) => unfold(&data, head_end),
        _ => data,
    };
    let b: &[u8] = &buf;
    let mut problem: Option<&'static str> = None;
    let mut flag = |p: &'static str| {
        if problem.is_none() {
            problem = Some(p);
        }
    };
    if b.get(lead..head_end)
        .is_some_and(|h| std::str::from_utf8(h).is_err())
    {
        flag("Non-UTF-8 Header");
    }

    // Lines of the header area.
    let mut lines = split_list_lines(b, lead, head_end);
    let first = lines.next().ok_or(ParseError("no start line"))?;
    let start = parse_start_line(b, first).ok_or(ParseError("bad start line"))?;

    let mut headers: SmallVec<[HeaderEntry; 16]> = SmallVec::new();
    for line in lines {
        let line = line.trim(b);
        if line.is_empty() {
            continue;
        }
        if headers.len() >= MAX_HEADER_LINES {
            return Err(ParseError("too many headers"));
        }
        let Some(colon) = line.find(b, |c| c == b':') else {
            flag("Malformed Header Line");
            continue;
        };
        let (name, value) = line.split_at(colon);
        let name = name.trim(b);
        if !is_token(name.bytes(b)) {
            flag("Malformed Header Line");
            continue;
        }
        let value = value.trim(b);
        headers.push(HeaderEntry {
            name,
            value,
            kind: HeaderKind::classify(name.bytes(b)),
        });
    }

    let mut msg = Message {
        buf: Bytes::new(),
        start,
        headers: SmallVec::new(),
        vias: SmallVec::new(),
        top_via: None,
        from: None,
        to: None,
        contact: None,
        call_id: None,
        cseq: None,
        max_forwards: None,
        content_type: None,
        body: Span::new(body_start, body_start),
        problem: None,
    };
    let mut call_id_raw = None;
    let mut from_raw = None;
    let mut to_raw = None;
    let mut cseq_raw = None;
    let mut mf_raw = None;
    let mut cl_raw = None;
    for h in &headers {
        match h.kind {
            HeaderKind::Via => {
                for v in split_list(b, h.value, b',') {
                    let v = v.trim(b);
                    if !v.is_empty() {
                        msg.vias.push(v);
                    }
                }
            }
            HeaderKind::From => {
                from_raw.get_or_insert(h.value);
            }
            HeaderKind::To => {
                to_raw.get_or_insert(h.value);
            }
            HeaderKind::CallId => {
                call_id_raw.get_or_insert(h.value);
            }
            HeaderKind::CSeq => {
                cseq_raw.get_or_insert(h.value);
            }
            HeaderKind::Contact if msg.contact.is_none() => {
                msg.contact = parse_name_addr(b, first_list_value(b, h.value));
            }
            HeaderKind::MaxForwards => {
                mf_raw.get_or_insert(h.value);
            }
            HeaderKind::ContentType => {
                msg.content_type.get_or_insert(h.value);
            }
            HeaderKind::ContentLength => {
                cl_raw.get_or_insert(h.value);
            }
            _ => {}
        }
    }
    msg.top_via = msg.vias.first().and_then(|v| parse_via(b, *v));
    let is_request = matches!(msg.start, StartLine::Request { .. });
    if is_request {
        if msg.vias.is_empty() {
            return Err(ParseError("no Via"));
        }
        if msg.top_via.is_none() {
            return Err(ParseError("invalid Via"));
        }
    }
    if let StartLine::Request {
        uri,
        ref mut uri_parts,
        ..
    } = msg.start
    {
        *uri_parts = parse_uri(b, uri);
        if uri_parts.is_none() {
            flag("Invalid Request-URI");
        }
    }
    match call_id_raw {
        None => flag("Missing Call-ID"),
        Some(c) if c.is_empty() || !c.bytes(b).iter().all(|x| x.is_ascii_graphic()) => {
            flag("Invalid Call-ID")
        }
        Some(c) => msg.call_id = Some(c),
    }
    match from_raw {
        None => flag("Missing From"),
        Some(f) => match parse_name_addr(b, f) {
            None => flag("Invalid From"),
            Some(na) => {
                if na.tag.is_none() && msg.request_method() == Some(Method::Invite) {
                    flag("Missing From Tag");
                }
                msg.from = Some(na);
            }
        },
    }
    match to_raw {
        None => flag("Missing To"),
        Some(t) => match parse_name_addr(b, t) {
            None => flag("Invalid To"),
            Some(na) => msg.to = Some(na),
        },
    }
    match cseq_raw {
        None => flag("Missing CSeq"),
        Some(c) => match parse_cseq(b, c) {
            None => flag("Invalid CSeq"),
            Some(cs) => {
                if let StartLine::Request { method_span, .. } = msg.start
                    && cs.method_span.bytes(b) != method_span.bytes(b)
                {
                    flag("CSeq Method Mismatch");
                }
                msg.cseq = Some(cs);
            }
        },
    }
    if let Some(mf) = mf_raw {
        match parse_u32(mf.bytes(b)) {
            Some(n) if n <= 255 => msg.max_forwards = Some(n),
            _ => flag("Invalid Max-Forwards"),
        }
    }
    let avail = b.len().saturating_sub(body_start);
    let body_len = match cl_raw {
        None => avail,
        Some(cl) => match parse_u32(cl.bytes(b)) {
            None => {
                flag("Invalid Content-Length");
                avail
            }
            Some(n) if n as usize > avail => {
                flag("Content-Length Mismatch");
                avail
            }
            // RFC 3261 §18.3: extra bytes after Content-Length in a datagram are discarded.
            Some(n) => n as usize,
        },
    };
    msg.body = Span::new(body_start, body_start + body_len);
    msg.headers = headers;
    msg.problem = if is_request { problem } else { None };
    msg.buf = buf;
    Ok(msg)
}

/// Lines of `[from, to)` split on '\n' (a trailing '\r' stays and is trimmed by callers).
fn split_list_lines(b: &[u8], from: usize, to: usize) -> impl Iterator<Item = Span> + '_ {
    let mut pos = from;
    std::iter::from_fn(move || {
        if pos >= to {
            return None;
        }
        let end = b
            .get(pos..to)
            .and_then(|s| s.iter().position(|c| *c == b'\n'))
            .map_or(to, |i| pos + i);
        let line = Span::new(pos, end);
        pos = end + 1;
        Some(line)
    })
}

fn parse_start_line(b: &[u8], line: Span) -> Option<StartLine> {
    let line = line.trim(b);
    let bytes = line.bytes(b);
    if bytes.len() > 8
        && bytes
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/2.0 "))
    {
        let code = bytes.get(8..11)?;
        let status = parse_u32(code)?;
        if !(100..=699).contains(&status) {
            return None;
        }
        if !matches!(bytes.get(11), None | Some(b' ')) {
            return None;
        }
        let reason = Span::new((line.start() + 12).min(line.end()), line.end());
        return Some(StartLine::Response {
            status: status as u16,
            reason,
        });
    }
    let sp1 = line.find(b, |c| c == b' ')?;
    let (method_span, rest) = line.split_at(sp1);
    if !is_token(method_span.bytes(b)) {
        return None;
    }
    let sp2 = rest.find(b, |c| c == b' ')?;
    let (uri, version) = rest.split_at(sp2);
    if uri.is_empty() || !version.bytes(b).eq_ignore_ascii_case(b"SIP/2.0") {
        return None;
    }
    Some(StartLine::Request {
        method: Method::from_bytes(method_span.bytes(b)),
        method_span,
        uri,
        uri_parts: None,
    })
}

fn parse_cseq(b: &[u8], v: Span) -> Option<CSeqSpans> {
    let v = v.trim(b);
    let sp = v.find(b, |c| c == b' ' || c == b'\t')?;
    let (num, method) = v.split_at(sp);
    let method_span = method.trim(b);
    if !is_token(method_span.bytes(b)) {
        return None;
    }
    let number = parse_u32(num.bytes(b))?;
    if number > 0x7fff_ffff {
        return None;
    }
    Some(CSeqSpans {
        number,
        method: Method::from_bytes(method_span.bytes(b)),
        method_span,
    })
}
