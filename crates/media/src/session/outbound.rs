//! Outbound half of [`RtpSession`]: the 20 ms pacer and RTCP receiver reports.
//!
//! Every 20 ms tick produces one frame from the highest-priority source — DTMF being sent,
//! queued agent audio, the prompt/tone being played, else G.711 silence — and, unless the
//! remote does not want media (hold), one packet. The RTP timestamp advances 160 per tick
//! whether or not a packet is sent, and the sequence number by one per packet sent, so both
//! stay continuous across sources. A DTMF event's packets carry the event's start timestamp
//! (RFC 4733 §2.5.1). The marker bit is set on the first packet, the first audio packet
//! after silence or DTMF, and the first packet after a hold or a stall.
//!
//! If the caller polls late the due ticks are emitted back to back (a burst), up to
//! [`MAX_BURST_TICKS`]; a longer stall (a suspended process) skips the missed ticks — the
//! timestamp jumps by the time missed, the marker is set — instead of flooding the peer.

use std::time::Instant;

use super::{FRAME_SAMPLES, PTIME, RtpSession, SessionEvent, Transmit};
use crate::g711;
use crate::rtcp;
use crate::rtp::{self, HEADER_LEN, RtpHeader};
use crate::sdp::Codec;

/// Most overdue ticks sent back to back before the pacer skips ahead.
pub const MAX_BURST_TICKS: u32 = 5;

/// What one tick sends.
enum Frame {
    Dtmf {
        payload: [u8; crate::dtmf::PAYLOAD_LEN],
        marker: bool,
        timestamp: u32,
    },
    /// Real audio in `tx_frame`.
    Audio,
    Silence,
}

