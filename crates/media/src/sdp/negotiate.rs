//! Offer → [`Negotiated`]: which codec, payload types, remote address and direction to use.
//!
//! Codec choice follows *our* preference order, not the offer's (LiveKit's behaviour, and
//! what a bridge that transcodes anyway wants): for each codec in the preference list the
//! first offered payload type that maps to it wins. A payload type maps to PCMU/PCMA through
//! its `a=rtpmap` (`PCMU/8000`, case-insensitive, mono) or, without an rtpmap, through the
//! static assignments 0 and 8.

use std::net::SocketAddr;

use super::{Codec, Direction, MediaDescription, SdpError, SessionDescription};

/// The default codec preference: PCMU, then PCMA.
pub const DEFAULT_PREFERENCE: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

/// A set of RTP payload types (0-127).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PayloadTypeSet(u128);

impl PayloadTypeSet {
    /// The empty set.
    pub const EMPTY: PayloadTypeSet = PayloadTypeSet(0);

    /// Adds a payload type (values above 127 are ignored).
    pub fn insert(&mut self, pt: u8) {
        if pt < 128 {
            self.0 |= 1u128 << pt;
        }
    }

    /// Whether the set holds `pt`.
    pub fn contains(self, pt: u8) -> bool {
        pt < 128 && self.0 & (1u128 << pt) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// An m-line of the offer other than the one we use; the answer rejects it (port 0) in the
/// same position, as RFC 3264 §6 requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherMedia {
    /// Its index among the offer's m-lines.
    pub index: usize,
    /// Media type.
    pub kind: String,
    /// Transport protocol.
    pub proto: String,
    /// One format token from the offer.
    pub format: String,
}

/// The outcome of negotiating an offer: what the media session sends and accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The audio codec.
    pub codec: Codec,
    /// Its payload type (the offer's number for it).
    pub payload_type: u8,
    /// The `telephone-event/8000` payload type we answer with and send DTMF with: the first
    /// one the offer lists.
    pub dtmf_payload_type: Option<u8>,
    /// Every payload type the offer mapped to `telephone-event/8000`. DTMF is accepted on any
    /// of them (SIPp offers 96 and 101 and uses either).
    pub dtmf_payload_types: PayloadTypeSet,
    /// Where to send RTP, from the SDP; `None` when the offer puts us on hold with an
    /// unspecified address (`c=IN IP4 0.0.0.0`). The session replaces it by the address the
    /// caller actually sends from (symmetric RTP).
    pub remote_rtp: Option<SocketAddr>,
    /// Where to send RTCP: `a=rtcp` if given, else the RTP port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    /// The direction the **offer** declares (the remote side's point of view). Our answer
    /// uses [`local_direction`](Self::local_direction).
    pub direction: Direction,
    /// The offer's `a=ptime` in milliseconds, if any (we always send 20 ms and accept any).
    pub ptime: Option<u32>,
    /// Whether the m-line was `RTP/AVPF` (the answer echoes the profile).
    pub avpf: bool,
    /// Index of the audio m-line used.
    pub media_index: usize,
    /// The offer's other m-lines.
    pub other_media: Vec<OtherMedia>,
}

impl Negotiated {
    /// A plain result for `codec` on its static payload type with telephone-event on 101,
    /// sending to `remote` (for tests and for calls we originate).
    pub fn simple(codec: Codec, remote: Option<SocketAddr>) -> Negotiated {
        let mut dtmf_payload_types = PayloadTypeSet::EMPTY;
        dtmf_payload_types.insert(101);
        Negotiated {
            codec,
            payload_type: codec.static_payload_type(),
            dtmf_payload_type: Some(101),
            dtmf_payload_types,
            remote_rtp: remote,
            remote_rtcp: remote.and_then(rtcp_next_to),
            direction: Direction::SendRecv,
            ptime: None,
            avpf: false,
            media_index: 0,
            other_media: Vec::new(),
        }
    }

