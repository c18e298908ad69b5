//! The caller's media, sans-I/O: the SDP offer and reading the answer, the RTP sender (audio
//! from a WAV or silence, G.711, 20 ms packets, RFC 4733 DTMF events in place of audio) and
//! the RTP receiver (decoding what the far end sends into a recording, with its DTMF).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use switchboard_media::dtmf::{DtmfReceiver, DtmfSender};
use switchboard_media::g711;
use switchboard_media::rtp::{self, RtpHeader, RtpPacket};
use switchboard_media::sdp::{self, Codec, SessionDescription};

/// Samples per 20 ms packet at 8 kHz.
pub const FRAME: usize = 160;
/// Payload type we offer for telephone-event.
pub const DTMF_PT: u8 = 101;
/// How long each DTMF digit lasts (timestamp units at 8 kHz: 100 ms) and the pause after it.
const DIGIT_DURATION: u16 = 800;
const DIGIT_GAP_FRAMES: usize = 5;
/// The longest gap filled with silence in a recording (2 s); beyond it the stream is
/// assumed to have restarted.
const MAX_GAP: u32 = 16_000;
/// The longest recording kept in memory (one hour at 8 kHz).
const MAX_RECORDING: usize = 8000 * 3600;

/// Our SDP offer: PCMU, PCMA and telephone-event on `ip:port`.
pub fn offer(ip: IpAddr, port: u16, session_id: u64) -> String {
    let at = if ip.is_ipv6() { "IP6" } else { "IP4" };
    format!(
        "v=0\r\no=switchboard-call {session_id} 1 IN {at} {ip}\r\ns=switchboard call\r\n\
         c=IN {at} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 {DTMF_PT}\r\n\
         a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:{DTMF_PT} telephone-event/8000\r\na=fmtp:{DTMF_PT} 0-16\r\n\
         a=ptime:20\r\na=sendrecv\r\n"
    )
}

/// What the answer chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub codec: Codec,
    pub payload_type: u8,
    /// The telephone-event payload type, if the answer kept it.
    pub dtmf_payload_type: Option<u8>,
    pub remote: SocketAddr,
}

/// Reads the SDP answer; an error says what was wrong with it.
pub fn read_answer(body: &[u8]) -> Result<Answer, String> {
    if body.is_empty() {
        return Err("the 200 OK has no SDP answer".into());
    }
    let parsed = SessionDescription::parse(body)
        .map_err(|e| format!("the SDP answer cannot be parsed: {e:?}"))?;
    let n = sdp::negotiate(&parsed, &[Codec::Pcmu, Codec::Pcma])
        .map_err(|e| format!("the SDP answer is not usable: {e:?}"))?;
    let remote = n
        .remote_rtp
        .ok_or("the SDP answer gives no address to send audio to")?;
    Ok(Answer {
        codec: n.codec,
        payload_type: n.payload_type,
        dtmf_payload_type: n.dtmf_payload_type,
        remote,
    })
}

/// Produces one RTP packet per 20 ms tick: the WAV's audio, then silence; queued DTMF digits
/// replace the audio while they play.
#[derive(Debug)]
pub struct Sender {
    answer: Answer,
    audio: Vec<i16>,
    position: usize,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    digits: VecDeque<char>,
    current: Option<DtmfSender>,
    gap: usize,
    pub packets: u64,
    pub digits_sent: String,
}

impl Sender {
    pub fn new(
        answer: Answer,
        audio: Vec<i16>,
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
    ) -> Sender {
        Sender {
            answer,
            audio,
            position: 0,
            sequence,
            timestamp,
            ssrc,
            digits: VecDeque::new(),
            current: None,
            gap: 0,
            packets: 0,
            digits_sent: String::new(),
        }
    }

    /// Queues digits (sent when the answer accepted telephone-event; otherwise ignored and
    /// reported by [`can_send_dtmf`](Self::can_send_dtmf)).
    pub fn queue_dtmf(&mut self, digits: &str) {
        self.digits.extend(digits.chars());
    }

    pub fn can_send_dtmf(&self) -> bool {
        self.answer.dtmf_payload_type.is_some()
    }

    /// Whether the WAV has been sent entirely and no digit is waiting.
    pub fn finished(&self) -> bool {
        self.position >= self.audio.len() && self.digits.is_empty() && self.current.is_none()
    }

