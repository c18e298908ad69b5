//! Inbound half of [`RtpSession`]: latching, payload-type routing, decoding, DTMF, RTCP.
//!
//! Latching (symmetric RTP): until the first packet with a negotiated payload type arrives,
//! packets are accepted from any address; the session then sends to and only accepts from
//! that source (which may differ from the SDP address behind NAT) until
//! [`set_remote`](RtpSession::set_remote) announces a new address.
//!
//! DTMF is accepted on every payload type the offer mapped to telephone-event, from any SSRC
//! (SIPp sends it on its own SSRC), and de-duplicated by (timestamp, event) in
//! [`DtmfReceiver`](crate::dtmf::DtmfReceiver), which is reset when the DTMF SSRC changes.
//! Loss is counted on the audio SSRC only (all payload types on it share its sequence space).

use std::net::SocketAddr;
use std::time::Instant;

use super::{FRAME_SAMPLES, RtpSession, SeqUpdate, SessionEvent};
use crate::g711;
use crate::rtcp::{self, RtcpKind};
use crate::rtp::{self, RtpPacket};
use crate::sdp::Codec;

/// What [`RtpSession::handle_packet`] did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// Audio, decoded (complete frames were passed to the callback).
    Audio,
    /// A telephone-event packet; the digit if it started a new event.
    Dtmf(Option<char>),
    /// RTCP (multiplexed on the RTP port), read and dropped.
    Rtcp,
    /// Dropped.
    Ignored(IgnoreReason),
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreReason {
    /// Not valid RTP.
    Malformed,
    /// From somewhere other than the latched source.
    WrongSource,
    /// A payload type that was not negotiated.
    UnknownPayloadType,
    /// A duplicate or late audio packet, or an unconfirmed sequence jump.
    Late,
}

impl RtpSession {
    /// Processes a datagram received on the RTP port at `now` from `from`. Decoded audio is
    /// lent to `on_audio` in 160-sample (20 ms) frames, whatever the sender's packet size.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        mut on_audio: impl FnMut(&[i16]),
    ) -> Inbound {
        if rtp::looks_like_rtcp(data) {
            self.handle_rtcp(now, from, data);
            return Inbound::Rtcp;
        }
        let Ok(packet) = RtpPacket::parse(data) else {
            self.stats.malformed += 1;
            return Inbound::Ignored(IgnoreReason::Malformed);
        };
        if self.latched.is_some_and(|source| source != from) {
            self.stats.wrong_source += 1;
            return Inbound::Ignored(IgnoreReason::WrongSource);
        }
        let header = packet.header;
        let is_audio = header.payload_type == self.negotiated.payload_type;
        let is_dtmf = self
            .negotiated
            .dtmf_payload_types
            .contains(header.payload_type);
        if !is_audio && !is_dtmf {
            self.stats.unknown_payload_type += 1;
            if self.latched.is_some() {
                self.count_in(now, data.len());
                if self.audio_ssrc == Some(header.ssrc) {
                    self.seq.update(header.sequence);
                }
            }
            return Inbound::Ignored(IgnoreReason::UnknownPayloadType);
        }

        if self.latched.is_none() {
            self.latched = Some(from);
        }
        if self.stats.first_packet_at.is_none() {
            self.stats.first_packet_at = Some(now);
            self.events.push_back(SessionEvent::FirstPacket);
        }
        self.count_in(now, data.len());

        if is_audio && self.audio_ssrc != Some(header.ssrc) {
            self.audio_ssrc = Some(header.ssrc);
            self.seq.restart(header.sequence);
        } else if self.audio_ssrc == Some(header.ssrc) {
            match self.seq.update(header.sequence) {
                SeqUpdate::InOrder | SeqUpdate::Restart => {}
                SeqUpdate::Old | SeqUpdate::Jump if is_audio => {
                    self.stats.late += 1;
                    return Inbound::Ignored(IgnoreReason::Late);
                }
                SeqUpdate::Old | SeqUpdate::Jump => {}
            }
        }

        if is_audio {
            let arrival = self.rtp_clock(now);
            self.seq.update_jitter(header.timestamp, arrival);
            self.decode(packet.payload, &mut on_audio);
            Inbound::Audio
        } else {
            if self.dtmf_ssrc != Some(header.ssrc) {
                self.dtmf_ssrc = Some(header.ssrc);
                self.dtmf_rx.reset();
            }
            let digit = self.dtmf_rx.on_packet(header.timestamp, packet.payload);
            if let Some(digit) = digit {
                self.stats.dtmf_in += 1;
                self.events.push_back(SessionEvent::Dtmf(digit));
            }
            Inbound::Dtmf(digit)
        }
    }

    /// Processes a datagram received on the RTCP port (or multiplexed on the RTP port):
    /// remembers the last sender report for LSR/DLSR and where reports come from.
    pub fn handle_rtcp(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let Some((parts, count)) = rtcp::parse_compound(data) else {
            self.stats.malformed += 1;
            return;
        };
        if self.latched.is_some_and(|source| source.ip() != from.ip()) {
            self.stats.wrong_source += 1;
            return;
        }
        self.stats.rtcp_in += 1;
        self.rtcp_source.get_or_insert(from);
        for part in parts.iter().take(count).flatten() {
            if let (RtcpKind::SenderReport, Some(ntp)) = (part.kind, part.ntp_middle)
                && Some(part.ssrc) == self.audio_ssrc
            {
                self.last_sr = Some((ntp, now));
            }
        }
    }

    fn count_in(&mut self, now: Instant, len: usize) {
        self.stats.packets_in += 1;
        self.stats.bytes_in += len as u64;
        self.stats.last_packet_at = Some(now);
    }

    /// `now` in 8 kHz units since the session started (wrapping).
    pub(super) fn rtp_clock(&self, now: Instant) -> u32 {
        let micros = now.saturating_duration_since(self.start).as_micros();
        (micros * 8 / 1000) as u32
    }

    fn decode(&mut self, payload: &[u8], on_audio: &mut impl FnMut(&[i16])) {
        let decode: fn(u8) -> i16 = match self.negotiated.codec {
            Codec::Pcmu => g711::ulaw_decode,
            Codec::Pcma => g711::alaw_decode,
        };
        for &code in payload {
            self.rx_frame[self.rx_fill] = decode(code);
            self.rx_fill += 1;
            if self.rx_fill == FRAME_SAMPLES {
                self.rx_fill = 0;
                on_audio(&self.rx_frame);
            }
        }
    }
}
