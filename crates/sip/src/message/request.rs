//! Building our in-dialog requests (BYE, INFO) as the UAC side of a dialog we accepted as
//! UAS (RFC 3261 §12.2.1.1): Request-URI = remote target, From = the INVITE's To + our
//! tag, To = the INVITE's From (their tag), our own CSeq, a fresh branch, Route = route set.

use std::io::Write as _;

use bytes::Bytes;

use super::Method;
use super::response::{push_clean, push_header};

/// Everything needed to render one in-dialog request.
#[derive(Clone, Copy, Debug)]
pub struct DialogRequest<'a> {
    pub method: Method,
    /// Remote target (the caller's Contact URI).
    pub request_uri: &'a str,
    /// `UDP` / `TCP`.
    pub transport: &'a str,
    /// Our sent-by, `host:port` (IPv6 host in brackets).
    pub sent_by: &'a str,
    /// Full branch, starting with `z9hG4bK`.
    pub branch: &'a str,
    /// From value (ours, with our tag).
    pub from: &'a str,
    /// To value (theirs, with their tag).
    pub to: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    /// Route set, in order (from Record-Route as received by the UAS).
    pub route_set: &'a [Box<str>],
    pub user_agent: Option<&'a str>,
    pub headers: &'a [(String, String)],
    pub body: Option<(&'a str, &'a [u8])>,
}

impl DialogRequest<'_> {
    pub fn build(&self) -> Bytes {
        let body_len = self.body.map_or(0, |(_, b)| b.len());
        let mut out = Vec::with_capacity(512 + body_len);
        let m = self.method.as_str();
        let _ = write!(out, "{m} ");
        push_clean(&mut out, self.request_uri);
        out.extend_from_slice(b" SIP/2.0\r\n");
        out.extend_from_slice(b"Via: SIP/2.0/");
        push_clean(&mut out, self.transport);
        out.push(b' ');
        push_clean(&mut out, self.sent_by);
        out.extend_from_slice(b";branch=");
        push_clean(&mut out, self.branch);
        out.extend_from_slice(b";rport\r\n");
        out.extend_from_slice(b"Max-Forwards: 70\r\n");
        for r in self.route_set {
            push_header(&mut out, "Route", r);
        }
        push_header(&mut out, "From", self.from);
        push_header(&mut out, "To", self.to);
        push_header(&mut out, "Call-ID", self.call_id);
        let _ = write!(out, "CSeq: {} {m}\r\n", self.cseq);
        if let Some(ua) = self.user_agent {
            push_header(&mut out, "User-Agent", ua);
        }
        for (n, v) in self.headers {
            push_header(&mut out, n, v);
        }
        if let Some((ct, _)) = self.body {
            push_header(&mut out, "Content-Type", ct);
        }
        let _ = write!(out, "Content-Length: {body_len}\r\n\r\n");
        if let Some((_, b)) = self.body {
            out.extend_from_slice(b);
        }
        Bytes::from(out)
    }
}