impl RtpSession {
    /// Writes the next due packet into `buf` (which needs [`MAX_PACKET_LEN`] bytes) and
    /// says where to send it; `None` when no packet is due at `now`. Call it every 20 ms,
    /// in a loop until it returns `None`.
    ///
    /// [`MAX_PACKET_LEN`]: super::MAX_PACKET_LEN
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        loop {
            if now < self.next_tick {
                return None;
            }
            let overdue = now.duration_since(self.next_tick);
            if overdue >= PTIME * MAX_BURST_TICKS {
                let missed = (overdue.as_micros() / PTIME.as_micros()) as u32;
                self.next_tick += PTIME * missed;
                self.next_ts = self
                    .next_ts
                    .wrapping_add(missed.wrapping_mul(FRAME_SAMPLES as u32));
                self.marker_pending = true;
            }
            let timestamp = self.next_ts;
            self.next_ts = self.next_ts.wrapping_add(FRAME_SAMPLES as u32);
            self.next_tick += PTIME;

            let frame = self.next_frame(timestamp);
            self.collect_marks();
            let destination = self.latched.or(self.negotiated.remote_rtp);
            let Some(to) = destination.filter(|_| self.negotiated.may_send()) else {
                self.marker_pending = true;
                self.in_talkspurt = false;
                continue;
            };
            if let Some(len) = self.write_frame(frame, timestamp, buf) {
                self.stats.packets_out += 1;
                self.stats.bytes_out += len as u64;
                return Some(Transmit { len, to });
            }
        }
    }

    /// Writes an RTCP receiver report into `buf` (64 bytes suffice) when one is due, with
    /// its destination: where RTCP comes from, else the RTP source's port + 1, else the SDP.
    pub fn poll_rtcp(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if now < self.next_rtcp {
            return None;
        }
        self.next_rtcp = now + self.config.rtcp_interval;
        let to = self
            .rtcp_source
            .or_else(|| {
                self.latched.and_then(|rtp| {
                    let port = rtp.port().checked_add(1)?;
                    Some(std::net::SocketAddr::new(rtp.ip(), port))
                })
            })
            .or(self.negotiated.remote_rtcp)?;
        let block = self.audio_ssrc.map(|ssrc| {
            let mut block = self.seq.report(ssrc);
            if let Some((ntp, at)) = self.last_sr {
                block.last_sr = ntp;
                let delay = now.saturating_duration_since(at);
                block.delay_since_last_sr = (delay.as_micros() * 65536 / 1_000_000) as u32;
            }
            block
        });
        let len = rtcp::write_receiver_report(self.ssrc, block.as_ref(), buf)?;
        self.stats.rtcp_out += 1;
        Some(Transmit { len, to })
    }

    /// Reports the marks whose audio has been consumed.
    pub(super) fn collect_marks(&mut self) {
        while let Some(id) = self.queue.pop_due_mark() {
            self.events.push_back(SessionEvent::MarkPlayed(id));
        }
    }

    /// The next 20 ms: a DTMF event, else the agent's queued audio, a prompt or silence,
    /// with the room's other callers mixed on top.
    fn next_frame(&mut self, timestamp: u32) -> Frame {
        if let Some(frame) = self.next_dtmf(timestamp) {
            self.live.skip_frame();
            return frame;
        }
        let own = self.next_own_frame();
        if self.live.sources() == 0 {
            return own;
        }
        if matches!(own, Frame::Silence) {
            self.tx_frame.fill(0);
        }
        if self.live.mix_into(&mut self.tx_frame) {
            Frame::Audio
        } else {
            own
        }
    }

    fn next_own_frame(&mut self) -> Frame {
        if self.queue.take_frame(&mut self.tx_frame) > 0 {
            return Frame::Audio;
        }
        if let Some((samples, position)) = self.playback {
            let rest = samples.get(position..).unwrap_or(&[]);
            let n = rest.len().min(FRAME_SAMPLES);
            self.tx_frame[..n].copy_from_slice(&rest[..n]);
            self.tx_frame[n..].fill(0);
            if position + n >= samples.len() {
                self.playback = self.playlist.pop_front().map(|next| (next, 0));
                self.events.push_back(SessionEvent::PlaybackDone);
            } else {
                self.playback = Some((samples, position + n));
            }
            if n > 0 {
                return Frame::Audio;
            }
        }
        Frame::Silence
    }

    fn next_dtmf(&mut self, timestamp: u32) -> Option<Frame> {
        if self.dtmf_tx.is_none() {
            if self.dtmf_gap > 0 {
                self.dtmf_gap -= 1;
                return None;
            }
            let digit = self.dtmf_pending.pop_front()?;
            self.dtmf_tx = crate::dtmf::DtmfSender::new(
                digit,
                timestamp,
                FRAME_SAMPLES as u16,
                self.config.dtmf_duration,
            );
            self.stats.dtmf_out += 1;
        }
        let sender = self.dtmf_tx.as_mut()?;
        let event_timestamp = sender.timestamp();
        match sender.next() {
            Some((payload, marker)) => Some(Frame::Dtmf {
                payload,
                marker,
                timestamp: event_timestamp,
            }),
            None => {
                self.dtmf_tx = None;
                self.dtmf_gap = self.config.dtmf_gap_ticks.saturating_sub(1);
                None
            }
        }
    }

    fn write_frame(&mut self, frame: Frame, timestamp: u32, buf: &mut [u8]) -> Option<usize> {
        let mut header = RtpHeader {
            marker: false,
            payload_type: self.negotiated.payload_type,
            sequence: self.next_seq,
            timestamp,
            ssrc: self.ssrc,
        };
        let len = match frame {
            Frame::Dtmf {
                payload,
                marker,
                timestamp,
            } => {
                header.payload_type = self.negotiated.dtmf_payload_type?;
                header.timestamp = timestamp;
                header.marker = marker;
                self.in_talkspurt = false;
                rtp::write_packet(&header, &payload, buf).ok()?
            }
            Frame::Audio => {
                header.marker = self.marker_pending || !self.in_talkspurt;
                let out = buf.get_mut(HEADER_LEN..HEADER_LEN + FRAME_SAMPLES)?;
                match self.negotiated.codec {
                    Codec::Pcmu => g711::encode_ulaw(&self.tx_frame, out),
                    Codec::Pcma => g711::encode_alaw(&self.tx_frame, out),
                };
                rtp::write_header(&header, buf).ok()?;
                self.in_talkspurt = true;
                HEADER_LEN + FRAME_SAMPLES
            }
            Frame::Silence => {
                header.marker = self.marker_pending;
                buf.get_mut(HEADER_LEN..HEADER_LEN + FRAME_SAMPLES)?
                    .fill(self.negotiated.codec.silence());
                rtp::write_header(&header, buf).ok()?;
                self.in_talkspurt = false;
                HEADER_LEN + FRAME_SAMPLES
            }
        };
        self.marker_pending = false;
        self.next_seq = self.next_seq.wrapping_add(1);
        Some(len)
    }
}
