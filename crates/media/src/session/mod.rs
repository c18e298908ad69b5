//! The sans-I/O RTP session of one call.
//!
//! [`RtpSession`] is fed datagrams ([`handle_packet`](RtpSession::handle_packet)) and the
//! time, and is polled for packets to send ([`poll_transmit`](RtpSession::poll_transmit),
//! [`poll_rtcp`](RtpSession::poll_rtcp)), events ([`poll_event`](RtpSession::poll_event))
//! and its next deadline ([`poll_timeout`](RtpSession::poll_timeout)). It never reads a
//! clock or touches a socket.
//!
//! - Inbound (`inbound.rs`): symmetric-RTP latching, routing by payload type (audio → G.711
//!   decode into 160-sample frames lent to a callback; telephone-event → DTMF digits;
//!   anything else ignored and counted), loss and jitter statistics.
//! - Outbound (`outbound.rs`): a 20 ms pacer emitting exactly one packet per tick with
//!   continuous sequence numbers and timestamps. Sources by priority: DTMF being sent,
//!   queued audio (with marks), a prompt or tone, then silence — it never stops sending
//!   unless the caller has put us on hold.
//! - Timers: media timeout (no packet for 15 s after the first, or none in 30 s).

mod inbound;
mod outbound;
mod playout;
mod seq;
mod stats;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::dtmf::{DtmfReceiver, DtmfSender};
use crate::live_mix::LiveMix;
use crate::prompt::Prompt;
use crate::sdp::Negotiated;
use crate::tone::Tone;

pub use inbound::{IgnoreReason, Inbound};
pub use playout::{MAX_MARKS, PcmQueue};
pub use seq::{SeqTracker, SeqUpdate};
pub use stats::MediaStats;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// The packetization interval.
pub const PTIME: Duration = Duration::from_millis(20);
/// Largest RTP packet the session writes (header + 160 bytes of G.711).
pub const MAX_PACKET_LEN: usize = crate::rtp::HEADER_LEN + FRAME_SAMPLES;
/// Most digits waiting to be sent.
pub const MAX_PENDING_DIGITS: usize = 32;
/// Most prompts/tones waiting to be played after the current one.
pub const MAX_PLAYLIST: usize = 8;

/// Media timeouts (LiveKit's defaults: 15 s after media started, 30 s before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// No packet for this long after the first one → [`SessionEvent::Timeout`].
    pub media: Duration,
    /// No packet at all this long after start → [`SessionEvent::Timeout`].
    pub initial: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            media: Duration::from_secs(15),
            initial: Duration::from_secs(30),
        }
    }
}

/// Session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Media timeouts.
    pub timeouts: Timeouts,
    /// Capacity of the outbound audio queue, in samples (default 60 s).
    pub queue_capacity: usize,
    /// Interval between RTCP receiver reports.
    pub rtcp_interval: Duration,
    /// Length of a DTMF tone we send, in 8 kHz units (default 1600 = 200 ms).
    pub dtmf_duration: u16,
    /// Pause after each digit we send, in 20 ms ticks (default 5 = 100 ms).
    pub dtmf_gap_ticks: u8,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            timeouts: Timeouts::default(),
            queue_capacity: 60 * 8000,
            rtcp_interval: Duration::from_secs(5),
            dtmf_duration: 1600,
            dtmf_gap_ticks: 5,
        }
    }
}

/// Something the call layer should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// The first RTP packet arrived (and the session latched to its source).
    FirstPacket,
    /// A DTMF digit was received.
    Dtmf(char),
    /// The prompt or tone being played has been sent entirely.
    PlaybackDone,
    /// The audio queued before this mark has been sent (or cleared).
    MarkPlayed(u64),
    /// No media for too long.
    Timeout,
}

/// A datagram to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Bytes written at the start of the caller's buffer.
    pub len: usize,
    /// Destination.
    pub to: SocketAddr,
}

/// Something to play once: a prompt, a tone, or any static audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Playable(pub &'static [i16]);

impl From<Prompt> for Playable {
    fn from(prompt: Prompt) -> Self {
        Playable(prompt.samples())
    }
}

impl From<Tone> for Playable {
    fn from(tone: Tone) -> Self {
        Playable(tone.samples())
    }
}

