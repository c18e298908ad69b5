//! SIP messages: parsing ([`parse`]), TCP framing ([`Framer`]), building responses
//! ([`ResponseBuilder`]) and in-dialog requests ([`DialogRequest`]).
//!
//! A [`Message`] owns the received bytes (`Bytes`, cheap to clone) and stores every
//! header as a byte range into them; accessors hand out `&str` views. Nothing is
//! allocated per header; the header index lives inline for up to 16 headers.

mod framer;
mod header;
mod method;
mod parse;
mod request;
mod response;
mod span;
mod uri;
mod via;

#[cfg(test)]
pub(crate) mod tests;

use bytes::Bytes;
use smallvec::SmallVec;

pub use framer::{Frame, FrameError, Framer};
pub use header::{canonical_name, same_header};
pub use method::Method;
pub use parse::{MAX_HEADER_LEN, MAX_MESSAGE_LEN, ParseError, parse};
pub use request::DialogRequest;
pub use response::ResponseBuilder;

use header::HeaderKind;
use span::Span;
use uri::{NameAddrSpans, UriSpans};
use via::ViaSpans;

/// A request; the same type as any [`Message`] (requests and responses share the parser).
pub type Request = Message;

#[derive(Clone, Copy, Debug)]
pub(crate) enum StartLine {
    Request {
        method: Method,
        method_span: Span,
        uri: Span,
        uri_parts: Option<UriSpans>,
    },
    Response {
        status: u16,
        reason: Span,
    },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct HeaderEntry {
    pub(crate) name: Span,
    pub(crate) value: Span,
    pub(crate) kind: HeaderKind,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct CSeqSpans {
    pub(crate) number: u32,
    pub(crate) method: Method,
    pub(crate) method_span: Span,
}

/// A parsed SIP request or response.
#[derive(Clone, Debug)]
pub struct Message {
    pub(crate) buf: Bytes,
    pub(crate) start: StartLine,
    pub(crate) headers: SmallVec<[HeaderEntry; 16]>,
    pub(crate) vias: SmallVec<[Span; 2]>,
    pub(crate) top_via: Option<ViaSpans>,
    pub(crate) from: Option<NameAddrSpans>,
    pub(crate) to: Option<NameAddrSpans>,
    pub(crate) contact: Option<NameAddrSpans>,
    pub(crate) call_id: Option<Span>,
    pub(crate) cseq: Option<CSeqSpans>,
    pub(crate) max_forwards: Option<u32>,
    pub(crate) content_type: Option<Span>,
    pub(crate) body: Span,
    pub(crate) problem: Option<&'static str>,
}

/// A URI view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The URI as written.
    pub raw: &'a str,
    /// `sip`, `sips`, `tel`…
    pub scheme: &'a str,
    /// User part (`+15551234567`), for `tel:` the number.
    pub user: Option<&'a str>,
    /// Host (IPv6 in brackets, as written); empty for non-SIP schemes.
    pub host: &'a str,
    pub port: Option<u16>,
}

/// A name-addr view (From, To, Contact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The whole header value.
    pub raw: &'a str,
    /// Display name without quotes.
    pub display: Option<&'a str>,
    pub uri: Uri<'a>,
    pub tag: Option<&'a str>,
}

/// A Via view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    pub raw: &'a str,
    /// `UDP`, `TCP`, `TLS`… as written.
    pub transport: &'a str,
    /// sent-by host (IPv6 in brackets).
    pub host: &'a str,
    pub port: Option<u16>,
    pub branch: Option<&'a str>,
    /// `None`: no `rport`; `Some(None)`: `;rport` (asks for it); `Some(Some(p))`: filled.
    pub rport: Option<Option<u16>>,
    pub received: Option<&'a str>,
}

/// CSeq number and method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq {
    pub number: u32,
    pub method: Method,
}

impl Message {
    fn s(&self, span: Span) -> &str {
        span.str(&self.buf)
    }

