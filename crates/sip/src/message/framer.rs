//! Cutting a TCP byte stream into SIP messages (RFC 3261 §18.3: Content-Length frames the
//! body on stream transports), with RFC 5626 CRLF keep-alives and size limits.

use bytes::{Buf, Bytes, BytesMut};

use super::parse::{MAX_HEADER_LEN, MAX_MESSAGE_LEN};
use super::span::parse_u32;

/// What [`Framer::next_frame`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// One complete message (headers + Content-Length bytes of body).
    Message(Bytes),
    /// A `CRLFCRLF` keep-alive ping; answer with a single `CRLF` pong.
    KeepAlive,
}

/// The stream cannot be framed any more; close the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// No end of headers within [`MAX_HEADER_LEN`] bytes.
    HeadersTooLarge,
    /// Headers + Content-Length exceed [`MAX_MESSAGE_LEN`].
    MessageTooLarge,
    /// Content-Length missing a number.
    BadContentLength,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FrameError::HeadersTooLarge => "SIP headers too large",
            FrameError::MessageTooLarge => "SIP message too large",
            FrameError::BadContentLength => "invalid Content-Length",
        })
    }
}

impl std::error::Error for FrameError {}

/// Accumulates stream bytes and yields complete messages.
#[derive(Debug, Default)]
pub struct Framer {
    buf: BytesMut,
}

impl Framer {
    pub fn new() -> Framer {
        Framer {
            buf: BytesMut::with_capacity(4096),
        }
    }

    /// The buffer to read into (e.g. `AsyncReadExt::read_buf`).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Append received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                self.buf.advance(4);
                return Ok(Some(Frame::KeepAlive));
            }
            match self.buf.first() {
                Some(b'\r' | b'\n') => {
                    if self.buf.len() < 4 && self.buf.iter().all(|c| matches!(c, b'\r' | b'\n')) {
                        return Ok(None);
                    }
                    self.buf.advance(1);
                }
                Some(_) => break,
                None => return Ok(None),
            }
        }
        let Some((head_end, body_start)) = find_head_end(&self.buf) else {
            if self.buf.len() > MAX_HEADER_LEN {
                return Err(FrameError::HeadersTooLarge);
            }
            return Ok(None);
        };
        if head_end > MAX_HEADER_LEN {
            return Err(FrameError::HeadersTooLarge);
        }
        let cl = content_length(self.buf.get(..head_end).unwrap_or(&[]))?;
        let total = body_start.saturating_add(cl);
        if total > MAX_MESSAGE_LEN {
            return Err(FrameError::MessageTooLarge);
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(Frame::Message(self.buf.split_to(total).freeze())))
    }
}

fn find_head_end(b: &[u8]) -> Option<(usize, usize)> {
    let limit = b.len().min(MAX_HEADER_LEN + 4);
    let b = b.get(..limit)?;
    for (i, c) in b.iter().enumerate() {
        if *c == b'\n' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(b'\n'), _) => return Some((i, i + 2)),
                (Some(b'\r'), Some(b'\n')) => return Some((i, i + 3)),
                _ => {}
            }
        }
    }
    None
}

/// Content-Length (or compact `l`) from the header area; 0 when absent.
fn content_length(head: &[u8]) -> Result<usize, FrameError> {
    for line in head.split(|c| *c == b'\n') {
        let Some(colon) = line.iter().position(|c| *c == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let name = name.trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let v = value.get(1..).unwrap_or(&[]).trim_ascii();
            return parse_u32(v)
                .map(|n| n as usize)
                .ok_or(FrameError::BadContentLength);
        }
    }
    Ok(0)
}