impl From<&'static [i16]> for Playable {
    fn from(samples: &'static [i16]) -> Self {
        Playable(samples)
    }
}

/// The RTP session of one call. See the [module documentation](self).
#[derive(Debug)]
pub struct RtpSession {
    negotiated: Negotiated,
    config: SessionConfig,
    start: Instant,
    events: VecDeque<SessionEvent>,
    stats: MediaStats,

    // Inbound.
    latched: Option<SocketAddr>,
    rtcp_source: Option<SocketAddr>,
    audio_ssrc: Option<u32>,
    seq: SeqTracker,
    dtmf_rx: DtmfReceiver,
    dtmf_ssrc: Option<u32>,
    rx_frame: [i16; FRAME_SAMPLES],
    rx_fill: usize,
    last_sr: Option<(u32, Instant)>,

    // Outbound.
    ssrc: u32,
    next_seq: u16,
    /// RTP timestamp of the next tick.
    next_ts: u32,
    next_tick: Instant,
    /// The next packet starts a talkspurt (first packet, after silence, hold or a stall).
    marker_pending: bool,
    /// The last packet sent carried real audio (not silence, not DTMF).
    in_talkspurt: bool,
    queue: PcmQueue,
    playback: Option<(&'static [i16], usize)>,
    playlist: VecDeque<&'static [i16]>,
    dtmf_tx: Option<DtmfSender>,
    dtmf_pending: VecDeque<char>,
    dtmf_gap: u8,
    tx_frame: [i16; FRAME_SAMPLES],
    /// The other callers of the room, mixed on top of what we send.
    live: LiveMix,
    next_rtcp: Instant,

    // Timers.
    timeout_base: Instant,
    timed_out: bool,
}

impl RtpSession {
    /// A session for a negotiated call starting at `now`; the SSRC and the initial sequence
    /// number and timestamp are drawn from `rng` (seed it for reproducible tests).
    pub fn new(
        negotiated: Negotiated,
        config: SessionConfig,
        now: Instant,
        rng: &mut impl Rng,
    ) -> RtpSession {
        RtpSession {
            negotiated,
            config,
            start: now,
            events: VecDeque::with_capacity(16),
            stats: MediaStats::default(),
            latched: None,
            rtcp_source: None,
            audio_ssrc: None,
            seq: SeqTracker::default(),
            dtmf_rx: DtmfReceiver::new(),
            dtmf_ssrc: None,
            rx_frame: [0; FRAME_SAMPLES],
            rx_fill: 0,
            last_sr: None,
            ssrc: rng.random(),
            next_seq: rng.random(),
            next_ts: rng.random(),
            next_tick: now,
            marker_pending: true,
            in_talkspurt: false,
            queue: PcmQueue::new(config.queue_capacity),
            playback: None,
            playlist: VecDeque::with_capacity(MAX_PLAYLIST),
            dtmf_tx: None,
            dtmf_pending: VecDeque::with_capacity(MAX_PENDING_DIGITS),
            dtmf_gap: 0,
            tx_frame: [0; FRAME_SAMPLES],
            live: LiveMix::new(),
            next_rtcp: now + config.rtcp_interval,
            timeout_base: now,
            timed_out: false,
        }
    }

    /// The negotiation currently in force.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The source the session latched to, if any.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Applies a new negotiation (re-INVITE: hold, resume, new address or codec). A new
    /// remote address drops the latch so the next packet latches again; the media timeout
    /// restarts.
    pub fn set_remote(&mut self, negotiated: Negotiated, now: Instant) {
        if negotiated.remote_rtp.is_some() && negotiated.remote_rtp != self.negotiated.remote_rtp {
            self.latched = None;
            self.rtcp_source = None;
        }
        if negotiated.may_send() && !self.negotiated.may_send() {
            self.marker_pending = true;
        }
        if negotiated.dtmf_payload_type.is_none() {
            self.dtmf_pending.clear();
            self.dtmf_tx = None;
        }
        self.negotiated = negotiated;
        self.timeout_base = now;
        self.timed_out = false;
    }

    /// Appends agent audio (8 kHz PCM16) to the outbound queue; returns how many samples
    /// fit (the rest is dropped and counted).
    pub fn enqueue_pcm(&mut self, pcm: &[i16]) -> usize {
        self.queue.enqueue(pcm)
    }