    /// Our direction: the answer to the offered one (`sendonly` → `recvonly`, ...).
    pub fn local_direction(&self) -> Direction {
        self.direction.answer()
    }

    /// Whether we may send media: the remote receives and gave an address.
    pub fn may_send(&self) -> bool {
        self.direction.receives() && self.remote_rtp.is_some()
    }

    /// Whether the remote announced it will send media (so a media timeout applies).
    pub fn expects_media(&self) -> bool {
        self.direction.sends() && self.remote_rtp.is_some()
    }
}

/// Negotiates an offer against our codec preference (most preferred first).
///
/// Uses the first `audio` m-line with a non-zero port over `RTP/AVP` or `RTP/AVPF`.
/// Errors: [`SdpError::NoAudio`], [`SdpError::NoConnection`], [`SdpError::NoCommonCodec`]
/// (all of which a SIP server answers with `488 Not Acceptable Here`).
pub fn negotiate(offer: &SessionDescription, preference: &[Codec]) -> Result<Negotiated, SdpError> {
    let (media_index, media) = offer
        .media
        .iter()
        .enumerate()
        .find(|(_, m)| {
            m.kind.eq_ignore_ascii_case("audio")
                && m.port != 0
                && (m.proto.eq_ignore_ascii_case("RTP/AVP")
                    || m.proto.eq_ignore_ascii_case("RTP/AVPF"))
        })
        .ok_or(SdpError::NoAudio)?;
    let address = media
        .connection
        .or(offer.connection)
        .ok_or(SdpError::NoConnection)?;

    let (codec, payload_type) = preference
        .iter()
        .find_map(|&codec| {
            media
                .formats
                .iter()
                .find(|&&pt| maps_to(media, pt, codec))
                .map(|&pt| (codec, pt))
        })
        .ok_or(SdpError::NoCommonCodec)?;

    let mut dtmf_payload_types = PayloadTypeSet::EMPTY;
    let mut dtmf_payload_type = None;
    for &pt in &media.formats {
        if media.rtpmap(pt).is_some_and(|m| {
            m.encoding.eq_ignore_ascii_case("telephone-event") && m.clock_rate == 8000
        }) {
            dtmf_payload_types.insert(pt);
            dtmf_payload_type.get_or_insert(pt);
        }
    }

    let remote_rtp = (!address.is_unspecified()).then(|| SocketAddr::new(address, media.port));
    let remote_rtcp = match (remote_rtp, media.rtcp_port) {
        (Some(_), Some(port)) => Some(SocketAddr::new(address, port)),
        (Some(rtp), None) => rtcp_next_to(rtp),
        (None, _) => None,
    };

    let other_media = offer
        .media
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != media_index)
        .map(|(index, m)| OtherMedia {
            index,
            kind: m.kind.clone(),
            proto: m.proto.clone(),
            format: m.first_format.clone(),
        })
        .collect();

    Ok(Negotiated {
        codec,
        payload_type,
        dtmf_payload_type,
        dtmf_payload_types,
        remote_rtp,
        remote_rtcp,
        direction: media.direction.or(offer.direction).unwrap_or_default(),
        ptime: media.ptime,
        avpf: media.proto.eq_ignore_ascii_case("RTP/AVPF"),
        media_index,
        other_media,
    })
}

fn maps_to(media: &MediaDescription, pt: u8, codec: Codec) -> bool {
    match media.rtpmap(pt) {
        Some(map) => {
            map.encoding.eq_ignore_ascii_case(codec.encoding_name())
                && map.clock_rate == 8000
                && map.channels.unwrap_or(1) == 1
        }
        None => pt == codec.static_payload_type(),
    }
}

fn rtcp_next_to(rtp: SocketAddr) -> Option<SocketAddr> {
    let port = rtp.port().checked_add(1)?;
    Some(SocketAddr::new(rtp.ip(), port))
}
