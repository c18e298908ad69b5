//! Building a response to a request (RFC 3261 §8.2.6): status line, the Vias copied (the
//! top one completed with `received`/`rport` per RFC 3581), Record-Route for
//! dialog-creating responses, From, To (+ our tag), Call-ID, CSeq, Server, caller-given
//! headers, Content-Type/Content-Length and the body.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;

use super::Message;
use super::span::split_list;

/// Builder for a response to `req`.
#[derive(Debug)]
pub struct ResponseBuilder<'a> {
    req: &'a Message,
    status: u16,
    reason: &'a str,
    to_tag: Option<&'a str>,
    source: Option<SocketAddr>,
    server: Option<&'a str>,
    extra: Vec<u8>,
    body: Option<(&'a str, &'a [u8])>,
}

impl<'a> ResponseBuilder<'a> {
    pub fn new(req: &'a Message, status: u16, reason: &'a str) -> Self {
        ResponseBuilder {
            req,
            status,
            reason,
            to_tag: None,
            source: None,
            server: None,
            extra: Vec::new(),
            body: None,
        }
    }

    /// Our To-tag, added when the request's To has none (never on `100`).
    pub fn to_tag(mut self, tag: &'a str) -> Self {
        self.to_tag = Some(tag);
        self
    }

    /// The address the request came from: fills `received`/`rport` on the top Via.
    pub fn source(mut self, addr: SocketAddr) -> Self {
        self.source = Some(addr);
        self
    }

    /// `Server:` header value.
    pub fn server(mut self, server: &'a str) -> Self {
        self.server = Some(server);
        self
    }

    /// Add a header line. CR/LF in name or value are replaced by spaces (no injection).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        push_header(&mut self.extra, name, value);
        self
    }

    /// Body with its Content-Type.
    pub fn body(mut self, content_type: &'a str, body: &'a [u8]) -> Self {
        self.body = Some((content_type, body));
        self
    }

    pub fn build(self) -> Bytes {
        let req = self.req;
        let b = &req.buf[..];
        let body_len = self.body.map_or(0, |(_, body)| body.len());
        let mut out =
            Vec::with_capacity(384 + req.body.start().min(b.len()) + self.extra.len() + body_len);
        let _ = write!(out, "SIP/2.0 {} ", self.status);
        push_clean(&mut out, self.reason);
        out.extend_from_slice(b"\r\n");
        for (i, v) in req.vias.iter().enumerate() {
            out.extend_from_slice(b"Via: ");
            if i == 0 {
                write_top_via(&mut out, req, self.source);
            } else {
                out.extend_from_slice(v.bytes(b));
            }
            out.extend_from_slice(b"\r\n");
        }
        if (101..300).contains(&self.status) {
            for rr in req.record_routes() {
                out.extend_from_slice(b"Record-Route: ");
                out.extend_from_slice(rr.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        if let Some(f) = &req.from {
            out.extend_from_slice(b"From: ");
            out.extend_from_slice(f.raw.bytes(b));
            out.extend_from_slice(b"\r\n");
        }
        if let Some(t) = &req.to {
            out.extend_from_slice(b"To: ");
            out.extend_from_slice(t.raw.bytes(b));
            if let (None, Some(tag), true) = (t.tag, self.to_tag, self.status > 100) {
                out.extend_from_slice(b";tag=");
                push_clean(&mut out, tag);
            }
            out.extend_from_slice(b"\r\n");
        }
        if let Some(c) = req.call_id {
            out.extend_from_slice(b"Call-ID: ");
            out.extend_from_slice(c.bytes(b));
            out.extend_from_slice(b"\r\n");
        }
        if let Some(c) = &req.cseq {
            let _ = write!(out, "CSeq: {} ", c.number);
            out.extend_from_slice(c.method_span.bytes(b));
            out.extend_from_slice(b"\r\n");
        }
        if let Some(s) = self.server {
            push_header(&mut out, "Server", s);
        }
        out.extend_from_slice(&self.extra);
        if let Some((ct, _)) = self.body {
            push_header(&mut out, "Content-Type", ct);
        }
        let _ = write!(out, "Content-Length: {body_len}\r\n\r\n");
        if let Some((_, body)) = self.body {
            out.extend_from_slice(body);
        }
        Bytes::from(out)
    }
}

/// Whether RFC 3261 §18.2.1 / RFC 3581 want `received=` on the top Via.
pub(crate) fn sent_by_differs(host: &str, source: IpAddr) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.parse::<IpAddr>() != Ok(source)
}

fn write_top_via(out: &mut Vec<u8>, req: &Message, source: Option<SocketAddr>) {
    let b = &req.buf[..];
    let Some(v) = &req.top_via else {
        if let Some(first) = req.vias.first() {
            out.extend_from_slice(first.bytes(b));
        }
        return;
    };
    let Some(src) = source else {
        out.extend_from_slice(v.raw.bytes(b));
        return;
    };
    let add_received = v.rport.is_some() || sent_by_differs(v.host.str(b), src.ip());
    out.extend_from_slice(b.get(v.raw.start()..v.params.start()).unwrap_or(&[]));
    for p in split_list(b, v.params, b';') {
        let p = p.trim(b);
        if p.is_empty() {
            continue;
        }
        let name_end = p.find(b, |c| c == b'=').unwrap_or(p.end());
        let name = super::span::Span::new(p.start(), name_end).trim(b).bytes(b);
        if name.eq_ignore_ascii_case(b"rport") && v.rport == Some(None) {
            let _ = write!(out, ";rport={}", src.port());
        } else if name.eq_ignore_ascii_case(b"received") && add_received {
            // replaced below
        } else {
            out.push(b';');
            out.extend_from_slice(p.bytes(b));
        }
    }
    if add_received {
        let _ = write!(out, ";received={}", src.ip());
    }
}

/// Append `name: value\r\n`, replacing CR/LF with spaces.
pub(crate) fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    push_clean(out, name);
    out.extend_from_slice(b": ");
    push_clean(out, value);
    out.extend_from_slice(b"\r\n");
}

pub(crate) fn push_clean(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|c| c == b'\r' || c == b'\n') {
        out.extend(
            s.bytes()
                .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}