    /// Adds 8 kHz audio of another caller of the room (`source` tells callers apart); it
    /// is mixed into what we send, on top of agent audio and prompts, and is not touched by
    /// [`clear`](Self::clear) or marks. See [`crate::live_mix`].
    pub fn push_live(&mut self, source: u64, pcm: &[i16]) {
        self.live.push(source, pcm);
    }

    /// Forgets a caller mixed in by [`push_live`](Self::push_live) (it left the room).
    pub fn remove_live(&mut self, source: u64) {
        self.live.remove(source);
    }

    /// Drops the queued agent audio (barge-in); pending marks are reported.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.collect_marks();
    }

    /// Places a mark after the audio queued so far; [`SessionEvent::MarkPlayed`] follows
    /// once that audio has been sent.
    pub fn mark(&mut self, id: u64) {
        if !self.queue.mark(id) {
            self.events.push_back(SessionEvent::MarkPlayed(id));
        }
    }

    /// Samples waiting in the outbound queue.
    pub fn queued_samples(&self) -> usize {
        self.queue.len()
    }

    /// Plays a prompt, tone or static audio once, after those already playing or waiting
    /// (so "invalid PIN" then "enter PIN" play in order); [`SessionEvent::PlaybackDone`]
    /// follows each one. Queued agent audio takes priority. Returns `false` (and plays
    /// nothing) if [`MAX_PLAYLIST`] items are already waiting.
    pub fn play(&mut self, playable: impl Into<Playable>) -> bool {
        let samples = playable.into().0;
        if self.playback.is_none() {
            self.playback = Some((samples, 0));
        } else if self.playlist.len() < MAX_PLAYLIST {
            self.playlist.push_back(samples);
        } else {
            return false;
        }
        true
    }

    /// Stops the prompt or tone being played and drops those waiting (no
    /// [`SessionEvent::PlaybackDone`] for them).
    pub fn stop_playback(&mut self) {
        self.playback = None;
        self.playlist.clear();
    }

    /// Whether a prompt or tone is being played or waiting.
    pub fn is_playing(&self) -> bool {
        self.playback.is_some()
    }

    /// Whether there is nothing to send but silence: no prompt or tone, no agent audio, no
    /// DTMF.
    pub fn is_idle(&self) -> bool {
        self.playback.is_none()
            && self.queue.is_empty()
            && self.dtmf_tx.is_none()
            && self.dtmf_pending.is_empty()
    }

    /// Queues a DTMF digit to send as RFC 4733 events. Returns `false` if the digit is not
    /// a DTMF digit, no telephone-event payload type was negotiated, or
    /// [`MAX_PENDING_DIGITS`] are already waiting.
    pub fn send_dtmf(&mut self, digit: char) -> bool {
        if self.negotiated.dtmf_payload_type.is_none()
            || crate::dtmf::digit_to_event(digit).is_none()
            || self.dtmf_pending.len() >= MAX_PENDING_DIGITS
        {
            return false;
        }
        self.dtmf_pending.push_back(digit);
        true
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// The next instant something is due: a packet, an RTCP report, or the media timeout.
    pub fn poll_timeout(&self) -> Instant {
        let mut next = self.next_tick.min(self.next_rtcp);
        if let Some(deadline) = self.timeout_deadline() {
            next = next.min(deadline);
        }
        next
    }

    /// Checks the media timeout; raises [`SessionEvent::Timeout`] once when it passes.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.timeout_deadline()
            && now >= deadline
        {
            self.timed_out = true;
            self.stats.timeouts += 1;
            self.events.push_back(SessionEvent::Timeout);
        }
    }

    fn timeout_deadline(&self) -> Option<Instant> {
        if self.timed_out || !self.negotiated.expects_media() {
            return None;
        }
        Some(match self.stats.last_packet_at {
            Some(last) => last.max(self.timeout_base) + self.config.timeouts.media,
            None => self.timeout_base + self.config.timeouts.initial,
        })
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MediaStats {
        MediaStats {
            lost: self.seq.lost(),
            jitter: self.seq.jitter(),
            dropped_samples: self.queue.dropped(),
            ..self.stats
        }
    }
}
