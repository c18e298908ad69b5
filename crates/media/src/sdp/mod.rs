//! SDP (RFC 4566 / RFC 8866) for audio offer/answer (RFC 3264), as much as a SIP trunk call
//! needs and no more.
//!
//! - [`SessionDescription::parse`] is a tolerant, bounded parser: lines may come in any order
//!   within a section, `\r\n` or `\n` line ends, unknown or malformed lines are skipped,
//!   `c=` may be at session or media level, IPv4 or IPv6. Input over [`MAX_SDP_LEN`] bytes,
//!   more than [`MAX_MEDIA`] m-lines or more than [`MAX_FORMATS`] formats on one m-line is
//!   refused. It never panics.
//! - [`negotiate`] picks the codec by *our* preference ([`DEFAULT_PREFERENCE`]: PCMU, then
//!   PCMA) among what the offer's first usable audio m-line lists, plus the
//!   `telephone-event/8000` payload type if offered.
//! - [`answer`] writes the answer for a [`Negotiated`] result.
//!
//! Submodules: `parse` (the parser), `negotiate`, `answer`, one concept each.

mod answer;
mod negotiate;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;

pub use answer::answer;
pub use negotiate::{DEFAULT_PREFERENCE, Negotiated, OtherMedia, PayloadTypeSet, negotiate};

/// Largest SDP body accepted, in bytes.
pub const MAX_SDP_LEN: usize = 16 * 1024;
/// Most m-lines accepted in one description.
pub const MAX_MEDIA: usize = 16;
/// Most formats (payload types) accepted on one m-line.
pub const MAX_FORMATS: usize = 64;
/// Most `a=` lines kept per media section (others are ignored, not an error).
pub const MAX_ATTRIBUTES: usize = 128;

/// An audio codec switchboard can send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The encoding name used in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The static payload type RFC 3551 assigns.
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The code of one sample of silence.
    pub fn silence(self) -> u8 {
        match self {
            Codec::Pcmu => crate::g711::SILENCE_ULAW,
            Codec::Pcma => crate::g711::SILENCE_ALAW,
        }
    }
}

/// Media direction attribute (RFC 3264 §5.1), from the point of view of the side that wrote
/// the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Sends and receives (the default when no attribute is present).
    #[default]
    SendRecv,
    /// Only sends (e.g. the caller put us on hold and plays music).
    SendOnly,
    /// Only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answer gives to an offered `self` (RFC 3264 §6.1): `sendonly` →
    /// `recvonly`, `recvonly` → `sendonly`, `inactive` → `inactive`, `sendrecv` → `sendrecv`.
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// Whether the side with this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side with this direction receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    fn from_attribute(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// An `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type.
    pub payload_type: u8,
    /// The encoding name as written (compare case-insensitively).
    pub encoding: String,
    /// The clock rate in Hz.
    pub clock_rate: u32,
    /// The channel count, if given.
    pub channels: Option<u16>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaDescription {
    /// Media type: `audio`, `video`, `application`, ... (as written).
    pub kind: String,
    /// Transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// Transport protocol, e.g. `RTP/AVP`.
    pub proto: String,
    /// The payload types listed on the m-line, in offer order (non-numeric formats, as in
    /// non-RTP media, are skipped).
    pub formats: Vec<u8>,
    /// The first format token as written (used to reject the line in an answer).
    pub first_format: String,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// `a=rtpmap` lines.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp` lines: payload type and parameters.
    pub fmtps: Vec<(u8, String)>,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// Media-level direction attribute.
    pub direction: Option<Direction>,
    /// `a=rtcp` port (RFC 3605), if given.
    pub rtcp_port: Option<u16>,
}

impl MediaDescription {
    /// The `a=rtpmap` for a payload type.
    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == payload_type)
    }

    /// The `a=fmtp` parameters for a payload type.
    pub fn fmtp(&self, payload_type: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|(pt, _)| *pt == payload_type)
            .map(|(_, p)| p.as_str())
    }
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionDescription {
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// The m-lines, in order.
    pub media: Vec<MediaDescription>,
}

/// Why an SDP body was refused or no answer could be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpError {
    /// The body is larger than [`MAX_SDP_LEN`].
    TooLarge(usize),
    /// More than [`MAX_MEDIA`] m-lines.
    TooManyMedia,
    /// More than [`MAX_FORMATS`] formats on one m-line.
    TooManyFormats,
    /// No `m=` line at all (not an SDP body).
    NoMedia,
    /// No audio m-line with a non-zero port over plain RTP (`RTP/AVP` or `RTP/AVPF`).
    NoAudio,
    /// The usable audio m-line has no connection address (neither media nor session `c=`).
    NoConnection,
    /// None of the offered audio formats is one we support (SIP: `488 Not Acceptable Here`).
    NoCommonCodec,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::TooLarge(n) => write!(f, "SDP body of {n} bytes exceeds {MAX_SDP_LEN}"),
            SdpError::TooManyMedia => write!(f, "more than {MAX_MEDIA} m-lines"),
            SdpError::TooManyFormats => write!(f, "more than {MAX_FORMATS} formats on an m-line"),
            SdpError::NoMedia => write!(f, "no m-line"),
            SdpError::NoAudio => write!(f, "no usable audio m-line over RTP/AVP"),
            SdpError::NoConnection => write!(f, "audio m-line without a connection address"),
            SdpError::NoCommonCodec => write!(f, "no common audio codec"),
        }
    }
}

impl std::error::Error for SdpError {}
