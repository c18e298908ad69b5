//! Header names: the well-known headers the stack looks at, compact forms (RFC 3261 §7.3.3)
//! and case-insensitive matching.

/// Headers the parser indexes. Everything else is [`HeaderKind::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderKind {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    MaxForwards,
    ContentType,
    ContentLength,
    Authorization,
    ProxyAuthorization,
    RecordRoute,
    Route,
    Other,
}

impl HeaderKind {
    /// Classify a header name (case-insensitive, compact forms included).
    pub(crate) fn classify(name: &[u8]) -> HeaderKind {
        if name.len() == 1 {
            return match name.first().map(u8::to_ascii_lowercase) {
                Some(b'v') => HeaderKind::Via,
                Some(b'f') => HeaderKind::From,
                Some(b't') => HeaderKind::To,
                Some(b'i') => HeaderKind::CallId,
                Some(b'm') => HeaderKind::Contact,
                Some(b'l') => HeaderKind::ContentLength,
                Some(b'c') => HeaderKind::ContentType,
                _ => HeaderKind::Other,
            };
        }
        const TABLE: &[(&[u8], HeaderKind)] = &[
            (b"via", HeaderKind::Via),
            (b"from", HeaderKind::From),
            (b"to", HeaderKind::To),
            (b"call-id", HeaderKind::CallId),
            (b"cseq", HeaderKind::CSeq),
            (b"contact", HeaderKind::Contact),
            (b"max-forwards", HeaderKind::MaxForwards),
            (b"content-type", HeaderKind::ContentType),
            (b"content-length", HeaderKind::ContentLength),
            (b"authorization", HeaderKind::Authorization),
            (b"proxy-authorization", HeaderKind::ProxyAuthorization),
            (b"record-route", HeaderKind::RecordRoute),
            (b"route", HeaderKind::Route),
        ];
        TABLE
            .iter()
            .find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name))
            .map_or(HeaderKind::Other, |(_, k)| *k)
    }
}

/// Expand a compact header name to its long form (`"v"` → `"Via"`); other names are
/// returned unchanged.
pub fn canonical_name(name: &str) -> &str {
    if name.len() != 1 {
        return name;
    }
    match name.as_bytes().first().map(u8::to_ascii_lowercase) {
        Some(b'i') => "Call-ID",
        Some(b'f') => "From",
        Some(b't') => "To",
        Some(b'v') => "Via",
        Some(b'm') => "Contact",
        Some(b'l') => "Content-Length",
        Some(b'c') => "Content-Type",
        Some(b'k') => "Supported",
        Some(b's') => "Subject",
        Some(b'e') => "Content-Encoding",
        Some(b'o') => "Event",
        Some(b'r') => "Refer-To",
        Some(b'b') => "Referred-By",
        Some(b'u') => "Allow-Events",
        _ => name,
    }
}

/// Whether two header names denote the same header (case-insensitive, compact forms equal
/// to their long forms).
pub fn same_header(a: &str, b: &str) -> bool {
    canonical_name(a).eq_ignore_ascii_case(canonical_name(b))
}
