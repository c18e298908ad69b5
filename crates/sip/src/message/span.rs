//! Byte ranges into a message buffer, and the small scanning helpers the parser uses.
//!
//! A parsed [`super::Message`] keeps the datagram as one `Bytes` and stores every
//! interesting piece (header names and values, URI parts, tags…) as a [`Span`]: two `u32`
//! offsets. Turning a span into `&str` is checked (`get` + `from_utf8`), so a corrupt span
//! can never panic; it yields `""`.

/// A half-open byte range `[start, end)` into a message buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Span {
        // Messages are capped far below 4 GiB by the parser, so the casts are lossless.
        Span {
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    pub(crate) fn start(self) -> usize {
        self.start as usize
    }

    pub(crate) fn end(self) -> usize {
        self.end as usize
    }

    pub(crate) fn is_empty(self) -> bool {
        self.start >= self.end
    }

    pub(crate) fn bytes(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start()..self.end()).unwrap_or(&[])
    }

    pub(crate) fn str(self, buf: &[u8]) -> &str {
        std::str::from_utf8(self.bytes(buf)).unwrap_or("")
    }

    /// This span with ASCII whitespace removed at both ends.
    pub(crate) fn trim(self, buf: &[u8]) -> Span {
        let b = self.bytes(buf);
        let lead = b.iter().take_while(|c| is_ws(**c)).count();
        let trail = b.iter().rev().take_while(|c| is_ws(**c)).count();
        if lead >= b.len() {
            return Span::new(self.start(), self.start());
        }
        Span::new(self.start() + lead, self.end() - trail)
    }

    /// Absolute position of the first byte matching `pred`, if any.
    pub(crate) fn find(self, buf: &[u8], pred: impl Fn(u8) -> bool) -> Option<usize> {
        self.bytes(buf)
            .iter()
            .position(|c| pred(*c))
            .map(|i| i + self.start())
    }

    /// Split at absolute position `at` (the byte at `at` is dropped).
    pub(crate) fn split_at(self, at: usize) -> (Span, Span) {
        (Span::new(self.start(), at), Span::new(at + 1, self.end()))
    }
}

pub(crate) fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == b'\r' || c == b'\n'
}

/// Split `span` on `sep` bytes that are outside double quotes and angle brackets.
pub(crate) fn split_list(buf: &[u8], span: Span, sep: u8) -> impl Iterator<Item = Span> + '_ {
    let bytes = span.bytes(buf);
    let base = span.start();
    let mut pos = 0usize;
    let mut done = bytes.is_empty();
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let start = pos;
        let mut in_quote = false;
        let mut escaped = false;
        let mut angle = 0u32;
        while let Some(&c) = bytes.get(pos) {
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
                angle += 1;
            } else if c == b'>' {
                angle = angle.saturating_sub(1);
            } else if c == sep && angle == 0 {
                break;
            }
            pos += 1;
        }
        let item = Span::new(base + start, base + pos);
        if pos >= bytes.len() {
            done = true;
        } else {
            pos += 1;
        }
        Some(item)
    })
}

/// Look up parameter `name` (case-insensitive) in a `;a=b;c` parameter list.
/// `Some(None)` = present without value, `Some(Some(v))` = with (unquoted) value.
pub(crate) fn find_param(buf: &[u8], params: Span, name: &str) -> Option<Option<Span>> {
    for p in split_list(buf, params, b';') {
        let p = p.trim(buf);
        if p.is_empty() {
            continue;
        }
        let (n, v) = match p.find(buf, |c| c == b'=') {
            Some(eq) => {
                let (n, v) = p.split_at(eq);
                (n.trim(buf), Some(unquote(buf, v.trim(buf))))
            }
            None => (p, None),
        };
        if n.bytes(buf).eq_ignore_ascii_case(name.as_bytes()) {
            return Some(v);
        }
    }
    None
}

/// Remove one pair of surrounding double quotes.
pub(crate) fn unquote(buf: &[u8], s: Span) -> Span {
    let b = s.bytes(buf);
    if b.len() >= 2 && b.first() == Some(&b'"') && b.last() == Some(&b'"') {
        Span::new(s.start() + 1, s.end() - 1)
    } else {
        s
    }
}

/// Parse a decimal number made only of ASCII digits (no sign, no spaces).
pub(crate) fn parse_u32(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    u32::try_from(n).ok()
}