    /// The next packet, written into `out`; returns its length.
    pub fn next_packet(&mut self, out: &mut [u8; 512]) -> usize {
        let len = self
            .dtmf_packet(out)
            .unwrap_or_else(|| self.audio_packet(out));
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME as u32);
        self.packets += 1;
        len
    }

    fn dtmf_packet(&mut self, out: &mut [u8; 512]) -> Option<usize> {
        let pt = self.answer.dtmf_payload_type?;
        if self.current.is_none() {
            if self.gap > 0 {
                self.gap -= 1;
                return None;
            }
            let digit = self.digits.pop_front()?;
            self.current = DtmfSender::new(digit, self.timestamp, FRAME as u16, DIGIT_DURATION);
            if self.current.is_some() {
                self.digits_sent.push(digit);
            }
        }
        let sender = self.current.as_mut()?;
        let event_ts = sender.timestamp();
        let Some((payload, marker)) = sender.next() else {
            self.current = None;
            self.gap = DIGIT_GAP_FRAMES;
            return None;
        };
        let header = RtpHeader {
            marker,
            payload_type: pt,
            sequence: self.sequence,
            timestamp: event_ts,
            ssrc: self.ssrc,
        };
        rtp::write_packet(&header, &payload, out).ok()
    }

    fn audio_packet(&mut self, out: &mut [u8; 512]) -> usize {
        let header = RtpHeader {
            marker: self.packets == 0,
            payload_type: self.answer.payload_type,
            sequence: self.sequence,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
        };
        let mut pcm = [0i16; FRAME];
        let end = (self.position + FRAME).min(self.audio.len());
        let n = end.saturating_sub(self.position);
        pcm[..n].copy_from_slice(&self.audio[self.position..end]);
        self.position = end.max(self.position);
        // The header fits: the buffer is 512 bytes.
        let _ = rtp::write_header(&header, out);
        let payload = &mut out[rtp::HEADER_LEN..rtp::HEADER_LEN + FRAME];
        match self.answer.codec {
            Codec::Pcmu => g711::encode_ulaw(&pcm, payload),
            Codec::Pcma => g711::encode_alaw(&pcm, payload),
        };
        rtp::HEADER_LEN + FRAME
    }
}

/// Decodes the far end's RTP into a recording (8 kHz PCM16), placing each packet by its
/// timestamp: gaps up to 2 s become silence, late and repeated packets are dropped.
#[derive(Debug)]
pub struct Receiver {
    answer: Answer,
    pub recording: Vec<i16>,
    /// The timestamp the next sample of the recording has.
    next_ts: Option<u32>,
    ssrc: Option<u32>,
    dtmf: DtmfReceiver,
    pub packets: u64,
    pub invalid: u64,
    pub digits: String,
}

impl Receiver {
    pub fn new(answer: Answer) -> Receiver {
        Receiver {
            answer,
            recording: Vec::new(),
            next_ts: None,
            ssrc: None,
            dtmf: DtmfReceiver::new(),
            packets: 0,
            invalid: 0,
            digits: String::new(),
        }
    }

    /// One datagram from the media socket.
    pub fn on_datagram(&mut self, data: &[u8]) {
        if rtp::looks_like_rtcp(data) {
            return;
        }
        let Ok(packet) = RtpPacket::parse(data) else {
            self.invalid += 1;
            return;
        };
        let h = packet.header;
        if self.ssrc != Some(h.ssrc) {
            // A new stream: resynchronise.
            self.ssrc = Some(h.ssrc);
            self.next_ts = None;
            self.dtmf.reset();
        }
        if Some(h.payload_type) == self.answer.dtmf_payload_type
            || (h.payload_type != self.answer.payload_type && packet.payload.len() == 4)
        {
            if let Some(d) = self.dtmf.on_packet(h.timestamp, packet.payload) {
                self.digits.push(d);
            }
            self.packets += 1;
            return;
        }
        if h.payload_type != self.answer.payload_type {
            self.invalid += 1;
            return;
        }
        self.packets += 1;
        let samples = packet.payload.len().min(FRAME * 12);
        let mut pcm = [0i16; FRAME * 12];
        let pcm = &mut pcm[..samples];
        match self.answer.codec {
            Codec::Pcmu => g711::decode_ulaw(&packet.payload[..samples], pcm),
            Codec::Pcma => g711::decode_alaw(&packet.payload[..samples], pcm),
        };
        if let Some(next) = self.next_ts {
            let ahead = h.timestamp.wrapping_sub(next);
            if ahead > u32::MAX / 2 {
                // Behind: late or repeated.
                return;
            }
            if ahead > MAX_GAP {
                self.next_ts = None;
            } else {
                let fill = ahead as usize;
                self.push(&vec![0; fill]);
            }
        }
        self.push(pcm);
        self.next_ts = Some(h.timestamp.wrapping_add(samples as u32));
    }

    fn push(&mut self, samples: &[i16]) {
        let room = MAX_RECORDING.saturating_sub(self.recording.len());
        self.recording
            .extend_from_slice(&samples[..samples.len().min(room)]);
    }
}