    fn uri_view(&self, u: &UriSpans) -> Uri<'_> {
        Uri {
            raw: self.s(u.raw),
            scheme: self.s(u.scheme),
            user: u.user.map(|s| self.s(s)),
            host: self.s(u.host),
            port: u.port,
        }
    }

    fn name_addr_view(&self, n: &NameAddrSpans) -> NameAddr<'_> {
        NameAddr {
            raw: self.s(n.raw),
            display: n.display.map(|s| self.s(s)),
            uri: self.uri_view(&n.uri),
            tag: n.tag.map(|s| self.s(s)),
        }
    }

    /// The whole message as received (after unfolding, if the header had folded lines).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The underlying buffer (cheap clone).
    pub fn buffer(&self) -> &Bytes {
        &self.buf
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method; `None` for a response.
    pub fn request_method(&self) -> Option<Method> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The request method, or for a response the CSeq method ([`Method::Other`] if unknown).
    pub fn method(&self) -> Method {
        self.request_method()
            .or_else(|| self.cseq.map(|c| c.method))
            .unwrap_or(Method::Other)
    }

    /// The method token as written (for [`Method::Other`]).
    pub fn method_str(&self) -> &str {
        match self.start {
            StartLine::Request { method_span, .. } => self.s(method_span),
            StartLine::Response { .. } => self.cseq.map_or("", |c| self.s(c.method_span)),
        }
    }

    /// Status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// Reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.s(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The Request-URI as written.
    pub fn request_uri_raw(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.s(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The parsed Request-URI (`None` for responses and unparsable URIs).
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        match &self.start {
            StartLine::Request {
                uri_parts: Some(u), ..
            } => Some(self.uri_view(u)),
            _ => None,
        }
    }

    /// The top Via (first value of the first Via header).
    pub fn top_via(&self) -> Option<Via<'_>> {
        let v = self.top_via.as_ref()?;
        Some(Via {
            raw: self.s(v.raw),
            transport: self.s(v.transport),
            host: self.s(v.host),
            port: v.port,
            branch: v.branch.map(|s| self.s(s)),
            rport: v.rport,
            received: v.received.map(|s| self.s(s)),
        })
    }

    /// All Via values in order (comma-separated values split, several headers joined).
    pub fn vias(&self) -> impl Iterator<Item = &str> + '_ {
        self.vias.iter().map(|v| self.s(*v))
    }

    pub fn from(&self) -> Option<NameAddr<'_>> {
        self.from.as_ref().map(|n| self.name_addr_view(n))
    }

    pub fn to(&self) -> Option<NameAddr<'_>> {
        self.to.as_ref().map(|n| self.name_addr_view(n))
    }

    /// First Contact value.
    pub fn contact(&self) -> Option<NameAddr<'_>> {
        self.contact.as_ref().map(|n| self.name_addr_view(n))
    }

    pub fn call_id(&self) -> Option<&str> {
        self.call_id.map(|s| self.s(s))
    }

    pub fn cseq(&self) -> Option<CSeq> {
        self.cseq.map(|c| CSeq {
            number: c.number,
            method: c.method,
        })
    }

    pub fn max_forwards(&self) -> Option<u32> {
        self.max_forwards
    }

    pub fn content_type(&self) -> Option<&str> {
        self.content_type.map(|s| self.s(s))
    }

    /// The body (exactly Content-Length bytes when the header is present).
    pub fn body(&self) -> &[u8] {
        self.body.bytes(&self.buf)
    }

    /// The body as a cheap `Bytes` slice of the message buffer.
    pub fn body_bytes(&self) -> Bytes {
        self.buf
            .slice(self.body.start().min(self.buf.len())..self.body.end().min(self.buf.len()))
    }

    /// Raw value of the first `Authorization` header.
    pub fn authorization(&self) -> Option<&str> {
        self.first_of(HeaderKind::Authorization)
    }

    /// Raw value of the first `Proxy-Authorization` header.
    pub fn proxy_authorization(&self) -> Option<&str> {
        self.first_of(HeaderKind::ProxyAuthorization)
    }

    /// Record-Route values in arrival order (one entry per header line, may contain commas).
    pub fn record_routes(&self) -> impl Iterator<Item = &str> + '_ {
        self.all_of(HeaderKind::RecordRoute)
    }

    pub(crate) fn first_of(&self, kind: HeaderKind) -> Option<&str> {
        self.all_of(kind).next()
    }

    pub(crate) fn all_of(&self, kind: HeaderKind) -> impl Iterator<Item = &str> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.kind == kind)
            .map(|h| self.s(h.value))
    }

    /// Every header `(name, value)` in arrival order; names as written (compact forms
    /// stay compact: use [`canonical_name`]).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.headers
            .iter()
            .map(|h| (self.s(h.name), self.s(h.value)))
    }

    /// First value of header `name` (case-insensitive, compact forms match long forms).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| same_header(n, name))
            .map(|(_, v)| v)
    }

    /// Why this request must be answered `400` (the reason phrase), if it must.
    pub fn bad_request(&self) -> Option<&'static str> {
        self.problem
    }
}