/// The strongest frequency (Hz, 10 Hz steps from 100 Hz to 3.9 kHz) in the audible part of
/// `pcm` (8 kHz), or `None` when it is silent. A Hann-windowed Goertzel scan over 100 ms
/// blocks; blocks quieter than about -50 dBFS are skipped.
pub fn dominant_frequency(pcm: &[i16]) -> Option<f64> {
    const BLOCK: usize = 800;
    const MAX_BLOCKS: usize = 600;
    let freqs: Vec<f64> = (10..=390).map(|k| f64::from(k) * 10.0).collect();
    let window: Vec<f64> = (0..BLOCK)
        .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / BLOCK as f64).cos())
        .collect();
    let mut power = vec![0.0f64; freqs.len()];
    let mut used = 0;
    for block in pcm.chunks_exact(BLOCK) {
        let rms = (block.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / BLOCK as f64).sqrt();
        if rms < 100.0 {
            continue;
        }
        used += 1;
        if used > MAX_BLOCKS {
            break;
        }
        let x: Vec<f64> = block
            .iter()
            .zip(&window)
            .map(|(&s, w)| f64::from(s) * w)
            .collect();
        for (f, p) in freqs.iter().zip(power.iter_mut()) {
            *p += goertzel(&x, *f, 8000.0);
        }
    }
    if used == 0 {
        return None;
    }
    let (i, _) = power.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    Some(freqs[i])
}

/// Power of `x` at `freq` (Goertzel).
fn goertzel(x: &[f64], freq: f64, rate: f64) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / rate).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                ((2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin() * 8000.0) as i16
            })
            .collect()
    }

    fn answer(dtmf: Option<u8>) -> Answer {
        Answer {
            codec: Codec::Pcmu,
            payload_type: 0,
            dtmf_payload_type: dtmf,
            remote: "127.0.0.1:4000".parse().unwrap(),
        }
    }

    #[test]
    fn finds_the_dominant_frequency() {
        assert_eq!(dominant_frequency(&tone(1000.0, 8000)), Some(1000.0));
        assert_eq!(dominant_frequency(&tone(440.0, 8000)), Some(440.0));
        let f = dominant_frequency(&tone(437.0, 8000)).unwrap();
        assert!((f - 437.0).abs() <= 10.0, "{f}");
        assert_eq!(dominant_frequency(&vec![0; 8000]), None);
        assert_eq!(dominant_frequency(&[]), None);
    }

    #[test]
    fn offer_and_answer() {
        let o = offer("127.0.0.1".parse().unwrap(), 4000, 7);
        let a = read_answer(o.as_bytes()).unwrap();
        assert_eq!(a.codec, Codec::Pcmu);
        assert_eq!(a.dtmf_payload_type, Some(DTMF_PT));
        assert_eq!(a.remote, "127.0.0.1:4000".parse().unwrap());
        assert!(read_answer(b"").is_err());
        assert!(read_answer(b"garbage\r\n").is_err());
        assert!(read_answer(b"v=0\r\nm=audio 4000 RTP/AVP 18\r\nc=IN IP4 1.2.3.4\r\n").is_err());
    }

    #[test]
    fn audio_round_trips_through_sender_and_receiver() {
        let input = tone(1000.0, 8000);
        let mut tx = Sender::new(answer(Some(DTMF_PT)), input.clone(), 42, 100, 1000);
        let mut rx = Receiver::new(answer(Some(DTMF_PT)));
        let mut buf = [0u8; 512];
        let mut n = 0;
        while !tx.finished() {
            let len = tx.next_packet(&mut buf);
            rx.on_datagram(&buf[..len]);
            n += 1;
        }
        assert_eq!(n, 50);
        assert_eq!(rx.recording.len(), 8000);
        assert_eq!(dominant_frequency(&rx.recording), Some(1000.0));
        assert_eq!(rx.packets, 50);
    }

    #[test]
    fn dtmf_digits_are_sent_and_recognised() {
        let mut tx = Sender::new(answer(Some(DTMF_PT)), Vec::new(), 42, 0, 0);
        tx.queue_dtmf("12#");
        let mut rx = Receiver::new(answer(Some(DTMF_PT)));
        let mut buf = [0u8; 512];
        for _ in 0..100 {
            let len = tx.next_packet(&mut buf);
            rx.on_datagram(&buf[..len]);
        }
        assert!(tx.finished());
        assert_eq!(tx.digits_sent, "12#");
        assert_eq!(rx.digits, "12#");
    }

    #[test]
    fn the_receiver_survives_hostile_packets() {
        let mut rx = Receiver::new(answer(Some(DTMF_PT)));
        for junk in [
            &[][..],
            &[0x80][..],
            &[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1][..],
            &[0xBF, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF][..],
            &[0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xFF, 0xFF][..],
            &[0x40; 40][..],
        ] {
            rx.on_datagram(junk);
        }
        // A huge timestamp jump does not allocate gigabytes.
        let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[0xFF; 160]);
        rx.on_datagram(&p);
        p[4..8].copy_from_slice(&0x7FFF_FFFFu32.to_be_bytes());
        rx.on_datagram(&p);
        assert!(rx.recording.len() <= 320);
        // A stale packet is dropped.
        p[4..8].copy_from_slice(&0x7FFF_0000u32.to_be_bytes());
        rx.on_datagram(&p);
        assert!(rx.recording.len() <= 320);
    }
}
